/*-------------------------------------------------------------------------
 *
 * watchdog.c
 *		The watchdog: a background worker that closes the buckets of the
 *		history and, in log mode (timeout_action = log), reports the sessions
 *		idle in transaction, or holding a transaction open, past the limits
 *		that timeout_rules and the default timeouts give them.
 *
 * In terminate mode each backend enforces its own limits (enforce.c) and
 * the worker leaves the sessions alone.  In log mode the worker reads the
 * backend slots (each under its spinlock), computes every session's
 * deadlines and sleeps until the nearest one, never longer than
 * watchdog_naptime nor than the smallest configured limit (so that a gap
 * that starts while it sleeps is still caught in time).  A session's limits
 * are matched against the rules once per change of its names, not at every
 * pass.  Before it reports a session it checks, under the slot's spinlock,
 * that the session is still in the same transaction (and the same idle
 * gap), and marks the transaction there, so that each is reported once; it
 * logs the report and adds it to the event ring behind
 * pg_stat_transactions_timeouts.  It ends nothing.
 *
 * The worker also closes the buckets of the history (history.c) at their
 * boundaries, one more deadline it sleeps toward.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/watchdog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "enforce.h"
#include "history.h"
#include "postgres_extension.h"
#include "rules.h"
#include "store.h"
#include "watchdog.h"

/* Shortest sleep of the worker, in ms. */
#define MIN_SLEEP_MS	10

/*---- GUC variables ----*/
int			pgxt_watchdog_naptime_ms = 1000;

/*
 * A session's limits as last matched, per slot: valid while the slot
 * holds the same backend with the same names, and no reload happened.
 */
typedef struct SlotLimits
{
	int			pid;
	uint64		names_version;
	uint64		generation;
	PgxtLimits	limits;
} SlotLimits;

static SlotLimits *slot_limits = NULL;
static uint64 settings_generation = 1;

/*
 * Register the worker.  Called from _PG_init while
 * shared_preload_libraries is processed.
 */
void
pgxt_watchdog_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, PGXT_NAME, BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgxt_watchdog_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, PGXT_NAME " watchdog", BGW_MAXLEN);
	strlcpy(worker.bgw_type, PGXT_NAME " watchdog", BGW_MAXLEN);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/*
 * The smallest limit any rule or default sets, in ms; 0 if none.  The
 * worker never sleeps longer, so that it sees every gap before its end.
 */
static int
smallest_limit_ms(void)
{
	const PgxtRuleSet *rules = pgxt_enforce_rules();
	int			smallest = 0;
	int			i;

#define CONSIDER(ms) \
	do { if ((ms) > 0 && (smallest == 0 || (ms) < smallest)) smallest = (ms); } while (0)

	CONSIDER(pgxt_idle_timeout_ms);
	CONSIDER(pgxt_xact_timeout_ms);
	for (i = 0; rules != NULL && i < rules->nrules; i++)
	{
		CONSIDER(rules->rules[i].idle_ms);
		CONSIDER(rules->rules[i].xact_ms);
	}
#undef CONSIDER
	return smallest;
}

/*
 * The limits of the session in slot index, seen as *seen: matched again
 * only when its backend, its names or the settings changed.
 */
static const PgxtLimits *
session_limits(int index, const PgxtSlot *seen)
{
	SlotLimits *cached = &slot_limits[index];

	if (cached->pid != seen->pid || cached->names_version != seen->names_version ||
		cached->generation != settings_generation)
	{
		pgxt_limits_for(seen->appname, seen->tag, seen->rolename, seen->dbname,
						&cached->limits);
		cached->pid = seen->pid;
		cached->names_version = seen->names_version;
		cached->generation = settings_generation;
	}
	return &cached->limits;
}

/*
 * Report the session in slot, seen as *seen, whose transaction passed a
 * limit: check that its pid is a backend (waiting for its client, for the
 * idle limit), re-check under the slot's spinlock that it is still in the
 * same transaction (and, for the idle limit, the same idle gap) and not
 * reported yet, mark it there, then record and log the event.  Takes
 * ProcArrayLock shared, then the slot's spinlock.
 */
static void
report_session(PgxtSlot *slot, const PgxtSlot *seen, PgxtTimeoutKind kind,
			   int limit_ms, int rule_index, TimestampTz now)
{
	bool		still;
	PGPROC	   *proc;
	PgxtTimeoutEvent event;
	int64		elapsed_us;
	char		rule[PGXT_RULE_TEXT_LEN + 32];
	char		elapsed_text[32];
	char		limit_text[32];

	elapsed_us = (kind == PGXT_TIMEOUT_IDLE) ?
		now - seen->state_since : now - seen->xact_start;
	pgxt_describe_rule(kind, rule_index, rule, sizeof(rule));

	/*
	 * The pid must still be a backend.  Idle in transaction also means
	 * waiting for the client: a backend whose slot still says idle may have
	 * received its next statement and be parsing or planning it, or waiting
	 * for a lock in parse analysis, before the hooks see it.
	 */
	proc = BackendPidGetProc(seen->pid);
	if (proc == NULL)
		return;
	if (kind == PGXT_TIMEOUT_IDLE &&
		*((volatile uint32 *) &proc->wait_event_info) != WAIT_EVENT_CLIENT_READ)
		return;

	SpinLockAcquire(&slot->mutex);
	still = slot->pid == seen->pid &&
		slot->state != PGXT_STATE_NONE &&
		slot->xact_start == seen->xact_start &&
		slot->logged_xact_start != seen->xact_start;
	if (kind == PGXT_TIMEOUT_IDLE)
		still = still && slot->state != PGXT_STATE_ACTIVE &&
			slot->state_since == seen->state_since;
	if (still)
		slot->logged_xact_start = seen->xact_start;
	SpinLockRelease(&slot->mutex);

	if (!still)
		return;

	memset(&event, 0, sizeof(event));
	event.time = now;
	event.pid = seen->pid;
	event.userid = seen->userid;
	event.dbid = seen->dbid;
	event.kind = kind;
	event.terminated = false;
	event.limit_ms = limit_ms;
	event.elapsed_us = elapsed_us;
	strlcpy(event.appname, seen->appname, NAMEDATALEN);
	strlcpy(event.tag, seen->tag, PGXT_TAG_LEN);
	strlcpy(event.rule, rule, PGXT_RULE_TEXT_LEN);
	pgxt_store_add_timeout_event(&event);

	pgxt_format_duration(elapsed_us / 1000.0, elapsed_text, sizeof(elapsed_text));
	pgxt_format_duration(limit_ms, limit_text, sizeof(limit_text));
	ereport(LOG,
			(errmsg("would terminate (timeout_action = log) process %d: %s for %s, over the limit of %s set by %s",
					seen->pid,
					kind == PGXT_TIMEOUT_IDLE ? "idle in transaction" : "transaction open",
					elapsed_text, limit_text, rule),
			 errdetail("application_name=\"%s\", tag=\"%s\", user=\"%s\", database=\"%s\"",
					   seen->appname, seen->tag, seen->rolename, seen->dbname)));
}

/*
 * If the limit counted from since has passed at now, hand the session to
 * report_session and return true; otherwise lower *next_deadline to this
 * deadline if it is nearer (0 means none yet) and return false.
 */
static bool
past_deadline(PgxtSlot *slot, const PgxtSlot *seen, PgxtTimeoutKind kind,
			  TimestampTz since, int limit_ms, int rule_index, TimestampTz now,
			  TimestampTz *next_deadline)
{
	TimestampTz deadline = since + (TimestampTz) limit_ms * 1000;

	if (now >= deadline)
	{
		report_session(slot, seen, kind, limit_ms, rule_index, now);
		return true;
	}
	if (*next_deadline == 0 || deadline < *next_deadline)
		*next_deadline = deadline;
	return false;
}

/*
 * One pass over the backend slots in log mode: report every session past
 * a limit and return the time of the nearest deadline still ahead (0 if
 * none).
 */
static TimestampTz
watchdog_pass(TimestampTz now)
{
	TimestampTz next_deadline = 0;
	int			nslots = pgxt_store_nslots();
	int			i;

	for (i = 0; i < nslots; i++)
	{
		PgxtSlot   *slot = pgxt_store_slot(i);
		PgxtSlot	seen;
		const PgxtLimits *limits;

		SpinLockAcquire(&slot->mutex);
		memcpy(&seen, slot, PGXT_SLOT_PUBLISHED_SIZE);
		SpinLockRelease(&slot->mutex);

		/* each transaction is reported once */
		if (seen.pid == 0 || seen.state == PGXT_STATE_NONE ||
			seen.logged_xact_start == seen.xact_start)
			continue;

		limits = session_limits(i, &seen);
		if (limits->xact_ms > 0 &&
			past_deadline(slot, &seen, PGXT_TIMEOUT_XACT, seen.xact_start,
						  limits->xact_ms, limits->xact_rule, now, &next_deadline))
			continue;
		if (limits->idle_ms > 0 && seen.state != PGXT_STATE_ACTIVE)
			(void) past_deadline(slot, &seen, PGXT_TIMEOUT_IDLE, seen.state_since,
								 limits->idle_ms, limits->idle_rule, now,
								 &next_deadline);
	}
	return next_deadline;
}

/*
 * Entry point of the worker: connect to no database (so that
 * pg_stat_activity shows it), then close history buckets and, in log mode,
 * pass over the slots; sleep until the next deadline, a reload or a
 * shutdown request (SIGTERM).
 */
void
pgxt_watchdog_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	slot_limits = MemoryContextAllocZero(TopMemoryContext,
										 sizeof(SlotLimits) * pgxt_store_nslots());

	ereport(LOG, (errmsg("%s watchdog started", PGXT_NAME)));

	while (!ShutdownRequestPending)
	{
		TimestampTz now;
		TimestampTz next_deadline = 0;
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			settings_generation++;
		}

		now = GetCurrentTimestamp();
		pgxt_history_tick(now);
		sleep_ms = pgxt_watchdog_naptime_ms;
		if (pgxt_timeout_action == PGXT_ACTION_LOG)
		{
			int			smallest = smallest_limit_ms();

			if (smallest > 0)
			{
				next_deadline = watchdog_pass(now);
				sleep_ms = Min(sleep_ms, smallest);
			}
		}
		if (next_deadline == 0 || pgxt_history_next_boundary() < next_deadline)
			next_deadline = pgxt_history_next_boundary();
		if (next_deadline != 0)
			sleep_ms = Min(sleep_ms, (next_deadline - now + 999) / 1000);
		sleep_ms = Max(sleep_ms, MIN_SLEEP_MS);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}

	/*
	 * Exit code 1: the postmaster restarts the worker unless the server is
	 * shutting down, so a pg_terminate_backend() of it does not end the
	 * watchdog for good.
	 */
	proc_exit(1);
}

/*-------------------------------------------------------------------------
 *
 * watchdog.c
 *		The watchdog: a background worker that ends sessions idle in
 *		transaction, or holding a transaction open, past the limits that
 *		postgres_extension.timeout_rules and the default timeouts give
 *		their application_name, tag, role and database.
 *
 * The worker reads the backend slots (each under its spinlock), computes
 * every session's deadlines and sleeps until the nearest one, never longer
 * than watchdog_naptime nor than the smallest configured limit (so that a
 * gap that starts while it sleeps is still caught in time).  Before it
 * acts it checks, under the slot's spinlock, that the session is still in
 * the same transaction and the same idle gap, and writes its verdict
 * there.  In terminate mode it then sends SIGTERM; the dying backend's
 * emit_log_hook turns the core's "terminating connection due to
 * administrator command" into a message that names the limit and the rule,
 * with SQLSTATE 25P03 (idle) or 25P04 (transaction), for the client and the
 * server log alike.  In log mode it reports each transaction once and ends
 * nothing.  Every decision goes to the event ring behind
 * pg_stat_transactions_timeouts.
 *
 * The worker also closes the buckets of the history (history.c) at their
 * boundaries, one more deadline it sleeps toward.
 *
 * Sessions that are not tracked client backends have no slot in use, so
 * the worker itself, other background workers, autovacuum, walsenders and
 * prepared transactions are never touched.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/watchdog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/elog.h"
#include "utils/timestamp.h"

#include "history.h"
#include "hooks.h"
#include "postgres_extension.h"
#include "rules.h"
#include "store.h"
#include "watchdog.h"

/* The core's SQLSTATE for transaction_timeout (17+), defined here for all. */
#define PGXT_ERRCODE_TRANSACTION_TIMEOUT MAKE_SQLSTATE('2','5','P','0','4')

/* Shortest and longest sleep of the worker, in ms. */
#define MIN_SLEEP_MS	10

/*---- GUC variables ----*/
int			pgxt_idle_timeout_ms = 0;
int			pgxt_xact_timeout_ms = 0;
char	   *pgxt_timeout_rules = NULL;
int			pgxt_timeout_action = PGXT_ACTION_TERMINATE;
int			pgxt_watchdog_naptime_ms = 1000;

/* The parsed rules, owned by the GUC machinery (the setting's "extra"). */
static PgxtRuleSet *active_rules = NULL;

static emit_log_hook_type prev_emit_log_hook = NULL;

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
 * GUC check hook of postgres_extension.timeout_rules: parse the rules and
 * keep the result as the setting's extra; a bad value is refused with the
 * parser's message, and the old rules stay in force.
 */
bool
pgxt_timeout_rules_check_hook(char **newval, void **extra, GucSource source)
{
	char		errbuf[512];
	PgxtRuleSet *set;

	set = pgxt_rules_parse(*newval, errbuf, sizeof(errbuf));
	if (set == NULL)
	{
		GUC_check_errdetail("%s", errbuf);
		return false;
	}
	*extra = set;
	return true;
}

/*
 * GUC assign hook of postgres_extension.timeout_rules.
 */
void
pgxt_timeout_rules_assign_hook(const char *newval, void *extra)
{
	active_rules = (PgxtRuleSet *) extra;
}

/*
 * Milliseconds to a short human-readable duration, in buf.
 */
static void
format_duration(double ms, char *buf, size_t len)
{
	if (ms < 10000)
		snprintf(buf, len, "%.0f ms", ms);
	else if (ms < 600000)
		snprintf(buf, len, "%.1f s", ms / 1000.0);
	else
		snprintf(buf, len, "%.1f min", ms / 60000.0);
}

/*
 * Describe which rule set a limit: the rule's number and text, or the
 * default setting.
 */
static void
describe_rule(PgxtTimeoutKind kind, int rule_index, char *buf, size_t len)
{
	if (rule_index >= 0 && active_rules != NULL &&
		rule_index < active_rules->nrules)
		snprintf(buf, len, "rule %d \"%s\"", rule_index + 1,
				 active_rules->rules[rule_index].text);
	else if (kind == PGXT_TIMEOUT_IDLE)
		snprintf(buf, len, "%s.idle_in_transaction_timeout", PGXT_NAME);
	else
		snprintf(buf, len, "%s.transaction_timeout", PGXT_NAME);
}

/*
 * The smallest limit any rule or default sets, in ms; 0 if none.  The
 * worker never sleeps longer, so that it sees every gap before its end.
 */
static int
smallest_limit_ms(void)
{
	int			smallest = 0;
	int			i;

#define CONSIDER(ms) \
	do { if ((ms) > 0 && (smallest == 0 || (ms) < smallest)) smallest = (ms); } while (0)

	CONSIDER(pgxt_idle_timeout_ms);
	CONSIDER(pgxt_xact_timeout_ms);
	for (i = 0; active_rules != NULL && i < active_rules->nrules; i++)
	{
		CONSIDER(active_rules->rules[i].idle_ms);
		CONSIDER(active_rules->rules[i].xact_ms);
	}
#undef CONSIDER
	return smallest;
}

/*
 * Act on the session in slot, seen as *seen, whose transaction passed a
 * limit: check that its pid is a backend (waiting for its client, for the
 * idle limit), re-check under the slot's spinlock that it is still in the
 * same transaction (and, for the idle limit, the same idle gap), record the
 * verdict there, signal the backend in terminate mode, then record and log
 * the event.  Takes ProcArrayLock shared, then the slot's spinlock.
 */
static void
act_on_session(PgxtSlot *slot, const PgxtSlot *seen, PgxtTimeoutKind kind,
			   int limit_ms, int rule_index, TimestampTz now)
{
	bool		terminate = (pgxt_timeout_action == PGXT_ACTION_TERMINATE);
	bool		still;
	PGPROC	   *proc;
	PgxtTimeoutEvent event;
	int64		elapsed_us;
	char		rule[PGXT_RULE_TEXT_LEN + 32];
	char		elapsed_text[32];
	char		limit_text[32];

	elapsed_us = (kind == PGXT_TIMEOUT_IDLE) ?
		now - seen->state_since : now - seen->xact_start;
	describe_rule(kind, rule_index, rule, sizeof(rule));

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
		slot->timeout_kind == PGXT_TIMEOUT_NONE &&
		(terminate || slot->logged_xact_start != seen->xact_start);
	if (kind == PGXT_TIMEOUT_IDLE)
		still = still && slot->state != PGXT_STATE_ACTIVE &&
			slot->state_since == seen->state_since;
	if (still)
	{
		if (terminate)
		{
			slot->timeout_kind = kind;
			slot->timeout_limit_ms = limit_ms;
			slot->timeout_elapsed_us = elapsed_us;
			strlcpy(slot->timeout_rule, rule, PGXT_RULE_TEXT_LEN);
		}
		else
			slot->logged_xact_start = seen->xact_start;
	}
	SpinLockRelease(&slot->mutex);

	if (!still)
		return;

	/* signal at once: the shorter the gap after the re-check, the better */
	if (terminate && kill(seen->pid, SIGTERM) != 0 && errno != ESRCH)
		ereport(WARNING,
				(errmsg("could not send signal to process %d: %m", seen->pid)));

	memset(&event, 0, sizeof(event));
	event.time = now;
	event.pid = seen->pid;
	event.userid = seen->userid;
	event.dbid = seen->dbid;
	event.kind = kind;
	event.terminated = terminate;
	event.limit_ms = limit_ms;
	event.elapsed_us = elapsed_us;
	strlcpy(event.appname, seen->appname, NAMEDATALEN);
	strlcpy(event.tag, seen->tag, PGXT_TAG_LEN);
	strlcpy(event.rule, rule, PGXT_RULE_TEXT_LEN);
	pgxt_store_add_timeout_event(&event);

	format_duration(elapsed_us / 1000.0, elapsed_text, sizeof(elapsed_text));
	format_duration(limit_ms, limit_text, sizeof(limit_text));
	ereport(LOG,
			(errmsg("%s process %d: %s for %s, over the limit of %s set by %s",
					terminate ? "terminating" : "would terminate (timeout_action = log)",
					seen->pid,
					kind == PGXT_TIMEOUT_IDLE ? "idle in transaction" : "transaction open",
					elapsed_text, limit_text, rule),
			 errdetail("application_name=\"%s\", tag=\"%s\", user=\"%s\", database=\"%s\"",
					   seen->appname, seen->tag, seen->rolename, seen->dbname)));
}

/*
 * If the limit counted from since has passed at now, hand the session to
 * act_on_session and return true; otherwise lower *next_deadline to this
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
		act_on_session(slot, seen, kind, limit_ms, rule_index, now);
		return true;
	}
	if (*next_deadline == 0 || deadline < *next_deadline)
		*next_deadline = deadline;
	return false;
}

/*
 * One pass over the backend slots: act on every session past a limit and
 * return the time of the nearest deadline still ahead (0 if none).
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
		PgxtLimits	limits;

		SpinLockAcquire(&slot->mutex);
		memcpy(&seen, slot, PGXT_SLOT_PUBLISHED_SIZE);
		SpinLockRelease(&slot->mutex);

		/* in log mode each transaction is reported once */
		if (seen.pid == 0 || seen.state == PGXT_STATE_NONE ||
			seen.timeout_kind != PGXT_TIMEOUT_NONE ||
			(pgxt_timeout_action == PGXT_ACTION_LOG &&
			 seen.logged_xact_start == seen.xact_start))
			continue;

		pgxt_rules_match(active_rules, seen.appname, seen.tag, seen.rolename,
						 seen.dbname, pgxt_idle_timeout_ms, pgxt_xact_timeout_ms,
						 &limits);

		if (limits.xact_ms > 0 &&
			past_deadline(slot, &seen, PGXT_TIMEOUT_XACT, seen.xact_start,
						  limits.xact_ms, limits.xact_rule, now, &next_deadline))
			continue;
		if (limits.idle_ms > 0 && seen.state != PGXT_STATE_ACTIVE)
			(void) past_deadline(slot, &seen, PGXT_TIMEOUT_IDLE, seen.state_since,
								 limits.idle_ms, limits.idle_rule, now,
								 &next_deadline);
	}
	return next_deadline;
}

/*
 * Entry point of the worker: connect to no database (so that
 * pg_stat_activity shows it), then pass over the slots and sleep until the
 * next deadline, a reload or a shutdown request (SIGTERM).
 */
void
pgxt_watchdog_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	ereport(LOG, (errmsg("%s watchdog started", PGXT_NAME)));

	while (!ShutdownRequestPending)
	{
		TimestampTz now;
		TimestampTz next_deadline;
		long		sleep_ms;
		int			smallest;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		now = GetCurrentTimestamp();
		pgxt_history_tick(now);
		next_deadline = watchdog_pass(now);
		if (next_deadline == 0 || pgxt_history_next_boundary() < next_deadline)
			next_deadline = pgxt_history_next_boundary();

		sleep_ms = pgxt_watchdog_naptime_ms;
		smallest = smallest_limit_ms();
		if (smallest > 0)
			sleep_ms = Min(sleep_ms, smallest);
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

/*
 * emit_log_hook: when this backend dies because the watchdog terminated
 * it, turn the core's "administrator command" FATAL into one that names
 * the limit, with the core's timeout SQLSTATEs.  The client gets the same
 * message, since it is sent after this hook runs.
 */
static void
pgxt_emit_log_hook(ErrorData *edata)
{
	PgxtSlot   *slot = pgxt_hooks_my_slot();

	if (slot != NULL && edata->elevel == FATAL &&
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
	{
		PgxtSlot	verdict;

		SpinLockAcquire(&slot->mutex);
		memcpy(&verdict, slot, PGXT_SLOT_PUBLISHED_SIZE);
		SpinLockRelease(&slot->mutex);

		if (verdict.timeout_kind != PGXT_TIMEOUT_NONE)
		{
			char		elapsed_text[32];
			char		limit_text[32];
			bool		idle = verdict.timeout_kind == PGXT_TIMEOUT_IDLE;

			format_duration(verdict.timeout_elapsed_us / 1000.0,
							elapsed_text, sizeof(elapsed_text));
			format_duration(verdict.timeout_limit_ms,
							limit_text, sizeof(limit_text));
			edata->sqlerrcode = idle ?
				ERRCODE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT :
				PGXT_ERRCODE_TRANSACTION_TIMEOUT;
			edata->message = psprintf("terminating connection because %s for %s, over the %s limit of %s set by %s",
									  idle ? "it was idle in transaction" : "its transaction was open",
									  elapsed_text,
									  idle ? "idle-in-transaction" : "transaction",
									  limit_text, verdict.timeout_rule);
			edata->detail = psprintf("application_name=\"%s\", tag=\"%s\", user=\"%s\", database=\"%s\"; the transaction was rolled back.",
									 verdict.appname, verdict.tag,
									 verdict.rolename, verdict.dbname);
		}
	}

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * Install the emit_log_hook that words the watchdog's terminations.
 */
void
pgxt_watchdog_install_log_hook(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = pgxt_emit_log_hook;
}

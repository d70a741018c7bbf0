/*-------------------------------------------------------------------------
 *
 * hooks.c
 *		The hot path: follows each transaction of a client backend from its
 *		first statement to its end and hands the finished transaction to the
 *		store.
 *
 * A transaction starts at the arrival of its first statement (the core's
 * transaction start timestamp).  Each top-level statement is an active span
 * from its arrival (the statement timestamp, no clock read) to its return
 * from ExecutorRun (SELECT) or ExecutorFinish (anything that may fire
 * triggers) or ProcessUtility: one clock read.  Outside a block opened by
 * BEGIN the server stays busy until the commit, so the span runs on.  The
 * transaction ends in the commit, abort or prepare callback: one more clock
 * read.  Time between spans is idle: the server waiting on the client.
 *
 * A transaction block that fails keeps its connection until the client's
 * ROLLBACK, which fires no callback: the abort callback only marks it
 * failed, and the ROLLBACK (seen by ProcessUtility) ends it.  A session that
 * exits inside a transaction ends it in a before_shmem_exit callback, which
 * runs before the core's own abort.
 *
 * nesting_level is 1 while a top-level executor call (start, run, finish)
 * or utility call runs; the calls nested inside it (functions, triggers,
 * cursors) pass straight through.  The top-level call resets it when it
 * returns.  An error that leaves it unwinds to the client's level without
 * a PG_TRY of ours (a setjmp per statement): the abort callback, or the
 * subtransaction abort callback inside a client's savepoint, resets
 * nesting_level and ends the failed statement's span, as it does for a
 * failed ExecutorStart.  Errors caught inside the statement abort
 * subtransactions that started inside it, told apart by their ids (see
 * pgxt_subxact_callback).
 *
 * The backend publishes its transaction in its shared slot (under the slot
 * spinlock) for the activity view and the watchdog, and appends it there
 * when it ends; the store folds those into the statistics (store.c).
 * Parallel workers and every process that is not a client backend are not
 * tracked.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/hooks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "tcop/pquery.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "hooks.h"
#include "postgres_extension.h"
#include "store.h"
#include "tag.h"

/* The transaction this backend is in, as far as it is tracked. */
typedef struct LocalXact
{
	bool		open;			/* a tracked transaction is in progress */
	bool		aborted;		/* failed block, waiting for ROLLBACK */
	bool		explicit_block; /* started by BEGIN or a chained COMMIT */
	bool		end_requested;	/* COMMIT, ROLLBACK or PREPARE seen */
	bool		span_open;		/* a statement is running */
	bool		readonly;		/* no xid, noted when it failed */
	TimestampTz start;
	TimestampTz span_start;
	TimestampTz last_mark;		/* end of the last span, or the start */
	int64		active_us;
	int64		max_idle_us;
	int64		statements;
	uint64		queryid;
	Oid			userid;
	char		appname[NAMEDATALEN];
	char		tag[PGXT_TAG_LEN];
} LocalXact;

/* Whether this backend is tracked, decided at its first hook call. */
typedef enum BackendTracking
{
	BACKEND_UNDECIDED = 0,
	BACKEND_TRACKED,
	BACKEND_UNTRACKED
} BackendTracking;

/* Saved hook values */
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* Backend-local state */
static int	nesting_level = 0;
/* the first subtransaction started inside the running top-level call */
static SubTransactionId inner_subid = InvalidSubTransactionId;
static BackendTracking backend_tracking = BACKEND_UNDECIDED;
static PgxtSlot *my_slot = NULL;
static LocalXact xact;

/*
 * A block opened by BEGIN, or chained by COMMIT or ROLLBACK AND CHAIN, is
 * explicit.  When BEGIN opens a tracked transaction it says so at once;
 * otherwise the mark waits in explicit_lxid, the local transaction id of
 * the transaction it is for (the one in progress after a BEGIN that was
 * not tracked, the next one after a chain), so that it never applies to
 * another transaction.
 */
static LocalTransactionId explicit_lxid = InvalidLocalTransactionId;
static bool explicit_by_commit_chain = false;	/* void if the commit fails */
static bool tag_guc_changed = true;
static char setting_tag[PGXT_TAG_LEN];	/* the tag setting, stored form */
static bool slot_names_dirty = true;
static bool key_dirty = true;	/* names changed since the key was built */
static const char *appname_seen = NULL; /* application_name last compared */
static PgxtKey xact_key;		/* the key as of the last record */
static Oid	slot_role_userid = InvalidOid;
static PgxtEntryCache entry_cache;

static bool backend_attach(void);
static void backend_exit(int code, Datum arg);

/*
 * True if this backend's transactions are tracked.  Decided once per
 * backend, at the first hook call.
 */
static inline bool
tracking_backend(void)
{
	if (likely(backend_tracking == BACKEND_TRACKED))
		return true;
	if (backend_tracking == BACKEND_UNTRACKED)
		return false;
	return backend_attach();
}

/*
 * A top-level statement runs in the portal the client asked for; executor
 * calls with no active portal come from planning or from commit-time work
 * (deferred triggers) and belong to no statement of their own.
 */
static inline bool
top_level_executor(void)
{
	return nesting_level == 0 && ActivePortal != NULL;
}

/*
 * Decide whether this backend is tracked and, if so, claim its slot and
 * arrange for the slot to be released at exit.  Runs inside a transaction
 * (the first hook call), so catalog lookups are allowed.
 */
static bool
backend_attach(void)
{
	char	   *dbname;

	backend_tracking = BACKEND_UNTRACKED;

	if (!pgxt_store_ready() || IsParallelWorker())
		return false;
	if (MyBackendType != B_BACKEND && !pgxt_is_standalone_backend())
		return false;
	my_slot = pgxt_store_slot(pgxt_my_slot_index());
	if (my_slot == NULL)
		return false;

	dbname = get_database_name(MyDatabaseId);

	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = MyProcPid;
	my_slot->state = PGXT_STATE_NONE;
	my_slot->dbid = MyDatabaseId;
	my_slot->userid = InvalidOid;
	my_slot->xact_start = 0;
	my_slot->state_since = 0;
	my_slot->active_us = 0;
	my_slot->statements = 0;
	my_slot->queryid = 0;
	my_slot->appname[0] = '\0';
	my_slot->tag[0] = '\0';
	my_slot->rolename[0] = '\0';
	strlcpy(my_slot->dbname, dbname ? dbname : "", NAMEDATALEN);
	my_slot->timeout_kind = PGXT_TIMEOUT_NONE;
	my_slot->timeout_rule[0] = '\0';
	my_slot->logged_xact_start = 0;
	SpinLockRelease(&my_slot->mutex);

	if (dbname)
		pfree(dbname);

	memset(&xact, 0, sizeof(xact));
	memset(&entry_cache, 0, sizeof(entry_cache));
	key_dirty = true;
	pgxt_tag_backend_init();
	before_shmem_exit(backend_exit, (Datum) 0);
	backend_tracking = BACKEND_TRACKED;
	return true;
}

/*
 * Copy this backend's view of its open transaction into its slot.  Names
 * are copied only when they changed.  Takes the slot spinlock.
 */
static inline void
slot_publish(PgxtSlotState state, TimestampTz since)
{
	SpinLockAcquire(&my_slot->mutex);
	my_slot->state = state;
	my_slot->state_since = since;
	my_slot->active_us = xact.active_us;
	my_slot->statements = xact.statements;
	my_slot->xact_start = xact.start;
	my_slot->queryid = xact.queryid;
	if (slot_names_dirty)
	{
		my_slot->userid = xact.userid;
		memcpy(my_slot->appname, xact.appname, NAMEDATALEN);
		memcpy(my_slot->tag, xact.tag, PGXT_TAG_LEN);
		slot_names_dirty = false;
	}
	SpinLockRelease(&my_slot->mutex);
}

/*
 * Make tag the transaction's tag.
 */
static pg_noinline void
set_xact_tag(const char *tag)
{
	if (strcmp(xact.tag, tag) != 0)
	{
		strlcpy(xact.tag, tag, PGXT_TAG_LEN);
		slot_names_dirty = key_dirty = true;
	}
}

/*
 * The tag setting changed: convert it to its stored form (tag.c).
 */
static pg_noinline void
setting_tag_refresh(void)
{
	tag_guc_changed = false;
	pgxt_tag_from_setting(pgxt_tag, setting_tag, PGXT_TAG_LEN);
}

/*
 * Take the tag setting if it changed since last looked at and is not
 * empty.
 */
static inline void
note_tag_setting(void)
{
	if (unlikely(tag_guc_changed))
	{
		setting_tag_refresh();
		if (setting_tag[0] != '\0')
			set_xact_tag(setting_tag);
	}
}

/*
 * Take appname as the session's application_name.
 */
static pg_noinline void
set_application_name(const char *appname)
{
	strlcpy(xact.appname, appname, NAMEDATALEN);
	slot_names_dirty = key_dirty = true;
}

/*
 * Note the session's application_name as it is now.
 */
static inline void
note_application_name(void)
{
	const char *appname = application_name ? application_name : "";

	if (unlikely(strcmp(xact.appname, appname) != 0))
		set_application_name(appname);
}

/*
 * At a transaction's first statement and at its end, note application_name
 * if its pointer moved since the last of these two points.  A value that is
 * current at one of them stays allocated until the next: the GUC stack
 * keeps the value a transaction started with while the transaction could
 * put it back, and a value still current at the end is freed only by the
 * revert of a SET LOCAL (or of a SET, at a rollback), which goes back to an
 * older string, alive all along.  So a new value never sits where the one
 * seen last was, and comparing addresses is exact.  Only appname_seen's two
 * places move it: a value set in the middle of a transaction is not kept
 * alive, and its address may come back for a later value.
 *
 * Two cases escape this, both outside what a session normally does: a
 * function wrongly marked IMMUTABLE or STABLE that calls set_config() while
 * the first statement is planned, and two reloads of the configuration
 * file between two transactions that each change a session's
 * application_name taken from that file.
 */
static inline void
check_application_name(void)
{
	if (unlikely(application_name != appname_seen))
	{
		note_application_name();
		appname_seen = application_name;
	}
}

/*
 * Note the session's application_name and role, as they are now.  The
 * role's name is looked up only when the role changes, and only inside a
 * valid transaction.
 */
static pg_noinline void
note_session_names(void)
{
	Oid			userid = GetUserId();

	note_application_name();
	if (userid != xact.userid)
	{
		xact.userid = userid;
		slot_names_dirty = key_dirty = true;
	}
	if (userid != slot_role_userid && IsTransactionState())
	{
		char	   *rolename = GetUserNameFromId(userid, true);

		SpinLockAcquire(&my_slot->mutex);
		strlcpy(my_slot->rolename, rolename ? rolename : "", NAMEDATALEN);
		SpinLockRelease(&my_slot->mutex);
		if (rolename)
			pfree(rolename);
		slot_role_userid = userid;
	}
}

/*
 * Begin tracking the current transaction, which started at start.  Does
 * nothing when tracking is off.  publish: show it in the slot now (the
 * first statement does otherwise), and look at the role, which
 * statement_begin does otherwise.
 */
static pg_attribute_always_inline void
xact_open(TimestampTz start, bool publish)
{
	if (unlikely(pgxt_track == PGXT_TRACK_NONE))
	{
		appname_seen = NULL;	/* untracked transactions may change it */
		return;
	}

	xact.open = true;
	xact.aborted = false;
	xact.explicit_block = false;
	xact.end_requested = false;
	xact.span_open = false;
	xact.readonly = false;
	xact.start = start;
	xact.span_start = start;
	xact.last_mark = start;
	xact.active_us = 0;
	xact.max_idle_us = 0;
	xact.statements = 0;
	xact.queryid = 0;
	if (unlikely(explicit_lxid != InvalidLocalTransactionId))
	{
		xact.explicit_block = explicit_lxid == pgxt_my_lxid();
		explicit_lxid = InvalidLocalTransactionId;
	}

	/* the tag setting as it is now, empty included */
	if (unlikely(tag_guc_changed))
		setting_tag_refresh();
	if (unlikely(setting_tag[0] != '\0' || xact.tag[0] != '\0'))
		set_xact_tag(setting_tag);

	check_application_name();
	if (unlikely(xact.userid == InvalidOid ||
				 (publish && GetUserId() != xact.userid)))
		note_session_names();
	if (publish)
		slot_publish(PGXT_STATE_IDLE, start);
}

/*
 * Start an active span at the arrival of the current message, unless one
 * is running.  The time since the last span is an idle gap.
 */
static inline void
span_begin(void)
{
	TimestampTz arrival;
	int64		gap;

	if (xact.span_open)
		return;
	arrival = Max(GetCurrentStatementStartTimestamp(), xact.last_mark);
	gap = arrival - xact.last_mark;
	if (gap > xact.max_idle_us)
		xact.max_idle_us = gap;
	xact.span_start = arrival;
	xact.span_open = true;
}

/*
 * End the running span at now.
 */
static inline void
span_end(TimestampTz now)
{
	if (!xact.span_open)
		return;
	if (now > xact.span_start)
		xact.active_us += now - xact.span_start;
	xact.span_open = false;
	xact.last_mark = Max(now, xact.span_start);
}

/*
 * The names changed since the key was last built: rebuild it if it now
 * differs (a name may have changed and changed back, like a tag set per
 * transaction).  The slot's pending transactions belong to the old key:
 * they are flushed first.
 */
static pg_noinline void
key_refresh(void)
{
	key_dirty = false;
	if (xact_key.dbid == MyDatabaseId && xact_key.userid == xact.userid &&
		strcmp(xact_key.tag, xact.tag) == 0 &&
		strcmp(xact_key.appname, xact.appname) == 0)
		return;

	pgxt_store_flush(my_slot, &entry_cache);
	memset(&xact_key, 0, sizeof(xact_key));
	xact_key.dbid = MyDatabaseId;
	xact_key.userid = xact.userid;
	strlcpy(xact_key.appname, xact.appname, NAMEDATALEN);
	strlcpy(xact_key.tag, xact.tag, PGXT_TAG_LEN);

	SpinLockAcquire(&my_slot->mutex);
	my_slot->pending_key = xact_key;
	SpinLockRelease(&my_slot->mutex);
}

/*
 * Hand the tracked transaction to the store and forget it.  end is its
 * end; the time since the last span counts as active when tail_active
 * (commit or abort work done for the client), else as an idle gap.
 *
 * One slot spinlock section marks the slot out of transaction, reads the
 * watchdog's verdict and appends the transaction to the slot's pending
 * list; a full list is flushed into the hash (store.c).
 */
static pg_attribute_always_inline void
xact_finish_inline(bool committed, TimestampTz end, bool tail_active)
{
	PgxtXactSample *sample;
	int64		hold_us;
	int64		active_us;
	bool		readonly;
	bool		full;

	if (xact.span_open)
		span_end(end);
	else if (end > xact.last_mark)
	{
		if (tail_active)
			xact.active_us += end - xact.last_mark;
		else if (end - xact.last_mark > xact.max_idle_us)
			xact.max_idle_us = end - xact.last_mark;
	}
	hold_us = Max(end - xact.start, 0);
	active_us = Min(xact.active_us, hold_us);
	readonly = xact.aborted ? xact.readonly :
		!TransactionIdIsValid(GetTopTransactionIdIfAny());

	/* the key is as of the last statement: a failed block's is kept */
	if (!xact.aborted)
	{
		note_tag_setting();
		check_application_name();
	}
	else
		appname_seen = NULL;	/* not compared since: look next time */
	if (unlikely(key_dirty))
		key_refresh();

	SpinLockAcquire(&my_slot->mutex);
	Assert(my_slot->npending < PGXT_PENDING_MAX);
	sample = &my_slot->pending[my_slot->npending++];
	sample->end = end;
	sample->hold_us = hold_us;
	sample->active_us = active_us;
	sample->max_idle_us = Min(xact.max_idle_us, hold_us - active_us);
	sample->statements = xact.statements;
	sample->committed = committed;
	sample->explicit_block = xact.explicit_block;
	sample->readonly = readonly;
	/* the watchdog is terminating it, or (log mode) reported it */
	sample->timed_out = my_slot->timeout_kind != PGXT_TIMEOUT_NONE ||
		my_slot->logged_xact_start == xact.start;
	my_slot->state = PGXT_STATE_NONE;
	my_slot->state_since = end;
	my_slot->xact_start = 0;
	my_slot->queryid = 0;
	my_slot->logged_xact_start = 0;
	full = my_slot->npending == PGXT_PENDING_MAX;
	SpinLockRelease(&my_slot->mutex);

	if (unlikely(full))
		pgxt_store_flush(my_slot, &entry_cache);

	xact.open = false;
	xact.aborted = false;
}

/*
 * xact_finish_inline for the paths other than a plain commit.
 */
static pg_noinline void
xact_finish(bool committed, TimestampTz end, bool tail_active)
{
	xact_finish_inline(committed, end, tail_active);
}

/*
 * Take a tag from a comment opening or closing the statement, if any.
 */
static pg_noinline void
note_comment_tag(const char *text, int location, int length)
{
	char		comment_tag[PGXT_TAG_LEN];

	if (pgxt_comment_tag(text, location, length, pgxt_tag_comment_key,
						 comment_tag, sizeof(comment_tag)))
		set_xact_tag(comment_tag);
}

/*
 * A statement arrives while the tracked transaction is a failed block:
 * only transaction control reaches the hooks in a failed block, so if
 * anything else does, the failed transaction has ended already and a new
 * one is open.  Returns whether a transaction is tracked now.
 */
static pg_noinline bool
failed_block_ended(void)
{
	if (IsAbortedTransactionBlockState())
		return false;
	xact_finish(false, xact.last_mark, true);
	xact_open(GetCurrentTransactionStartTimestamp(), false);
	return xact.open;
}

/*
 * A top-level statement begins: open the transaction if needed, start the
 * span, take tags.  stmt and its text: the statement, which counts toward
 * "statements"; NULL for a portal's later executor calls and for
 * transaction control, which do not.
 */
static pg_attribute_always_inline void
statement_begin(const PlannedStmt *stmt, const char *text)
{
	if (!xact.open)
	{
		xact_open(GetCurrentTransactionStartTimestamp(), false);
		if (unlikely(!xact.open))
			return;
	}
	else if (unlikely(xact.aborted) && !failed_block_ended())
		return;

	if (!xact.span_open)
	{
		span_begin();
		note_tag_setting();
		if (stmt != NULL)
		{
			xact.statements++;
			xact.queryid = stmt->queryId;
			if (pgxt_tag_comment_key[0] != '\0' &&
				pgxt_comment_possible(text, stmt->stmt_location,
									  stmt->stmt_len))
				note_comment_tag(text, stmt->stmt_location, stmt->stmt_len);
			if (unlikely(GetUserId() != xact.userid ||
						 xact.userid != slot_role_userid))
				note_session_names();
		}
		slot_publish(PGXT_STATE_ACTIVE, xact.span_start);
	}
	else if (stmt != NULL)
	{
		xact.statements++;
		xact.queryid = stmt->queryId;
	}
}

/*
 * A portal's later executor call when no span of it is running (a cursor
 * fetched in a later message, a failed block, a transaction that ended
 * under it).
 */
static pg_noinline void
statement_resume_span(void)
{
	statement_begin(NULL, NULL);
}

/*
 * A portal's later executor call (ExecutorRun, ExecutorFinish): usually the
 * span its ExecutorStart opened is still running and there is nothing to do.
 */
static inline void
statement_resume(void)
{
	if (unlikely(!xact.open || xact.aborted || !xact.span_open))
		statement_resume_span();
}

/*
 * A top-level statement's work is done: close its span at now.
 */
static inline void
statement_end(TimestampTz now)
{
	if (!xact.open || !xact.span_open)
		return;
	span_end(now);
	note_tag_setting();
	slot_publish(PGXT_STATE_IDLE, xact.last_mark);
}

/*
 * A top-level statement returned.  In a block opened by BEGIN its span
 * ends now: what follows is the client's.  Otherwise the transaction ends
 * with its message: its span runs on into the next statement of the same
 * query string or into the commit, whose callback reads the clock anyway;
 * the server is busy all that time.
 */
static inline void
statement_done(void)
{
	if (xact.explicit_block)
		statement_end(GetCurrentTimestamp());
}

/*
 * A top-level statement failed: its span ends at the error.
 */
static void
statement_error(void)
{
	if (xact.open && xact.span_open)
		span_end(GetCurrentTimestamp());
}

/*
 * A top-level executor or utility call returned.
 */
static inline void
nesting_end(void)
{
	nesting_level = 0;
	inner_subid = InvalidSubTransactionId;
}

/*
 * True if the transaction that aborts now failed at the client's level,
 * and if so forget the statement nesting the error escaped from.  The
 * portal that ran a failed top-level statement restores ActivePortal (NULL
 * outside any statement) before the error reaches PostgresMain, which
 * aborts; a procedure's ROLLBACK aborts the transaction with the CALL's
 * portal still active, and the call goes on.
 */
static inline bool
abort_at_client_level(void)
{
	if (ActivePortal != NULL)
		return false;
	nesting_end();
	return true;
}

/*
 * Start a query's plan through the previous hook or the standard function.
 */
static inline void
run_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/*
 * ExecutorStart hook: a top-level query begins.
 */
static void
pgxt_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (top_level_executor() && tracking_backend())
	{
		statement_begin(queryDesc->plannedstmt, queryDesc->sourceText);

		/* functions that start-up runs (initial partition pruning) nest */
		nesting_level = 1;
		run_executor_start(queryDesc, eflags);
		nesting_end();
		return;
	}
	run_executor_start(queryDesc, eflags);
}

/*
 * True when a query's work ends with ExecutorRun: a plain SELECT.  Other
 * queries may fire AFTER triggers in ExecutorFinish.
 */
static inline bool
ends_with_run(QueryDesc *queryDesc)
{
	return queryDesc->operation == CMD_SELECT &&
		!queryDesc->plannedstmt->hasModifyingCTE;
}

/*
 * Run a query's plan through the previous hook or the standard function.
 */
static inline void
run_executor(PGXT_EXECUTORRUN_PARAMS)
{
	if (prev_ExecutorRun)
		prev_ExecutorRun(PGXT_EXECUTORRUN_ARGS);
	else
		standard_ExecutorRun(PGXT_EXECUTORRUN_ARGS);
}

/*
 * ExecutorRun hook: runs a query's plan; nested queries run inside it.
 *
 * No PG_TRY here: after an error that leaves a top-level call, the abort
 * callbacks reset nesting_level (see abort_at_client_level and
 * pgxt_subxact_callback).
 */
static void
pgxt_ExecutorRun(PGXT_EXECUTORRUN_PARAMS)
{
	if (nesting_level > 0 || !tracking_backend())
	{
		run_executor(PGXT_EXECUTORRUN_ARGS);
		return;
	}

	if (ActivePortal == NULL)
	{
		/* executor work outside any statement: only nest what runs in it */
		nesting_level = 1;
		run_executor(PGXT_EXECUTORRUN_ARGS);
		nesting_end();
		return;
	}

	statement_resume();
	nesting_level = 1;
	run_executor(PGXT_EXECUTORRUN_ARGS);
	nesting_end();

	if (xact.explicit_block && ends_with_run(queryDesc))
		statement_done();
}

/*
 * Finish a query through the previous hook or the standard function.
 */
static inline void
run_executor_finish(QueryDesc *queryDesc)
{
	if (prev_ExecutorFinish)
		prev_ExecutorFinish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
}

/*
 * ExecutorFinish hook: AFTER triggers fire here, inside the statement.
 * Errors are handled as in pgxt_ExecutorRun.
 */
static void
pgxt_ExecutorFinish(QueryDesc *queryDesc)
{
	bool		top;

	/*
	 * A plain SELECT's ExecutorFinish runs no SQL (no ModifyTable, no AFTER
	 * trigger queued at its level): nothing to nest or time.
	 */
	if (ends_with_run(queryDesc) || nesting_level > 0 || !tracking_backend())
	{
		run_executor_finish(queryDesc);
		return;
	}

	top = ActivePortal != NULL;
	if (top)
		statement_resume();

	nesting_level = 1;
	run_executor_finish(queryDesc);
	nesting_end();

	if (top)
		statement_done();
}

/*
 * Run the utility statement through the previous hook or the standard
 * function.
 */
static inline void
run_utility(PGXT_PROCESSUTILITY_PARAMS)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(PGXT_PROCESSUTILITY_ARGS);
	else
		standard_ProcessUtility(PGXT_PROCESSUTILITY_ARGS);
}

/*
 * Run a top-level utility statement whose span statement_begin opened;
 * the span ends when it returns, or in the abort callbacks if it fails.
 */
static void
run_timed_utility(PGXT_PROCESSUTILITY_PARAMS)
{
	nesting_level = 1;
	run_utility(PGXT_PROCESSUTILITY_ARGS);
	nesting_end();
	/* SET application_name, SET ROLE: show them from now on */
	if (xact.open)
		note_session_names();
	statement_done();
}

/*
 * Transaction control at top level: BEGIN marks the transaction explicit;
 * COMMIT, ROLLBACK and PREPARE TRANSACTION start the span that the end of
 * transaction callback closes, or end a failed block themselves; savepoint
 * commands are timed like statements but not counted.
 */
static void
transaction_statement(TransactionStmt *stmt, PGXT_PROCESSUTILITY_PARAMS)
{
	switch (stmt->kind)
	{
		case TRANS_STMT_BEGIN:
		case TRANS_STMT_START:
			run_utility(PGXT_PROCESSUTILITY_ARGS);
			if (!xact.open)
				xact_open(GetCurrentTransactionStartTimestamp(), true);
			if (xact.open)
				xact.explicit_block = true;
			else
				explicit_lxid = pgxt_my_lxid();	/* for when tracking comes on */
			break;

		case TRANS_STMT_COMMIT:
		case TRANS_STMT_ROLLBACK:
		case TRANS_STMT_PREPARE:
			if (xact.open)
			{
				span_begin();
				xact.end_requested = true;
				if (!xact.aborted)
					slot_publish(PGXT_STATE_ACTIVE, xact.span_start);
			}
			if (stmt->chain)
			{
				/* the chained transaction starts right after this one */
				explicit_lxid = pgxt_my_lxid() + 1;
				if (explicit_lxid == InvalidLocalTransactionId)
					explicit_lxid++;
				explicit_by_commit_chain = stmt->kind == TRANS_STMT_COMMIT;
			}
			PG_TRY();
			{
				run_utility(PGXT_PROCESSUTILITY_ARGS);
			}
			PG_CATCH();
			{
				if (xact.open)
					xact.end_requested = false;
				explicit_lxid = InvalidLocalTransactionId;
				explicit_by_commit_chain = false;
				statement_error();
				PG_RE_THROW();
			}
			PG_END_TRY();
			/* a failed block ends here, with no callback */
			if (xact.open && xact.aborted)
				xact_finish(false, GetCurrentTimestamp(), true);
			break;

		case TRANS_STMT_SAVEPOINT:
		case TRANS_STMT_RELEASE:
		case TRANS_STMT_ROLLBACK_TO:
			if (xact.open && !xact.aborted)
			{
				statement_begin(NULL, NULL);
				run_timed_utility(PGXT_PROCESSUTILITY_ARGS);
			}
			else
				run_utility(PGXT_PROCESSUTILITY_ARGS);
			break;

		default:
			/* COMMIT PREPARED, ROLLBACK PREPARED: not a session's xact */
			run_utility(PGXT_PROCESSUTILITY_ARGS);
			break;
	}
}

/*
 * ProcessUtility hook: a top-level utility statement is a statement like
 * any other, except transaction control.
 */
static void
pgxt_ProcessUtility(PGXT_PROCESSUTILITY_PARAMS)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (nesting_level != 0 || !tracking_backend())
	{
		run_utility(PGXT_PROCESSUTILITY_ARGS);
		return;
	}

	if (IsA(parsetree, TransactionStmt))
	{
		transaction_statement((TransactionStmt *) parsetree,
							  PGXT_PROCESSUTILITY_ARGS);
		return;
	}

	statement_begin(pstmt, queryString);
	run_timed_utility(PGXT_PROCESSUTILITY_ARGS);
}

/*
 * Inside a statement (a procedure's COMMIT, VACUUM's own transactions) a
 * new transaction starts as soon as one ends: track it from now on.
 */
static pg_attribute_always_inline void
reopen_if_inside_statement(bool was_in_span, TimestampTz now)
{
	if (likely(!was_in_span || nesting_level == 0))
		return;
	xact_open(now, false);
	if (xact.open)
	{
		xact.span_start = now;
		xact.span_open = true;
		slot_publish(PGXT_STATE_ACTIVE, now);
	}
}

/*
 * The end of a transaction (COMMIT, PREPARE or ABORT event): fold
 * committed, prepared and aborted transactions; a failed block is only
 * marked, its ROLLBACK ends it.
 */
static pg_noinline void
xact_end_event(XactEvent event)
{
	bool		in_span;
	TimestampTz now;

	/*
	 * Exiting: before_shmem_exit callbacks registered after ours (temporary
	 * relations' cleanup) run first and abort the session's transaction,
	 * then run transactions of their own.  The session's transaction ends
	 * here as a rollback, its tail idle unless a statement was running;
	 * the rest is not the client's.
	 */
	if (unlikely(proc_exit_inprogress))
	{
		if (xact.open && event == XACT_EVENT_ABORT)
			xact_finish(false, GetCurrentTimestamp(), false);
		return;
	}

	/* subtransaction ids start over with the next transaction */
	inner_subid = InvalidSubTransactionId;
	if (event == XACT_EVENT_ABORT)
		(void) abort_at_client_level();

	if (unlikely(explicit_by_commit_chain))
	{
		/* a failed commit starts no chained transaction */
		if (event == XACT_EVENT_ABORT)
			explicit_lxid = InvalidLocalTransactionId;
		explicit_by_commit_chain = false;
	}

	if (!xact.open)
	{
		/*
		 * A transaction that failed before any statement reached the
		 * executor (a parse or planning error, a failed Bind) still held
		 * the connection: count it as a rollback without statements.
		 */
		if (event == XACT_EVENT_ABORT && backend_tracking == BACKEND_TRACKED &&
			nesting_level == 0)
		{
			xact_open(GetCurrentTransactionStartTimestamp(), false);
			if (xact.open)
				xact_finish(false, GetCurrentTimestamp(), true);
		}
		return;
	}

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			in_span = xact.span_open;
			/* a read-only commit right after a statement costs nothing */
			if (!in_span && !TransactionIdIsValid(GetTopTransactionIdIfAny()))
				now = xact.last_mark;
			else
				now = GetCurrentTimestamp();
			xact_finish_inline(true, now, true);
			reopen_if_inside_statement(in_span, now);
			break;

		case XACT_EVENT_ABORT:
			in_span = xact.span_open;
			now = GetCurrentTimestamp();
			if (xact.explicit_block && !xact.end_requested && !xact.aborted &&
				nesting_level == 0)
			{
				/* a failed block: held until the client's ROLLBACK */
				span_end(now);
				xact.aborted = true;
				xact.readonly = !TransactionIdIsValid(GetTopTransactionIdIfAny());
				xact.last_mark = now;
				slot_publish(PGXT_STATE_ABORTED, now);
			}
			else
			{
				xact_finish(false, now, true);
				reopen_if_inside_statement(in_span, now);
			}
			break;

		default:
			break;
	}
}

/*
 * Transaction callback.  Called for every step of every transaction: only
 * the end of one matters, and the other steps cost a comparison.
 */
static void
pgxt_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		xact_end_event(event);
}

/*
 * Subtransaction callback.  A subtransaction that starts inside a
 * top-level call (an exception block, a function's savepoint) belongs to
 * the statement; subtransaction ids grow, so the first one, inner_subid,
 * tells the statement's own from the client's savepoints, which start
 * between statements.  An abort of one of the statement's own is an error
 * caught inside it: the statement goes on.  Any other abort is an error
 * that left the statement (the client's savepoint is rolled back): the
 * nesting is over and the failed statement's span ends here.
 */
static void
pgxt_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_START_SUB)
	{
		if (nesting_level > 0 && inner_subid == InvalidSubTransactionId)
			inner_subid = mySubid;
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		if (nesting_level > 0 && inner_subid != InvalidSubTransactionId &&
			mySubid >= inner_subid)
			return;
		nesting_end();
		statement_error();
	}
}

/*
 * before_shmem_exit callback: a session leaving inside a transaction
 * (client gone, terminated, FATAL) ends it as a rollback, its tail idle
 * unless a statement was running; then the slot's pending transactions go
 * into the hash and the slot is released.
 */
static void
backend_exit(int code, Datum arg)
{
	if (my_slot == NULL)
		return;

	if (xact.open)
		xact_finish(false, GetCurrentTimestamp(), false);
	pgxt_store_flush(my_slot, &entry_cache);

	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = 0;
	my_slot->state = PGXT_STATE_NONE;
	my_slot->timeout_kind = PGXT_TIMEOUT_NONE;
	SpinLockRelease(&my_slot->mutex);
	my_slot = NULL;
	backend_tracking = BACKEND_UNTRACKED;
}

/*
 * This backend's slot, or NULL if it is not tracked.
 */
PgxtSlot *
pgxt_hooks_my_slot(void)
{
	return my_slot;
}

/*
 * Assign hook of postgres_extension.tag: the next statement takes it.
 */
void
pgxt_tag_assign_hook(const char *newval, void *extra)
{
	tag_guc_changed = true;
}

/*
 * Install the hooks and the transaction callback, keeping the previous
 * hooks to chain to.  Called once from _PG_init.
 */
void
pgxt_hooks_install(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = pgxt_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = pgxt_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = pgxt_ExecutorFinish;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pgxt_ProcessUtility;
	RegisterXactCallback(pgxt_xact_callback, NULL);
	RegisterSubXactCallback(pgxt_subxact_callback, NULL);
}

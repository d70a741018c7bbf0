/*-------------------------------------------------------------------------
 *
 * hooks.c
 *		The hot path: follows each transaction of a client backend from its
 *		first statement to its end and hands the finished transaction to the
 *		store.
 *
 * The tracked transaction is in one of four states, the ones its backend
 * slot shows (store.h):
 *
 *		NONE	no tracked transaction
 *		ACTIVE	a statement of the client runs (or the commit does)
 *		IDLE	idle in transaction: the server waits for the client
 *		ABORTED idle in a failed block (or after a failed statement in a
 *				savepoint), waiting for ROLLBACK (or ROLLBACK TO)
 *
 * xact_open (NONE -> ACTIVE or IDLE), xact_move (between the three open
 * states) and xact_finish (-> NONE) are the only places that change it, and
 * each publishes the new state in the slot.  Every transition, and what
 * triggers it:
 *
 *		NONE -> ACTIVE		a statement of the client begins; the transaction
 *							started at the arrival of its first message
 *		NONE -> IDLE		BEGIN
 *		IDLE -> ACTIVE		a statement of the client arrives (Parse, Bind,
 *							Execute, or a simple query): the idle gap ends at
 *							its arrival
 *		ABORTED -> ACTIVE	ROLLBACK TO SAVEPOINT, ROLLBACK, COMMIT
 *		ACTIVE -> IDLE		inside a block opened by BEGIN, a statement of
 *							the client returns, or a message ends while its
 *							statement is still to run (an extended-protocol
 *							Parse or Bind): the server waits for the client
 *		ACTIVE -> ABORTED	a statement fails inside a block (the block, or
 *							the client's savepoint, is now failed)
 *		any -> NONE			commit, prepare, abort; a failed block at the
 *							client's ROLLBACK; the session's exit
 *
 * Outside a block opened by BEGIN the transaction ends with its message and
 * the server is busy all along: it stays ACTIVE from its first message to
 * its commit.  Times come from the core's statement timestamps (the
 * arrival of each message, no clock read) and one clock read when a span
 * ends.
 *
 * A statement is the client's when its text is the one the core is
 * running for the client (debug_query_string): queries that functions,
 * triggers or the planner run, even when they open a portal of their own at
 * the top level (a cursor loop in a deferred trigger fired at commit, a
 * function folded at plan time), are not statements; they run nested.
 * nesting_level is 1 while a top-level executor or utility call runs; the
 * top-level call resets it when it returns, and after an error the abort
 * callbacks do (no PG_TRY per statement).
 *
 * Two callbacks let the backend act between the client's messages, where
 * the core calls no hook: a reset callback of MessageContext, which the
 * core resets before it reads the next message ("loop top"), and an error
 * context callback kept at the bottom of the error context stack, which
 * the core calls for every error report whatever the logging settings.
 * The first ends spans left open by a message and re-arms the limits'
 * timers after an error; the second takes the tag of a statement that
 * fails before it runs and words the FATAL of a session that passed its
 * limit (enforce.c).
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
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "parser/analyze.h"
#include "storage/ipc.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "enforce.h"
#include "fingerprints.h"
#include "hooks.h"
#include "postgres_extension.h"
#include "store.h"
#include "tag.h"

/* The transaction this backend is in, as far as it is tracked. */
typedef struct LocalXact
{
	PgxtSlotState state;		/* see the file header */
	bool		housekeeping;	/* autocommit, and only SET, RESET, DISCARD,
								 * SHOW or DEALLOCATE so far (at least one) */
	TimestampTz start;
	TimestampTz span_start;		/* start of the running span (ACTIVE) */
	TimestampTz last_mark;		/* end of the last span, or the start */
	Oid			userid;
	/* from here to rec.readonly: zero when a transaction opens (xact_open) */
	bool		top_aborted;	/* failed block: only its ROLLBACK ends it */
	bool		end_requested;	/* COMMIT, ROLLBACK or PREPARE returned */
	uint64		queryid;		/* of the latest statement */

	/*
	 * The record handed to the store at the end, kept as it goes (its
	 * explicit_block: started by BEGIN or a chained COMMIT; its readonly
	 * once it failed; its steps point to steps below); xact_finish sets the
	 * rest.
	 */
	PgxtXactEnd rec;
	PgxtStep	steps[PGXT_FP_STEPS];
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

/* How a text relates to the statement the core runs for the client. */
typedef enum ClientText
{
	NOT_CLIENT_TEXT = 0,
	CLIENT_TEXT,				/* the message's own text */
	CLIENT_TEXT_COPY			/* a copy of it: a portal started at Bind */
} ClientText;

/* Saved hook values */
static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static bool parse_hook_installed = false;

/* Backend-local state */
static int	nesting_level = 0;
/* the first subtransaction started inside the running top-level call */
static SubTransactionId inner_subid = InvalidSubTransactionId;
static BackendTracking backend_tracking = BACKEND_UNDECIDED;
static PgxtSlot *my_slot = NULL;
static LocalXact xact;
static bool fingerprinting = false;	/* the fingerprints' table exists */

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
static bool savepoint_rollback = false; /* ROLLBACK TO runs: not an error */
static bool tag_guc_changed = true;
static char setting_tag[PGXT_TAG_LEN];	/* the tag setting, stored form */
static bool slot_names_dirty = true;
static bool key_dirty = true;	/* names changed since the key was built */
static const char *appname_seen = NULL; /* application_name last compared */
static PgxtKey xact_key;		/* the key as of the last record */
static Oid	slot_role_userid = InvalidOid;
static PgxtOwner owner;			/* this backend's side of its pending list */

/* The session's role and database names, for the limits' rules. */
static char session_rolename[NAMEDATALEN];
static char session_dbname[NAMEDATALEN];
static PgxtSessionNames session_names;

/*
 * The tag of a comment of the client's failing statement, read when the
 * error was reported (the statement may fail before any hook sees it).
 */
static bool error_tag_valid = false;
static int64 error_tag_statements; /* xact.rec.statements when it was read */
static char error_tag[PGXT_TAG_LEN];

/* The callbacks between the client's messages (see the file header). */
static void loop_top(void *arg);
static void error_reported(void *arg);
static MemoryContextCallback loop_top_callback = {loop_top, NULL, NULL};
static bool loop_top_requested = false;
static ErrorContextCallback error_callback = {NULL, error_reported, NULL};
static bool error_callback_installed = false;

static bool backend_attach(void);
static void backend_exit(int code, Datum arg);
static void xact_finish(bool committed, TimestampTz end, bool tail_active);

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
 * Whether text is the statement the core runs for the client: the text of
 * the message being processed (a simple query), or a copy of it (Bind
 * copies its statement's text into the portal it starts, Execute copies
 * the portal's text before it runs it).  Queries that functions, triggers
 * or the planner run have texts of their own.
 */
static inline ClientText
client_text(const char *text)
{
	if (likely(text == debug_query_string))
		return text != NULL ? CLIENT_TEXT : NOT_CLIENT_TEXT;
	if (text != NULL && debug_query_string != NULL &&
		strcmp(text, debug_query_string) == 0)
		return CLIENT_TEXT_COPY;
	return NOT_CLIENT_TEXT;
}

/*
 * Ask for loop_top to run before the backend reads the client's next
 * message.
 */
static inline void
request_loop_top(void)
{
	if (!loop_top_requested && MessageContext != NULL)
	{
		loop_top_requested = true;
		MemoryContextRegisterResetCallback(MessageContext, &loop_top_callback);
	}
}

/*
 * Keep error_callback at the bottom of the error context stack.  Only the
 * loop top may put it there: PG_TRY blocks restore the stack they found
 * when they end, so anything pushed inside one (every hook runs inside
 * some) is gone when it ends, while what sits below them stays.  The core
 * empties the stack when it recovers from an error, and calls
 * error_reported for that error first, which asks for the loop top.
 */
static inline void
ensure_error_callback(void)
{
	if (unlikely(!error_callback_installed))
		request_loop_top();
}

/*
 * Decide whether this backend is tracked and, if so, claim its slot and
 * arrange for the slot to be released at exit.  May run in an aborting
 * transaction (a session's first statement may fail before any hook), so
 * it reads no catalog: names are looked up at the next statement.
 */
static bool
backend_attach(void)
{
	backend_tracking = BACKEND_UNTRACKED;

	if (!pgxt_store_ready() || IsParallelWorker())
		return false;
	if (MyBackendType != B_BACKEND && !pgxt_is_standalone_backend())
		return false;
	my_slot = pgxt_store_slot(pgxt_my_slot_index());
	if (my_slot == NULL)
		return false;

	session_dbname[0] = '\0';
	session_rolename[0] = '\0';

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
	my_slot->names_version = 0;
	my_slot->appname[0] = '\0';
	my_slot->tag[0] = '\0';
	my_slot->rolename[0] = '\0';
	my_slot->dbname[0] = '\0';
	my_slot->logged_xact_start = 0;
	SpinLockRelease(&my_slot->mutex);

	memset(&xact, 0, sizeof(xact));
	xact.state = PGXT_STATE_NONE;
	xact.rec.steps = xact.steps;
	memset(&owner, 0, sizeof(owner));
	owner.key_index = -1;
	owner.group_index = PGXT_PENDING_GROUPS;
	key_dirty = true;
	session_names.appname = xact.appname;
	session_names.tag = xact.tag;
	session_names.rolename = session_rolename;
	session_names.dbname = session_dbname;
	pgxt_enforce_attach(&session_names);
	fingerprinting = pgxt_fp_ready();
	pgxt_tag_backend_init();
	before_shmem_exit(backend_exit, (Datum) 0);
	backend_tracking = BACKEND_TRACKED;
	request_loop_top();
	return true;
}

/*
 * Copy this backend's view of its transaction into its slot: state, since
 * when, figures; the names only when they changed.  Takes the slot
 * spinlock.
 */
static inline void
slot_publish(PgxtSlotState state, TimestampTz since)
{
	SpinLockAcquire(&my_slot->mutex);
	my_slot->state = state;
	my_slot->state_since = since;
	my_slot->active_us = xact.rec.active_us;
	my_slot->statements = xact.rec.statements;
	my_slot->xact_start = xact.start;
	my_slot->queryid = xact.queryid;
	my_slot->fingerprint = xact.rec.fingerprint;
	my_slot->nsteps = xact.rec.nsteps;
	if (slot_names_dirty)
	{
		my_slot->userid = xact.userid;
		memcpy(my_slot->appname, xact.appname, NAMEDATALEN);
		memcpy(my_slot->tag, xact.tag, PGXT_TAG_LEN);
		my_slot->names_version++;
		slot_names_dirty = false;
	}
	SpinLockRelease(&my_slot->mutex);
}

/*
 * The session's names (tag, application_name, role) changed: the slot,
 * the statistics key and the limits follow.
 */
static pg_noinline void
names_changed(void)
{
	slot_names_dirty = key_dirty = true;
	if (unlikely(pgxt_enforce_attention))
		pgxt_enforce_names_changed(xact.state != PGXT_STATE_NONE ? xact.start : 0);
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
		names_changed();
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
	names_changed();
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
 * Note the session's application_name, role and database, as they are
 * now.  The role's name is looked up only when the role changes, and names
 * are looked up only inside a valid transaction.
 */
static pg_noinline void
note_session_names(void)
{
	Oid			userid = GetUserId();

	note_application_name();
	if (userid != slot_role_userid && IsTransactionState())
	{
		char	   *rolename = GetUserNameFromId(userid, true);

		strlcpy(session_rolename, rolename ? rolename : "", NAMEDATALEN);
		if (session_dbname[0] == '\0')
		{
			char	   *dbname = get_database_name(MyDatabaseId);

			strlcpy(session_dbname, dbname ? dbname : "", NAMEDATALEN);
			if (dbname)
				pfree(dbname);
		}
		SpinLockAcquire(&my_slot->mutex);
		strlcpy(my_slot->rolename, session_rolename, NAMEDATALEN);
		strlcpy(my_slot->dbname, session_dbname, NAMEDATALEN);
		SpinLockRelease(&my_slot->mutex);
		if (rolename)
			pfree(rolename);
		slot_role_userid = userid;
		names_changed();
	}
	if (userid != xact.userid)
	{
		xact.userid = userid;
		names_changed();
	}
}

/*
 * NONE -> state: begin tracking the current transaction, which started at
 * start, in state ACTIVE (a statement of the client runs) or IDLE (BEGIN),
 * and publish it unless the caller does (statement_begin, once it has
 * counted the statement).  Does nothing when tracking is off.
 */
static pg_attribute_always_inline void
xact_open(TimestampTz start, PgxtSlotState state, bool publish)
{
	if (unlikely(pgxt_track == PGXT_TRACK_NONE))
	{
		appname_seen = NULL;	/* untracked transactions may change it */
		return;
	}

	/* one memset: the fields from top_aborted to rec.readonly */
	memset(&xact.top_aborted, 0,
		   offsetof(LocalXact, rec.readonly) - offsetof(LocalXact, top_aborted));
	xact.housekeeping = true;
	xact.start = start;
	xact.span_start = start;
	xact.last_mark = start;
	if (unlikely(explicit_lxid != InvalidLocalTransactionId))
	{
		xact.rec.explicit_block = explicit_lxid == pgxt_my_lxid();
		xact.housekeeping = !xact.rec.explicit_block;
		explicit_lxid = InvalidLocalTransactionId;
	}

	/* the tag setting as it is now, empty included */
	if (unlikely(tag_guc_changed))
		setting_tag_refresh();
	if (unlikely(setting_tag[0] != '\0' || xact.tag[0] != '\0'))
		set_xact_tag(setting_tag);

	check_application_name();
	/* SET ROLE and the like are utility statements, which look again */
	if (unlikely(GetUserId() != xact.userid || xact.userid != slot_role_userid))
		note_session_names();

	xact.state = state;
	if (unlikely(pgxt_enforce_attention))
		pgxt_enforce_xact_begin(start);
	if (publish)
		slot_publish(state, start);
}

/*
 * An idle gap of gap_us ended: the longest so far, and the idle time after
 * the latest step (before the first, if none yet).
 */
static pg_attribute_always_inline void
note_gap(int64 gap_us)
{
	if (gap_us > xact.rec.max_idle_us)
		xact.rec.max_idle_us = gap_us;
	if (gap_us > 0)
	{
		xact.rec.idle = true;
		if (xact.rec.nsteps > 0)
			xact.steps[xact.rec.nsteps - 1].idle_us += gap_us;
		else
			xact.rec.first_gap_us += gap_us;
	}
}

/*
 * A statement of query id queryid (not 0) that is not the latest one's:
 * a new step of the transaction's fingerprint.  Past the steps kept, the
 * last one kept takes the rest's idle time.
 */
static pg_attribute_always_inline void
step_begin(uint64 queryid)
{
	xact.rec.fingerprint = hash_combine64(xact.rec.fingerprint, queryid);
	if (likely(xact.rec.nsteps < PGXT_FP_STEPS))
	{
		xact.steps[xact.rec.nsteps].queryid = queryid;
		xact.steps[xact.rec.nsteps].idle_us = 0;
		xact.rec.nsteps++;
	}
	else
		xact.rec.steps_truncated = true;
}

/*
 * The one place where an open transaction changes state: move it to "to"
 * at time "at" and, if publish, publish it.  Leaving ACTIVE ends the
 * running span at at; entering ACTIVE ends the idle gap at at (never
 * before the gap's start).  Opening is xact_open's, closing xact_finish's.
 */
static pg_attribute_always_inline void
xact_move(PgxtSlotState to, TimestampTz at, bool publish)
{
	Assert(xact.state != PGXT_STATE_NONE && to != PGXT_STATE_NONE);

	if (xact.state == PGXT_STATE_ACTIVE)
	{
		if (to != PGXT_STATE_ACTIVE)
		{
			/* a span ends: the server waits for the client from now */
			if (at > xact.span_start)
				xact.rec.active_us += at - xact.span_start;
			xact.last_mark = Max(at, xact.span_start);
			if (unlikely(pgxt_enforce_attention))
				pgxt_enforce_gap_begin(xact.last_mark, xact.start);
		}
	}
	else if (to == PGXT_STATE_ACTIVE)
	{
		/* a gap ends: the client's next statement arrived at at */
		at = Max(at, xact.last_mark);
		note_gap(at - xact.last_mark);
		xact.span_start = at;
		if (unlikely(pgxt_enforce_attention))
			pgxt_enforce_gap_end();
	}
	else if (unlikely(pgxt_enforce_attention) && to != xact.state)
		pgxt_enforce_gap_begin(xact.last_mark, xact.start);
	xact.state = to;
	if (publish)
		slot_publish(to, to == PGXT_STATE_ACTIVE ? xact.span_start : xact.last_mark);
}

/*
 * The names changed since the key was last built: rebuild it if it now
 * differs (a name may have changed and changed back, like a tag set per
 * transaction).
 */
static pg_noinline void
key_refresh(void)
{
	key_dirty = false;
	if (xact_key.dbid == MyDatabaseId && xact_key.userid == xact.userid &&
		strcmp(xact_key.tag, xact.tag) == 0 &&
		strcmp(xact_key.appname, xact.appname) == 0)
		return;

	memset(&xact_key, 0, sizeof(xact_key));
	xact_key.dbid = MyDatabaseId;
	xact_key.userid = xact.userid;
	strlcpy(xact_key.appname, xact.appname, NAMEDATALEN);
	strlcpy(xact_key.tag, xact.tag, PGXT_TAG_LEN);
	owner.key_index = -1;
	owner.group_index = PGXT_PENDING_GROUPS;
}

/*
 * X -> NONE: hand the tracked transaction to the store and forget it.  end
 * is its end; the time since the last span counts as active when
 * tail_active (commit or abort work done for the client), else as an idle
 * gap.
 *
 * One slot spinlock section marks the slot out of transaction and adds the
 * transaction to the slot's pending sums (store.h), unless it was only a
 * pooler's or a driver's housekeeping (an autocommit transaction of SET,
 * RESET, DISCARD, SHOW or DEALLOCATE), which is only counted.  A long
 * enough list is then folded into the statistics if the lock is free.
 */
static pg_attribute_always_inline void
xact_finish_inline(bool committed, TimestampTz end, bool tail_active)
{
	PgxtXactEnd *x = &xact.rec;
	bool		housekeeping;
	bool		added = false;
	bool		flush_due = false;

	if (xact.state == PGXT_STATE_ACTIVE)
	{
		if (end > xact.span_start)
			x->active_us += end - xact.span_start;
	}
	else if (end > xact.last_mark)
	{
		if (tail_active)
			x->active_us += end - xact.last_mark;
		else
			note_gap(end - xact.last_mark);
	}
	x->end = end;
	x->hold_us = Max(end - xact.start, 0);
	x->active_us = Min(x->active_us, x->hold_us);
	x->max_idle_us = Min(x->max_idle_us, x->hold_us - x->active_us);
	x->committed = committed;
	if (!xact.top_aborted)
		x->readonly = !TransactionIdIsValid(GetTopTransactionIdIfAny());

	/* the key is as of the last statement: a failed block's is kept */
	if (!xact.top_aborted)
	{
		note_tag_setting();
		check_application_name();
	}
	else
		appname_seen = NULL;	/* not compared since: look next time */
	if (unlikely(key_dirty))
		key_refresh();
	if (unlikely(pgxt_enforce_attention))
	{
		x->timed_out = pgxt_enforce_verdict() != PGXT_TIMEOUT_NONE;
		pgxt_enforce_xact_end();
	}
	housekeeping = xact.housekeeping;

	SpinLockAcquire(&my_slot->mutex);
	/* the watchdog reported it, in log mode */
	if (unlikely(my_slot->logged_xact_start != 0))
		x->timed_out |= my_slot->logged_xact_start == xact.start;
	if (likely(!housekeeping))
	{
		added = pgxt_slot_add_xact(my_slot, &owner, &xact_key, x);
		flush_due = pgxt_slot_flush_due(my_slot);
	}
	my_slot->state = PGXT_STATE_NONE;
	my_slot->state_since = end;
	my_slot->xact_start = 0;
	my_slot->queryid = 0;
	my_slot->logged_xact_start = 0;
	SpinLockRelease(&my_slot->mutex);

	xact.state = PGXT_STATE_NONE;
	xact.top_aborted = false;
	error_tag_valid = false;
	if (unlikely(!added))
	{
		if (housekeeping)
			pgxt_store_count_housekeeping();
		else
			pgxt_store_add_waiting(my_slot, &owner, &xact_key, x);
	}
	else if (unlikely(flush_due))
		(void) pgxt_store_flush(my_slot, &owner, false);
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
	xact_open(GetCurrentTransactionStartTimestamp(), PGXT_STATE_ACTIVE, false);
	return xact.state != PGXT_STATE_NONE;
}

/*
 * Whether a utility statement is a session's housekeeping: what poolers
 * and drivers send when a client takes a connection.
 */
static inline bool
housekeeping_statement(const PlannedStmt *stmt)
{
	Node	   *utility = stmt->utilityStmt;

	return utility != NULL &&
		(IsA(utility, VariableSetStmt) || IsA(utility, VariableShowStmt) ||
		 IsA(utility, DiscardStmt) || IsA(utility, DeallocateStmt));
}

/*
 * A statement of the client begins: open the transaction if needed, end
 * the idle gap at the statement's arrival, take its tag.  stmt and its
 * text: the statement, which counts toward "statements"; NULL for a
 * portal's later executor calls and for transaction control, which do not.
 * utility: it comes from ProcessUtility (it may be housekeeping).
 */
static pg_attribute_always_inline void
statement_begin(const PlannedStmt *stmt, const char *text, bool utility)
{
	ensure_error_callback();
	if (xact.state == PGXT_STATE_NONE)
	{
		xact_open(GetCurrentTransactionStartTimestamp(), PGXT_STATE_ACTIVE, false);
		if (unlikely(xact.state == PGXT_STATE_NONE))
			return;
		if (unlikely(stmt == NULL))
			xact.housekeeping = false;	/* a portal's run, not a SET */
	}
	else
	{
		if (xact.state != PGXT_STATE_ACTIVE)
		{
			if (unlikely(xact.top_aborted) && !failed_block_ended())
				return;
			if (xact.state != PGXT_STATE_ACTIVE)
			{
				/* outside a BEGIN block there is no gap: all of it is active */
				xact_move(PGXT_STATE_ACTIVE, xact.rec.explicit_block ?
						  GetCurrentStatementStartTimestamp() : xact.last_mark,
						  false);
			}
		}
		else if (stmt == NULL)
			return;				/* a span of it runs already */
		/* xact_open has just looked at the setting */
		note_tag_setting();
	}

	if (stmt != NULL)
	{
		/* the core's query id is int64 from 18, uint64 before */
		uint64		queryid = (uint64) stmt->queryId;

		xact.rec.statements++;
		if (queryid != xact.queryid)
		{
			xact.queryid = queryid;
			if (likely(fingerprinting) && queryid != 0)
				step_begin(queryid);
		}
		if (!utility)
			xact.housekeeping = false;
		else if (xact.housekeeping && !housekeeping_statement(stmt))
			xact.housekeeping = false;
		if (pgxt_tag_comment_key[0] != '\0' &&
			pgxt_comment_possible(text, stmt->stmt_location, stmt->stmt_len))
			note_comment_tag(text, stmt->stmt_location, stmt->stmt_len);
	}
	slot_publish(PGXT_STATE_ACTIVE, xact.span_start);
}

/*
 * A portal's later executor call when no span of it is running (a portal
 * executed in a later message than the one that started it, a failed
 * block, a transaction that ended under it).
 */
static pg_noinline void
statement_resume_span(void)
{
	statement_begin(NULL, NULL, false);
}

/*
 * A portal's later executor call (ExecutorRun, ExecutorFinish): usually the
 * span its ExecutorStart opened is still running and there is nothing to do.
 */
static inline void
statement_resume(void)
{
	if (unlikely(xact.state != PGXT_STATE_ACTIVE))
		statement_resume_span();
}

/*
 * A statement of the client returned.  In a block opened by BEGIN its span
 * ends now: what follows is the client's.  Otherwise the transaction ends
 * with its message: its span runs on into the next statement of the same
 * query string or into the commit, whose callback reads the clock anyway;
 * the server is busy all that time.
 */
static inline void
statement_done(void)
{
	if (xact.rec.explicit_block && xact.state == PGXT_STATE_ACTIVE)
	{
		note_tag_setting();
		xact_move(PGXT_STATE_IDLE, GetCurrentTimestamp(), true);
	}
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
 * The client's statement failed: take the tag of its comment if it failed
 * before a hook saw it (error_reported read it).
 */
static inline void
note_error_tag(void)
{
	if (unlikely(error_tag_valid))
	{
		error_tag_valid = false;
		if (error_tag_statements == xact.rec.statements)
			set_xact_tag(error_tag);
	}
}

/*
 * A session's first message failed before any hook ran, so error_reported
 * was not on the error context stack to read its comment: read it from the
 * text the core's activity statistics keep, if they do.
 */
static pg_noinline void
first_message_error_tag(void)
{
	const char *text = pgxt_my_activity_text();

	/* always NULL before 14 */
	/* cppcheck-suppress knownConditionTrueFalse */
	if (text != NULL && pgxt_tag_comment_key[0] != '\0' &&
		pgxt_comment_possible(text, -1, 0))
	{
		error_tag_valid = pgxt_comment_tag(text, -1, 0, pgxt_tag_comment_key,
										   error_tag, sizeof(error_tag));
		error_tag_statements = 0;
	}
}

/*
 * post_parse_analyze hook, installed by extended_protocol_seen.  An
 * extended-protocol Parse inside a block is the arrival of the client's
 * next statement: the idle gap ends there, not at its Bind or Execute, so
 * parse analysis and rewrite count as active.  The span ends at the loop
 * top if the statement does not run in the same message.  (A simple
 * query's statements run in the message that parses them, from its arrival
 * on; a Parse is told apart by its parameter hook.)
 */
static void
pgxt_post_parse_analyze(PGXT_POST_PARSE_ANALYZE_PARAMS)
{
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(PGXT_POST_PARSE_ANALYZE_ARGS);

	if (pstate->p_paramref_hook != NULL && xact.state == PGXT_STATE_IDLE &&
		nesting_level == 0 && backend_tracking == BACKEND_TRACKED &&
		xact.rec.explicit_block && pstate->p_sourcetext == debug_query_string)
	{
		xact_move(PGXT_STATE_ACTIVE, GetCurrentStatementStartTimestamp(), true);
		request_loop_top();
	}
}

/*
 * The client uses the extended protocol (a portal started at Bind): install
 * the post_parse_analyze hook, once, so that a Parse inside a block is the
 * arrival of its statement (pgxt_post_parse_analyze), and end at the loop
 * top the span of a statement bound here but run by a later Execute.  The
 * hook is installed in this backend only, chained like any other: sessions
 * that use only simple queries, whose statements run in the message that
 * parses them, never pay for it.
 */
static pg_noinline void
extended_protocol_seen(void)
{
	if (!parse_hook_installed)
	{
		prev_post_parse_analyze = post_parse_analyze_hook;
		post_parse_analyze_hook = pgxt_post_parse_analyze;
		parse_hook_installed = true;
	}
	if (xact.rec.explicit_block)
		request_loop_top();
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
 * ExecutorStart hook: a statement of the client begins, or a query that is
 * not the client's starts at the top level (a cursor of a function folded
 * at plan time, or of a deferred trigger at commit): it nests.
 */
static void
pgxt_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	ClientText	client;

	if (nesting_level > 0 || !tracking_backend())
	{
		run_executor_start(queryDesc, eflags);
		return;
	}

	client = client_text(queryDesc->sourceText);
	if (client != NOT_CLIENT_TEXT)
	{
		statement_begin(queryDesc->plannedstmt, queryDesc->sourceText, false);
		/* started at Bind, run by a later Execute: a gap may come between */
		if (unlikely(client == CLIENT_TEXT_COPY))
			extended_protocol_seen();
	}

	/* functions that start-up runs (initial partition pruning) nest */
	nesting_level = 1;
	run_executor_start(queryDesc, eflags);
	nesting_end();
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
 * The client's statement whose plan ExecutorRun is about to run, in the
 * uncommon cases: a copy of the client's text (a portal run by a later
 * Execute), or no span of it running.  Returns whether the statement's
 * span ends when the run returns (see pgxt_ExecutorRun).
 */
static pg_noinline bool
executor_run_begin(QueryDesc *queryDesc)
{
	if (client_text(queryDesc->sourceText) == NOT_CLIENT_TEXT)
		return false;
	statement_resume();
	return xact.rec.explicit_block && ends_with_run(queryDesc);
}

/*
 * ExecutorRun hook: runs a query's plan; nested queries run inside it.  A
 * query is the client's statement when the core runs its text for the
 * client.  Most often it is the message's own text and its span runs
 * already (ExecutorStart opened it): then only a plain SELECT in a block
 * opened by BEGIN has anything to do after the run, end its span.
 *
 * No PG_TRY here: after an error that leaves a top-level call, the abort
 * callbacks reset nesting_level (see abort_at_client_level and
 * pgxt_subxact_callback).
 */
static void
pgxt_ExecutorRun(PGXT_EXECUTORRUN_PARAMS)
{
	bool		span_ends;

	if (nesting_level > 0 || !tracking_backend())
	{
		run_executor(PGXT_EXECUTORRUN_ARGS);
		return;
	}

	if (likely(queryDesc->sourceText == debug_query_string &&
			   xact.state == PGXT_STATE_ACTIVE && debug_query_string != NULL))
		span_ends = xact.rec.explicit_block && ends_with_run(queryDesc);
	else
		span_ends = executor_run_begin(queryDesc);
	nesting_level = 1;
	run_executor(PGXT_EXECUTORRUN_ARGS);
	nesting_end();

	if (span_ends)
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
 * ExecutorFinish of a query that may run SQL, at the top level: a client
 * statement's AFTER triggers fire here, inside the statement.  Errors are
 * handled as in pgxt_ExecutorRun.
 */
static pg_noinline void
executor_finish_top(QueryDesc *queryDesc)
{
	bool		client = client_text(queryDesc->sourceText) != NOT_CLIENT_TEXT;

	if (client)
		statement_resume();

	nesting_level = 1;
	run_executor_finish(queryDesc);
	nesting_end();

	if (client)
		statement_done();
}

/*
 * ExecutorFinish hook.  A plain SELECT's ExecutorFinish runs no SQL (no
 * ModifyTable, no AFTER trigger queued at its level): nothing to nest or
 * time.
 */
static void
pgxt_ExecutorFinish(QueryDesc *queryDesc)
{
	if (ends_with_run(queryDesc) || nesting_level > 0 || !tracking_backend())
		run_executor_finish(queryDesc);
	else
		executor_finish_top(queryDesc);
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
 * Run a utility statement nested: what it runs is not the client's.
 */
static void
run_nested_utility(PGXT_PROCESSUTILITY_PARAMS)
{
	nesting_level = 1;
	run_utility(PGXT_PROCESSUTILITY_ARGS);
	nesting_end();
}

/*
 * Run a top-level utility statement whose span statement_begin opened;
 * the span ends when it returns, or in the abort callbacks if it fails.
 */
static void
run_timed_utility(PGXT_PROCESSUTILITY_PARAMS)
{
	run_nested_utility(PGXT_PROCESSUTILITY_ARGS);
	/* SET application_name, SET ROLE: show them from now on */
	if (xact.state != PGXT_STATE_NONE)
		note_session_names();
	statement_done();
}

/*
 * Transaction control of the client: BEGIN marks the transaction explicit;
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
			ensure_error_callback();
			run_utility(PGXT_PROCESSUTILITY_ARGS);
			if (xact.state == PGXT_STATE_NONE)
				xact_open(GetCurrentTransactionStartTimestamp(), PGXT_STATE_IDLE, true);
			if (xact.state != PGXT_STATE_NONE)
			{
				xact.rec.explicit_block = true;
				xact.housekeeping = false;
			}
			else
				explicit_lxid = pgxt_my_lxid();	/* for when tracking comes on */
			break;

		case TRANS_STMT_COMMIT:
		case TRANS_STMT_ROLLBACK:
		case TRANS_STMT_PREPARE:
			if (xact.state != PGXT_STATE_NONE && xact.state != PGXT_STATE_ACTIVE)
				xact_move(PGXT_STATE_ACTIVE, GetCurrentStatementStartTimestamp(),
						  true);

			/*
			 * The statement only marks the block: the transaction ends when
			 * the statement has returned (finish_xact_command), so what
			 * follows it is recorded only once it returns.  If it fails, the
			 * block is failed like after any other statement, and no chain
			 * starts.
			 */
			run_utility(PGXT_PROCESSUTILITY_ARGS);
			if (xact.state != PGXT_STATE_NONE)
				xact.end_requested = true;
			if (stmt->chain)
			{
				/* the chained transaction starts right after this one */
				explicit_lxid = pgxt_my_lxid() + 1;
				if (explicit_lxid == InvalidLocalTransactionId)
					explicit_lxid++;
				explicit_by_commit_chain = stmt->kind == TRANS_STMT_COMMIT;
			}
			/* a failed block ends here, with no callback */
			if (xact.state != PGXT_STATE_NONE && xact.top_aborted)
				xact_finish(false, GetCurrentTimestamp(), true);
			break;

		case TRANS_STMT_SAVEPOINT:
		case TRANS_STMT_RELEASE:
		case TRANS_STMT_ROLLBACK_TO:
			if (xact.state != PGXT_STATE_NONE && !xact.top_aborted)
			{
				statement_begin(NULL, NULL, true);
				run_timed_utility(PGXT_PROCESSUTILITY_ARGS);
				/* the savepoint's abort that follows is not an error */
				savepoint_rollback = stmt->kind == TRANS_STMT_ROLLBACK_TO;
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
 * ProcessUtility hook: a utility statement of the client is a statement
 * like any other, except transaction control; one that is not the client's
 * at the top level (run by a deferred trigger at commit) nests.
 */
static void
pgxt_ProcessUtility(PGXT_PROCESSUTILITY_PARAMS)
{
	Node	   *parsetree = pstmt->utilityStmt;
	ClientText	client;

	if (nesting_level != 0 || !tracking_backend())
	{
		run_utility(PGXT_PROCESSUTILITY_ARGS);
		return;
	}
	client = client_text(queryString);
	if (client == NOT_CLIENT_TEXT)
	{
		run_nested_utility(PGXT_PROCESSUTILITY_ARGS);
		return;
	}
	if (unlikely(client == CLIENT_TEXT_COPY) && !parse_hook_installed)
		extended_protocol_seen();

	if (IsA(parsetree, TransactionStmt))
	{
		transaction_statement((TransactionStmt *) parsetree,
							  PGXT_PROCESSUTILITY_ARGS);
		return;
	}

	statement_begin(pstmt, queryString, true);
	run_timed_utility(PGXT_PROCESSUTILITY_ARGS);
}

/*
 * Inside a statement (a procedure's COMMIT, VACUUM's own transactions) a
 * new transaction starts as soon as one ends: track it from now on.
 */
static pg_attribute_always_inline void
reopen_if_inside_statement(bool was_active, TimestampTz now)
{
	if (likely(!was_active || nesting_level == 0))
		return;
	xact_open(now, PGXT_STATE_ACTIVE, true);
	xact.housekeeping = false;
}

/*
 * The end of a transaction (COMMIT, PREPARE or ABORT event): fold
 * committed, prepared and aborted transactions; a failed block is only
 * marked, its ROLLBACK ends it.
 */
static pg_noinline void
xact_end_event(XactEvent event)
{
	bool		was_active;
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
		if (xact.state != PGXT_STATE_NONE && event == XACT_EVENT_ABORT)
			xact_finish(false, GetCurrentTimestamp(),
						xact.state == PGXT_STATE_ACTIVE);
		return;
	}

	/* subtransaction ids start over with the next transaction */
	inner_subid = InvalidSubTransactionId;
	if (event == XACT_EVENT_ABORT)
	{
		(void) abort_at_client_level();
		savepoint_rollback = false;
	}

	if (unlikely(explicit_by_commit_chain))
	{
		/* a failed commit starts no chained transaction */
		if (event == XACT_EVENT_ABORT)
			explicit_lxid = InvalidLocalTransactionId;
		explicit_by_commit_chain = false;
	}

	if (xact.state == PGXT_STATE_NONE)
	{
		/*
		 * A transaction that failed before any statement reached the
		 * executor (a parse or planning error, a failed Bind) still held
		 * the connection: count it as a rollback without statements, under
		 * the tag of its statement's comment.
		 */
		if (event == XACT_EVENT_ABORT && nesting_level == 0 &&
			tracking_backend())
		{
			xact_open(GetCurrentTransactionStartTimestamp(), PGXT_STATE_ACTIVE,
					  false);
			if (xact.state != PGXT_STATE_NONE)
			{
				if (!error_callback_installed && !error_tag_valid)
					first_message_error_tag();
				note_error_tag();
				xact.housekeeping = false;
				xact_finish(false, GetCurrentTimestamp(), true);
			}
		}
		return;
	}

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			was_active = xact.state == PGXT_STATE_ACTIVE;
			/* a read-only commit right after a statement costs nothing */
			if (!was_active && !TransactionIdIsValid(GetTopTransactionIdIfAny()))
				now = xact.last_mark;
			else
				now = GetCurrentTimestamp();
			xact_finish_inline(true, now, true);
			reopen_if_inside_statement(was_active, now);
			break;

		case XACT_EVENT_ABORT:
			was_active = xact.state == PGXT_STATE_ACTIVE;
			now = GetCurrentTimestamp();
			if (nesting_level == 0)
				note_error_tag();
			if (xact.rec.explicit_block && !xact.end_requested &&
				!xact.top_aborted && nesting_level == 0)
			{
				/* a failed block: held until the client's ROLLBACK */
				xact.rec.readonly = !TransactionIdIsValid(GetTopTransactionIdIfAny());
				xact.top_aborted = true;
				xact_move(PGXT_STATE_ABORTED, now, true);
			}
			else
			{
				xact_finish(false, now, true);
				reopen_if_inside_statement(was_active, now);
			}
			break;

		default:
			break;
	}
}

/*
 * Transaction callback.  Called for every step of every transaction: only
 * the end of one matters, and the start of its commit when limits are
 * enforced; the other steps cost a comparison.
 */
static void
pgxt_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		xact_end_event(event);
	else if (unlikely(pgxt_enforce_attention) &&
			 (event == XACT_EVENT_PRE_COMMIT ||
			  event == XACT_EVENT_PRE_PREPARE))
		pgxt_enforce_pre_commit();
}

/*
 * Subtransaction callback.  A subtransaction that starts inside a
 * top-level call (an exception block, a function's savepoint) belongs to
 * the statement; subtransaction ids grow, so the first one, inner_subid,
 * tells the statement's own from the client's savepoints, which start
 * between statements.  An abort of one of the statement's own is an error
 * caught inside it: the statement goes on.  Any other abort is the
 * client's savepoint rolled back: by ROLLBACK TO, or by an error that left
 * the statement, whose nesting is over and whose block is now failed
 * until ROLLBACK TO.
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
		if (savepoint_rollback || xact.state == PGXT_STATE_NONE ||
			xact.end_requested || proc_exit_inprogress)
			return;
		note_error_tag();
		if (xact.state != PGXT_STATE_ABORTED)
			xact_move(PGXT_STATE_ABORTED, GetCurrentTimestamp(), true);
	}
}

/*
 * Reset callback of MessageContext: runs before the backend reads the
 * client's next message, once per request_loop_top.  A span still open in
 * a block belongs to a statement that runs in a later message (a Parse, a
 * portal bound for a later Execute): the server waits for the client now.
 * The error callback goes back to the bottom of the (emptied) stack, and
 * the limits' timers are armed again if an error may have disabled them.
 * Must not call request_loop_top: the core is running the reset callbacks.
 */
static void
loop_top(void *arg)
{
	loop_top_requested = false;
	if (backend_tracking != BACKEND_TRACKED)
		return;
	if (error_context_stack == NULL)
		error_context_stack = &error_callback;
	error_callback_installed = error_context_stack == &error_callback;
	if (xact.state == PGXT_STATE_ACTIVE && xact.rec.explicit_block &&
		!xact.end_requested && nesting_level == 0)
		xact_move(PGXT_STATE_IDLE, GetCurrentTimestamp(), true);
	if (unlikely(pgxt_enforce_attention))
		pgxt_enforce_rearm();
}

/*
 * Error context callback, at the bottom of the stack: the core calls it
 * for every error report (and every message it sends), before the report
 * goes out.  It must not fail nor allocate outside the error context.
 *
 * When the report comes from the client's statement at the top level (a
 * parse, analysis or planning error, before any hook ran for it), the tag
 * of the statement's comment is read now, while its text is at hand: the
 * abort callbacks give it to the failed transaction.  The limits may word
 * the report (enforce.c).  Loop top is requested so that, if this is an
 * error, the callback goes back on the stack after the recovery.
 */
static void
error_reported(void *arg)
{
	if (backend_tracking != BACKEND_TRACKED)
		return;
	error_callback_installed = false;	/* the recovery may empty the stack */
	if (nesting_level == 0 && debug_query_string != NULL &&
		pgxt_tag_comment_key[0] != '\0' &&
		pgxt_comment_possible(debug_query_string, -1, 0))
	{
		error_tag_valid = pgxt_comment_tag(debug_query_string, -1, 0,
										   pgxt_tag_comment_key,
										   error_tag, sizeof(error_tag));
		error_tag_statements =
			xact.state == PGXT_STATE_NONE ? 0 : xact.rec.statements;
	}
	if (unlikely(pgxt_enforce_attention))
		(void) pgxt_enforce_error_report();
	request_loop_top();
}

/*
 * before_shmem_exit callback: a session leaving inside a transaction
 * (client gone, terminated, FATAL) ends it as a rollback, its tail idle
 * unless a statement was running; then the slot's pending transactions go
 * into the hash, the limits record what they did, and the slot is
 * released.
 */
static void
backend_exit(int code, Datum arg)
{
	if (my_slot == NULL)
		return;

	if (xact.state != PGXT_STATE_NONE)
		xact_finish(false, GetCurrentTimestamp(),
					xact.state == PGXT_STATE_ACTIVE);
	(void) pgxt_store_flush(my_slot, &owner, true);
	pgxt_enforce_record_exit(xact.userid, MyDatabaseId);

	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = 0;
	my_slot->state = PGXT_STATE_NONE;
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
 * Install the hooks and the transaction callbacks, keeping the previous
 * hooks to chain to.  Called once from _PG_init.  (The post_parse_analyze
 * hook is installed by the backends that use the extended protocol:
 * extended_protocol_seen.)
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

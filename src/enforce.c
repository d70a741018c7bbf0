/*-------------------------------------------------------------------------
 *
 * enforce.c
 *		The limits on a session's transactions: the settings that give them
 *		(idle_in_transaction_timeout, transaction_timeout, timeout_rules,
 *		timeout_action), the limits that apply to a session, and, in
 *		terminate mode, their enforcement inside the session's own backend.
 *
 * A backend enforces its own limits, as the core does for its
 * idle_in_transaction_session_timeout and transaction_timeout: no other
 * process judges it, so it can never end a transaction other than the one
 * that passed its limit.  The hooks (hooks.c) tell this file when a tracked
 * transaction opens, when an idle gap inside it begins and ends, when it
 * commits and when it ends; two timers of the core's timeout machinery
 * (one per limit) fire at the deadlines.  A timer's handler runs in signal
 * context: it only reads the state below, re-arms itself when the deadline
 * moved, and when the limit really passed it records the verdict and asks
 * the backend to die the way SIGTERM does (ProcDiePending).  The core then
 * raises its FATAL "terminating connection due to administrator command"
 * at its next interrupt check: while the session waits for its client, at
 * once.  hooks.c's error context callback, which runs for every error
 * report whatever the logging settings, has pgxt_enforce_word_fatal turn
 * that FATAL into one that names the limit and the rule, with the core's
 * SQLSTATEs 25P03 (idle) and 25P04 (transaction), before it reaches the
 * client and the server log.  At exit the backend records the event.
 *
 * What makes this exact:
 * - the idle timer kills only a session that is waiting for its client
 *   (wait event ClientRead) in the same idle gap: a message that arrived
 *   since (a statement being parsed, a lock wait in parse analysis, a
 *   fast-path call) starts the gap over;
 * - once the commit has begun (PRE_COMMIT, PRE_PREPARE) the timers are off
 *   and the handlers do nothing, and a verdict given before is carried out
 *   there, before the commit record: a session is never told that a
 *   transaction was rolled back when it committed;
 * - the timers are disarmed when the transaction ends, and a verdict
 *   names the transaction it was given in.
 *
 * In log mode (timeout_action = log) nothing is armed here: the watchdog
 * (watchdog.c) reports sessions past their limits.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/enforce.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/elog.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "enforce.h"
#include "postgres_extension.h"
#include "rules.h"
#include "store.h"

/* The core's SQLSTATE for transaction_timeout (17+), defined here for all. */
#define PGXT_ERRCODE_TRANSACTION_TIMEOUT MAKE_SQLSTATE('2','5','P','0','4')

/*
 * How soon the idle timer looks again at a session that is past its idle
 * deadline but busy with a message of its client (ms).
 */
#define IDLE_RECHECK_MS		50

/*---- GUC variables ----*/
int			pgxt_idle_timeout_ms = 0;
int			pgxt_xact_timeout_ms = 0;
char	   *pgxt_timeout_rules = NULL;
int			pgxt_timeout_action = PGXT_ACTION_TERMINATE;

/* See enforce.h. */
bool		pgxt_enforce_attention = true;

/* The parsed rules, owned by the GUC machinery (the setting's "extra"). */
static PgxtRuleSet *active_rules = NULL;

/*
 * The backend side.  session_names points into hooks.c's state; limits are
 * resolved from them and kept until the names or the settings change.
 */
static bool settings_dirty = true;	/* settings changed since applied */
static bool enforce_on = false;	/* terminate mode, some limit set */
static const PgxtSessionNames *session_names = NULL;
static bool limits_valid = false;
static PgxtLimits limits;
static bool timers_registered = false;
static TimeoutId idle_timer;
static TimeoutId xact_timer;
static bool idle_armed = false;
static bool xact_armed = false;
static bool rearm_needed = false;	/* an error may have disabled the timers */
static bool fatal_worded = false;

/*
 * What the timer handlers read.  The main line writes a deadline's base
 * before it sets the flag that lets a handler use it, and clears the flag
 * before it changes it; handlers run in this same thread, so volatile
 * accesses in program order are enough.
 */
static volatile sig_atomic_t in_xact = false;	/* a judged xact is open */
static volatile sig_atomic_t in_gap = false;	/* idle since gap_start_ts */
static volatile sig_atomic_t committing = false;	/* its commit has begun */
static volatile sig_atomic_t verdict = PGXT_TIMEOUT_NONE;
static volatile TimestampTz xact_start_ts = 0;
static volatile TimestampTz gap_start_ts = 0;
static volatile int armed_idle_ms = 0;
static volatile int armed_xact_ms = 0;
static volatile int armed_idle_rule = -1;
static volatile int armed_xact_rule = -1;

/* The verdict's figures, written by the handler before verdict. */
static volatile int64 verdict_elapsed_us = 0;
static volatile int verdict_limit_ms = 0;
static volatile int verdict_rule = -1;

static void apply_settings(void);

/*
 * Whether a backend enforces anything with these settings: terminate mode
 * and some limit set by a default or a rule.
 */
static bool
compute_enforce_on(int idle_ms, int xact_ms, int action,
				   const PgxtRuleSet *rules)
{
	int			i;

	if (action != PGXT_ACTION_TERMINATE)
		return false;
	if (idle_ms > 0 || xact_ms > 0)
		return true;
	for (i = 0; rules != NULL && i < rules->nrules; i++)
	{
		if (rules->rules[i].idle_ms > 0 || rules->rules[i].xact_ms > 0)
			return true;
	}
	return false;
}

/*
 * A setting changed.  Assign hooks run before the variable takes its new
 * value, so nothing is resolved here: the next call from the hooks applies
 * the settings.  A reload thus reaches a session when it next sends a
 * statement, as the core's own settings do.
 */
static void
settings_changed(void)
{
	settings_dirty = true;
	pgxt_enforce_attention = true;
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
	settings_changed();
}

/*
 * GUC assign hook of idle_in_transaction_timeout, transaction_timeout and
 * timeout_action.
 */
void
pgxt_timeout_setting_assign_hook(int newval, void *extra)
{
	settings_changed();
}

/*
 * The rules in force in this process.
 */
const PgxtRuleSet *
pgxt_enforce_rules(void)
{
	return active_rules;
}

/*
 * The limits of a session with these names, by the rules and defaults in
 * force in this process.
 */
void
pgxt_limits_for(const char *appname, const char *tag, const char *rolename,
				const char *dbname, PgxtLimits *out)
{
	pgxt_rules_match(active_rules, appname, tag, rolename, dbname,
					 pgxt_idle_timeout_ms, pgxt_xact_timeout_ms, out);
}

/*
 * Milliseconds as a short duration, in buf.
 */
void
pgxt_format_duration(double ms, char *buf, size_t len)
{
	if (ms < 10000)
		snprintf(buf, len, "%.0f ms", ms);
	else if (ms < 600000)
		snprintf(buf, len, "%.1f s", ms / 1000.0);
	else
		snprintf(buf, len, "%.1f min", ms / 60000.0);
}

/*
 * Which rule set a limit: the rule's number and text, or the default
 * setting.
 */
void
pgxt_describe_rule(PgxtTimeoutKind kind, int rule_index, char *buf, size_t len)
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
 * Signal context: record the verdict and ask the backend to die, as
 * SIGTERM's handler does; the core raises its FATAL at the next interrupt
 * check, and pgxt_enforce_word_fatal words it.
 */
static void
give_verdict(PgxtTimeoutKind kind, int64 elapsed_us, int limit_ms, int rule)
{
	verdict_elapsed_us = elapsed_us;
	verdict_limit_ms = limit_ms;
	verdict_rule = rule;
	verdict = kind;
	if (!proc_exit_inprogress)
	{
		InterruptPending = true;
		ProcDiePending = true;
	}
	SetLatch(MyLatch);
}

/*
 * Handler of the idle timer (signal context).  The gap counts from its
 * start, or from the latest message of the client since (the core stamps
 * each on arrival).  Past the deadline, a session that waits for its
 * client is ended; one busy with a message of its client (a statement
 * being parsed, a lock wait in parse analysis) is looked at again shortly.
 * Re-arming from here is safe: the core calls a timeout's handler only
 * while no timeout call is in progress in the main line.
 */
static void
idle_timer_fired(void)
{
	TimestampTz now;
	TimestampTz since;
	TimestampTz arrival;
	TimestampTz deadline;

	if (verdict != PGXT_TIMEOUT_NONE || !in_xact || !in_gap || committing)
		return;

	now = GetCurrentTimestamp();
	since = gap_start_ts;
	arrival = GetCurrentStatementStartTimestamp();
	if (arrival > since)
		since = arrival;
	deadline = since + (TimestampTz) armed_idle_ms * 1000;
	if (now < deadline)
	{
		enable_timeout_at(idle_timer, deadline);
		return;
	}
	if (*((volatile uint32 *) &MyProc->wait_event_info) != WAIT_EVENT_CLIENT_READ)
	{
		enable_timeout_after(idle_timer, IDLE_RECHECK_MS);
		return;
	}
	give_verdict(PGXT_TIMEOUT_IDLE, now - since, armed_idle_ms, armed_idle_rule);
}

/*
 * Handler of the transaction timer (signal context).
 */
static void
xact_timer_fired(void)
{
	if (verdict != PGXT_TIMEOUT_NONE || !in_xact || committing)
		return;
	give_verdict(PGXT_TIMEOUT_XACT, GetCurrentTimestamp() - xact_start_ts,
				 armed_xact_ms, armed_xact_rule);
}

/*
 * Remember where the session's names live.  Called once by the hooks when
 * the backend starts being tracked.
 */
void
pgxt_enforce_attach(const PgxtSessionNames *names)
{
	session_names = names;
	limits_valid = false;
}

/*
 * The session's limits, resolved again if its names or the settings
 * changed since.
 */
static const PgxtLimits *
current_limits(void)
{
	if (!limits_valid && session_names != NULL)
	{
		pgxt_limits_for(session_names->appname, session_names->tag,
						session_names->rolename, session_names->dbname,
						&limits);
		limits_valid = true;
	}
	return &limits;
}

/*
 * Register the two timers, once per backend, when a limit is first armed.
 */
static void
register_timers(void)
{
	if (timers_registered)
		return;
	idle_timer = RegisterTimeout(USER_TIMEOUT, idle_timer_fired);
	xact_timer = RegisterTimeout(USER_TIMEOUT, xact_timer_fired);
	timers_registered = true;
}

/*
 * Arm the transaction timer for limit_ms (set by rule, -1 for the
 * default) from the open transaction's start, or disarm it (limit 0).
 */
static void
arm_xact_timer(int limit_ms, int rule)
{
	if (limit_ms > 0)
	{
		register_timers();
		armed_xact_ms = limit_ms;
		armed_xact_rule = rule;
		enable_timeout_at(xact_timer, xact_start_ts + (TimestampTz) limit_ms * 1000);
		xact_armed = true;
	}
	else if (xact_armed)
	{
		disable_timeout(xact_timer, false);
		xact_armed = false;
	}
}

/*
 * Arm the idle timer for limit_ms (set by rule) from the current gap's
 * start, or disarm it (limit 0).
 */
static void
arm_idle_timer(int limit_ms, int rule)
{
	if (limit_ms > 0)
	{
		register_timers();
		armed_idle_ms = limit_ms;
		armed_idle_rule = rule;
		enable_timeout_at(idle_timer, gap_start_ts + (TimestampTz) limit_ms * 1000);
		idle_armed = true;
	}
	else if (idle_armed)
	{
		disable_timeout(idle_timer, false);
		idle_armed = false;
	}
}

/*
 * Make the timers of the open transaction match the session's limits as
 * they are now; a timer already armed for the same limit is left alone.
 */
static void
follow_limits(void)
{
	const PgxtLimits *l = current_limits();
	int			xact_ms = enforce_on ? l->xact_ms : 0;
	int			idle_ms = enforce_on && in_gap ? l->idle_ms : 0;

	if (xact_ms != (xact_armed ? armed_xact_ms : 0))
		arm_xact_timer(xact_ms, l->xact_rule);
	if (idle_ms != (idle_armed ? armed_idle_ms : 0))
		arm_idle_timer(idle_ms, l->idle_rule);
}

/*
 * Take the settings in force, if they changed: whether limits are
 * enforced at all, and the session's limits; the timers of a transaction
 * in progress follow.
 */
static void
apply_settings(void)
{
	if (!settings_dirty)
		return;
	settings_dirty = false;
	enforce_on = compute_enforce_on(pgxt_idle_timeout_ms, pgxt_xact_timeout_ms,
									pgxt_timeout_action, active_rules);
	limits_valid = false;
	if (in_xact && !committing)
		follow_limits();
	pgxt_enforce_attention = enforce_on || in_xact ||
		verdict != PGXT_TIMEOUT_NONE;
}

/*
 * A transaction that opened at xact_start while limits were not enforced
 * is still open now that they are (a reload reached the session): judge it
 * from here on.
 */
static void
judge_open_xact(TimestampTz xact_start)
{
	if (in_xact || !enforce_on || xact_start == 0)
		return;
	xact_start_ts = xact_start;
	committing = false;
	in_gap = false;
	in_xact = true;
	pgxt_enforce_attention = true;
}

/*
 * The session's names changed (application_name, tag, role): resolve its
 * limits again; the timers of the transaction in progress (which opened at
 * xact_start; 0 if none is open) follow.
 */
void
pgxt_enforce_names_changed(TimestampTz xact_start)
{
	apply_settings();
	limits_valid = false;
	judge_open_xact(xact_start);
	if (in_xact && !committing)
		follow_limits();
}

/*
 * A tracked transaction opened at start, and the session's names are
 * current: judge it if limits are enforced, arming the transaction timer
 * if a transaction limit applies.
 */
void
pgxt_enforce_xact_begin(TimestampTz start)
{
	apply_settings();
	if (!enforce_on)
		return;
	xact_start_ts = start;
	committing = false;
	in_gap = false;
	in_xact = true;
	follow_limits();
}

/*
 * An idle gap of the transaction that opened at xact_start began at at
 * (its last statement ended, or it failed): arm the idle timer if an idle
 * limit applies.
 */
void
pgxt_enforce_gap_begin(TimestampTz at, TimestampTz xact_start)
{
	apply_settings();
	judge_open_xact(xact_start);
	if (!in_xact || committing)
		return;
	gap_start_ts = at;
	in_gap = true;
	follow_limits();
}

/*
 * The idle gap ended: a statement of the client arrived.
 */
void
pgxt_enforce_gap_end(void)
{
	in_gap = false;
	if (idle_armed)
		arm_idle_timer(0, -1);
	apply_settings();
}

/*
 * The open transaction begins to commit or prepare (PRE_COMMIT,
 * PRE_PREPARE): from here on no limit ends it.  A verdict given before is
 * carried out now, while the transaction can still be rolled back.
 */
void
pgxt_enforce_pre_commit(void)
{
	if (!in_xact)
		return;
	committing = true;
	in_gap = false;
	arm_idle_timer(0, -1);
	arm_xact_timer(0, -1);
	if (verdict != PGXT_TIMEOUT_NONE)
		CHECK_FOR_INTERRUPTS();
}

/*
 * The open transaction ended: disarm the timers.
 */
void
pgxt_enforce_xact_end(void)
{
	in_xact = false;
	in_gap = false;
	committing = false;
	arm_idle_timer(0, -1);
	arm_xact_timer(0, -1);
	apply_settings();
	pgxt_enforce_attention = enforce_on || settings_dirty ||
		verdict != PGXT_TIMEOUT_NONE;
}

/*
 * Between two messages of the client, after an error: the core's error
 * recovery disables every timer, so arm again those of the transaction
 * still open (a failed block, a savepoint rolled back).
 */
void
pgxt_enforce_rearm(void)
{
	if (!rearm_needed)
		return;
	rearm_needed = false;
	if (!in_xact || committing || verdict != PGXT_TIMEOUT_NONE)
		return;
	if (xact_armed)
		arm_xact_timer(armed_xact_ms, armed_xact_rule);
	if (idle_armed && in_gap)
		arm_idle_timer(armed_idle_ms, armed_idle_rule);
}

/*
 * The verdict given in this backend, if any.
 */
PgxtTimeoutKind
pgxt_enforce_verdict(void)
{
	return (PgxtTimeoutKind) verdict;
}

/*
 * Called from the hooks' error context callback for every error report.
 * When the report is the FATAL that carries out a verdict (SQLSTATE 57P01,
 * which the core raises for ProcDiePending), word it: the limit, the rule,
 * the session's names.  Any other report while timers are armed may be an
 * error whose recovery disables them: note it, so that they are armed
 * again before the session waits for its client (pgxt_enforce_rearm).
 * Returns whether the hooks must make sure that happens.
 */
bool
pgxt_enforce_error_report(void)
{
	char		elapsed_text[32];
	char		limit_text[32];
	char		rule[PGXT_RULE_TEXT_LEN + 32];
	bool		idle;

	if (verdict == PGXT_TIMEOUT_NONE || fatal_worded ||
		geterrcode() != ERRCODE_ADMIN_SHUTDOWN)
	{
		if (idle_armed || xact_armed)
			rearm_needed = true;
		return rearm_needed;
	}
	fatal_worded = true;

	idle = verdict == PGXT_TIMEOUT_IDLE;
	pgxt_format_duration(verdict_elapsed_us / 1000.0, elapsed_text, sizeof(elapsed_text));
	pgxt_format_duration(verdict_limit_ms, limit_text, sizeof(limit_text));
	pgxt_describe_rule((PgxtTimeoutKind) verdict, verdict_rule, rule, sizeof(rule));

	errcode(idle ? ERRCODE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT :
			PGXT_ERRCODE_TRANSACTION_TIMEOUT);
	errmsg_internal("terminating connection because %s for %s, over the %s limit of %s set by %s",
					idle ? "it was idle in transaction" : "its transaction was open",
					elapsed_text,
					idle ? "idle-in-transaction" : "transaction",
					limit_text, rule);
	errdetail_internal("application_name=\"%s\", tag=\"%s\", user=\"%s\", database=\"%s\"; the transaction was rolled back.",
					   session_names ? session_names->appname : "",
					   session_names ? session_names->tag : "",
					   session_names ? session_names->rolename : "",
					   session_names ? session_names->dbname : "");
	return false;
}

/*
 * At the exit of a backend that carried out a verdict: record the event
 * for pg_stat_transactions_timeouts.  Takes the store's events lock.
 */
void
pgxt_enforce_record_exit(Oid userid, Oid dbid)
{
	PgxtTimeoutEvent event;
	char		rule[PGXT_RULE_TEXT_LEN + 32];

	if (verdict == PGXT_TIMEOUT_NONE || session_names == NULL)
		return;
	pgxt_describe_rule((PgxtTimeoutKind) verdict, verdict_rule, rule, sizeof(rule));

	memset(&event, 0, sizeof(event));
	event.time = GetCurrentTimestamp();
	event.pid = MyProcPid;
	event.userid = userid;
	event.dbid = dbid;
	event.kind = (uint8) verdict;
	event.terminated = true;
	event.limit_ms = verdict_limit_ms;
	event.elapsed_us = verdict_elapsed_us;
	strlcpy(event.appname, session_names->appname, NAMEDATALEN);
	strlcpy(event.tag, session_names->tag, PGXT_TAG_LEN);
	strlcpy(event.rule, rule, PGXT_RULE_TEXT_LEN);
	pgxt_store_add_timeout_event(&event);
}

/*-------------------------------------------------------------------------
 *
 * enforce.h
 *		The limits on a session's transactions (idle in transaction, open
 *		transaction): their settings, the limits that apply to a session,
 *		and their enforcement by timers inside the session's own backend.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/enforce.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_ENFORCE_H
#define PGXT_ENFORCE_H

#include "datatype/timestamp.h"
#include "utils/guc.h"

#include "postgres_extension.h"
#include "rules.h"
#include "store.h"

/* Values of postgres_extension.timeout_action */
typedef enum PgxtTimeoutAction
{
	PGXT_ACTION_TERMINATE,
	PGXT_ACTION_LOG
}			PgxtTimeoutAction;

/*
 * The names a session's limits depend on, as its backend keeps them: the
 * rules match application_name, tag, role and database.  The backend owns
 * the strings; the pointers stay valid for the backend's life.
 */
typedef struct PgxtSessionNames
{
	const char *appname;
	const char *tag;
	const char *rolename;
	const char *dbname;
} PgxtSessionNames;

PGXT_BEGIN_INTERNAL

/*---- GUC variables ----*/
extern int	pgxt_idle_timeout_ms;
extern int	pgxt_xact_timeout_ms;
extern char *pgxt_timeout_rules;
extern int	pgxt_timeout_action;

/*
 * True when the backend side below wants to hear of this backend's
 * transactions: limits are enforced (timeout_action is terminate and some
 * rule or default sets a limit), a judged transaction is open, or the
 * settings changed.  The hooks call the pgxt_enforce_* functions only
 * when it is set, so that without limits they cost one test.
 */
extern bool pgxt_enforce_attention;

/* GUC hooks */
extern bool pgxt_timeout_rules_check_hook(char **newval, void **extra,
										  GucSource source);
extern void pgxt_timeout_rules_assign_hook(const char *newval, void *extra);
extern void pgxt_timeout_setting_assign_hook(int newval, void *extra);

/* The rules in force and their wording, for the watchdog's log mode too */
extern const PgxtRuleSet *pgxt_enforce_rules(void);
extern void pgxt_limits_for(const char *appname, const char *tag,
							const char *rolename, const char *dbname,
							PgxtLimits *limits);
extern void pgxt_describe_rule(PgxtTimeoutKind kind, int rule_index,
							   char *buf, size_t len);
extern void pgxt_format_duration(double ms, char *buf, size_t len);

/* The backend side, called by the hooks of a tracked client backend */
extern void pgxt_enforce_attach(const PgxtSessionNames *names);
extern void pgxt_enforce_names_changed(TimestampTz xact_start);
extern void pgxt_enforce_xact_begin(TimestampTz start);
extern void pgxt_enforce_gap_begin(TimestampTz at, TimestampTz xact_start);
extern void pgxt_enforce_gap_end(void);
extern void pgxt_enforce_pre_commit(void);
extern void pgxt_enforce_xact_end(void);
extern void pgxt_enforce_rearm(void);
extern PgxtTimeoutKind pgxt_enforce_verdict(void);
extern bool pgxt_enforce_error_report(void);
extern void pgxt_enforce_record_exit(Oid userid, Oid dbid);

PGXT_END_INTERNAL

#endif							/* PGXT_ENFORCE_H */

/*-------------------------------------------------------------------------
 *
 * watchdog.h
 *		The watchdog background worker, which ends sessions idle in
 *		transaction or holding a transaction past their limits, and the
 *		settings behind it.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/watchdog.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_WATCHDOG_H
#define PGXT_WATCHDOG_H

#include "fmgr.h"
#include "utils/guc.h"

#include "postgres_extension.h"

/* Values of postgres_extension.timeout_action */
typedef enum PgxtTimeoutAction
{
	PGXT_ACTION_TERMINATE,
	PGXT_ACTION_LOG
}			PgxtTimeoutAction;

PGXT_BEGIN_INTERNAL

/*---- GUC variables ----*/
extern int	pgxt_idle_timeout_ms;
extern int	pgxt_xact_timeout_ms;
extern char *pgxt_timeout_rules;
extern int	pgxt_timeout_action;
extern int	pgxt_watchdog_naptime_ms;

extern void pgxt_watchdog_register(void);
extern void pgxt_watchdog_install_log_hook(void);
extern bool pgxt_timeout_rules_check_hook(char **newval, void **extra,
										  GucSource source);
extern void pgxt_timeout_rules_assign_hook(const char *newval, void *extra);

PGXT_END_INTERNAL

/* The worker's entry point, looked up by name when it starts. */
extern PGDLLEXPORT void pgxt_watchdog_main(Datum main_arg);

#endif							/* PGXT_WATCHDOG_H */

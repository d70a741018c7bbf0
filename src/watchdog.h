/*-------------------------------------------------------------------------
 *
 * watchdog.h
 *		The watchdog background worker, which closes history buckets and, in
 *		log mode, reports sessions past their limits.
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

#include "postgres_extension.h"

PGXT_BEGIN_INTERNAL

/*---- GUC variables ----*/
extern int	pgxt_watchdog_naptime_ms;

extern void pgxt_watchdog_register(void);

PGXT_END_INTERNAL

/* The worker's entry point, looked up by name when it starts. */
extern PGDLLEXPORT void pgxt_watchdog_main(Datum main_arg);

#endif							/* PGXT_WATCHDOG_H */

/*-------------------------------------------------------------------------
 *
 * persist.h
 *		Saving the statistics at a clean shutdown and loading them at
 *		startup.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/persist.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_PERSIST_H
#define PGXT_PERSIST_H

#include "postgres_extension.h"

PGXT_BEGIN_INTERNAL

/*---- GUC variables ----*/
extern bool pgxt_save;

extern void pgxt_persist_startup(bool first_time);

PGXT_END_INTERNAL

#endif							/* PGXT_PERSIST_H */

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

/*---- GUC variables ----*/
extern bool pgxt_save;

extern void pgxt_persist_startup(bool first_time);

#endif							/* PGXT_PERSIST_H */

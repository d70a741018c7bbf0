/*-------------------------------------------------------------------------
 *
 * hooks.h
 *		The hot path of postgres_extension: executor and utility hooks and
 *		the transaction callback of each client backend.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/hooks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_HOOKS_H
#define PGXT_HOOKS_H

#include "store.h"

#include "postgres_extension.h"

PGXT_BEGIN_INTERNAL

extern void pgxt_hooks_install(void);
extern PgxtSlot *pgxt_hooks_my_slot(void);
extern void pgxt_tag_assign_hook(const char *newval, void *extra);

PGXT_END_INTERNAL

#endif							/* PGXT_HOOKS_H */

/*-------------------------------------------------------------------------
 *
 * history.h
 *		Time-bucketed history of the statistics: a ring of buckets in shared
 *		memory, each holding per-key sums for one interval.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/history.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_HISTORY_H
#define PGXT_HISTORY_H

#include "store.h"

#include "postgres_extension.h"

/*
 * Most shared memory the ring may take (history_size x (history_keys + 1)
 * rows, about 5 million): larger settings are refused at startup.
 */
#define PGXT_HISTORY_MAX_BYTES	((Size) 1024 * 1024 * 1024)

/* One row of a bucket: a key's sums, or (other) the sums of all the rest. */
typedef struct PgxtHistoryRow
{
	bool		other;
	Oid			userid;
	Oid			dbid;
	char		appname[NAMEDATALEN];
	char		tag[PGXT_TAG_LEN];
	PgxtHistorySums sums;
} PgxtHistoryRow;

/* Called for each row of each bucket, oldest bucket first. */
typedef void (*PgxtHistoryVisitor) (TimestampTz bucket_start,
									TimestampTz bucket_end,
									const PgxtHistoryRow *row, void *arg);

PGXT_BEGIN_INTERNAL

/*---- GUC variables ----*/
extern int	pgxt_history_interval_ms;
extern int	pgxt_history_size;
extern int	pgxt_history_keys;

extern void pgxt_history_check_settings(void);
extern void pgxt_history_request(void);
extern void pgxt_history_startup(void);
extern TimestampTz pgxt_history_next_boundary(void);
extern void pgxt_history_tick(TimestampTz now);
extern void pgxt_history_foreach(PgxtHistoryVisitor visitor, void *arg);
extern void pgxt_history_reset(void);
extern char *pgxt_history_raw(Size *size);
extern bool pgxt_history_restore(const char *data, Size size);

PGXT_END_INTERNAL

#endif							/* PGXT_HISTORY_H */

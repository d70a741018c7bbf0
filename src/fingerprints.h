/*-------------------------------------------------------------------------
 *
 * fingerprints.h
 *		Transaction fingerprints: the statistics of each (database, role,
 *		application_name, fingerprint), where a transaction's fingerprint is
 *		the hash of the ordered query ids of its statements, with the idle
 *		time that followed each statement.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/fingerprints.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_FINGERPRINTS_H
#define PGXT_FINGERPRINTS_H

#include "common/hashfn.h"

#include "store.h"

#include "postgres_extension.h"

/* Values of postgres_extension.fingerprints */
typedef enum PgxtFpMode
{
	PGXT_FP_OFF,
	PGXT_FP_AUTO,				/* when the core computes query ids */
	PGXT_FP_ON					/* and ask the core to compute them */
}			PgxtFpMode;

/* Hash key: memset it to zero before filling, the hash reads padding. */
typedef struct PgxtFpKey
{
	Oid			dbid;
	Oid			userid;
	char		appname[NAMEDATALEN];
	uint64		fingerprint;
} PgxtFpKey;

/* Cumulative counters of one fingerprint; times in microseconds. */
typedef struct PgxtFpCounters
{
	int64		xacts;			/* rollbacks: xacts - commits */
	int64		commits;
	int64		total_hold_us;
	int64		min_hold_us;
	int64		max_hold_us;
	double		sum_var_hold;	/* sum of squared deviations from the mean */
	int64		total_active_us;	/* idle: total_hold_us - this */
	int64		explicit_xacts;
	int64		readonly_xacts;
	int64		timeouts;
	int64		first_gap_us;	/* idle before the first statement */
	int			nsteps;			/* steps kept (at most PGXT_FP_STEPS) */
	bool		truncated;		/* more steps than kept: the last one sums
								 * the rest */
	uint64		queryids[PGXT_FP_STEPS];
	int64		idle_after_us[PGXT_FP_STEPS];	/* idle after each step */
	char		last_tag[PGXT_TAG_LEN];
	double		usage;			/* eviction priority, decays */
	TimestampTz stats_since;
	TimestampTz last_seen;
	uint64		hist[PGXT_HIST_BUCKETS];
} PgxtFpCounters;

/*
 * The hash of a key in the fingerprints' table: the hash of its database,
 * role and application_name (pgxt_fp_prefix_hash) combined with its
 * fingerprint, itself a hash.
 */
static inline uint32
pgxt_fp_hash(uint32 prefix_hash, uint64 fingerprint)
{
	return murmurhash32(prefix_hash ^ (uint32) fingerprint ^
						(uint32) (fingerprint >> 32));
}

/* An entry of the fingerprints hash; the key must be first. */
typedef struct PgxtFpEntry PgxtFpEntry;

/* Called with a copy of each entry by pgxt_fp_foreach. */
typedef void (*PgxtFpVisitor) (const PgxtFpKey *key,
							   const PgxtFpCounters *counters, void *arg);

PGXT_BEGIN_INTERNAL

/*---- GUC variables ----*/
extern int	pgxt_fp_mode;
extern int	pgxt_fp_max_entries;

extern void pgxt_fp_init(void);
extern void pgxt_fp_request(void);
extern void pgxt_fp_startup(void);
extern bool pgxt_fp_ready(void);
extern const char *pgxt_fp_status(void);

/* under the store's lock (store.h), shared or exclusive as said */
extern uint32 pgxt_fp_prefix_hash(const PgxtFpKey *key);
extern PgxtFpEntry *pgxt_fp_find(const PgxtFpKey *key, uint32 hashvalue);
extern PgxtFpEntry *pgxt_fp_enter(const PgxtFpKey *key, uint32 hashvalue,
								  TimestampTz now);
extern uint64 pgxt_fp_generation(void);
extern void pgxt_fp_merge(PgxtFpEntry *entry, const PgxtPendingGroup *group,
						  const uint16 *buckets, int nbuckets,
						  const char *tag);
extern void pgxt_fp_reset_locked(void);

/* readers and the statistics file; they take the store's lock */
extern void pgxt_fp_foreach(PgxtFpVisitor visitor, void *arg);
extern int64 pgxt_fp_dealloc(void);
extern void pgxt_fp_restore_dealloc(int64 dealloc);
extern void pgxt_fp_load(const PgxtFpKey *key, const PgxtFpCounters *counters);

PGXT_END_INTERNAL

#endif							/* PGXT_FINGERPRINTS_H */

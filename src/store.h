/*-------------------------------------------------------------------------
 *
 * store.h
 *		Shared state of postgres_extension: the per-backend slots, the
 *		statistics hash keyed by (dbid, userid, application_name, tag) and
 *		the global counters.
 *
 * Locking rules:
 * - The statistics hash and its entries' existence are protected by
 *	 PgxtShared->lock.  Lookups take it shared; inserting, evicting and
 *	 resetting take it exclusive.
 * - An entry's counters are protected by its own spinlock: writers update
 *	 them holding the shared lock plus the spinlock; readers copy them out
 *	 under the spinlock.
 * - A backend slot is written by its owning backend and by the watchdog,
 *	 always under the slot's spinlock, and read by anyone under it.
 * - A slot's pending transactions (ended, not yet in the hash: their
 *	 groups' sums, keys and histogram buckets) are added by the owning
 *	 backend under the slot's spinlock alone.  They leave the slot, under its spinlock, only while
 *	 PgxtShared->lock is held: shared by the owner (nobody else empties the
 *	 list then, so the owner reads it in place), exclusive by anyone else;
 *	 and they go into their entries before the lock is released, so a
 *	 reader that drains under the exclusive lock sees every transaction.
 *	 The owner never waits for the lock while its list has room: it tries
 *	 without waiting, and keeps its transactions for later if it cannot.
 * - dealloc, stats_reset and the evicted entries' pending history sums are
 *	 protected by PgxtShared->mutex.
 * - The ring of watchdog events is protected by PgxtShared->events_lock
 *	 (an LWLock: readers copy the whole ring).
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/store.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_STORE_H
#define PGXT_STORE_H

#include "datatype/timestamp.h"
#include "port/pg_bitutils.h"
#include "storage/lwlock.h"
#include "storage/spin.h"

#include "postgres_extension.h"

/* Tags are at most 63 bytes; the array holds the terminating NUL too. */
#define PGXT_TAG_LEN			64
#define PGXT_RULE_TEXT_LEN		128

/*
 * Hold-time histogram: log-linear buckets over microseconds, eight per
 * power of two, so a bucket is at most 1/8 of its lower bound wide and a
 * percentile read at a bucket's midpoint is within 6.25% of the truth.
 * Values below 8 us have a bucket each; the last bucket, starting near
 * 9.5 hours, takes everything longer.
 */
#define PGXT_HIST_SUB_BITS		3
#define PGXT_HIST_SUB			(1 << PGXT_HIST_SUB_BITS)
#define PGXT_HIST_MAX_MSB		35
#define PGXT_HIST_BUCKETS		((PGXT_HIST_MAX_MSB - 1) * PGXT_HIST_SUB)

/* What a backend slot says its session is doing. */
typedef enum PgxtSlotState
{
	PGXT_STATE_NONE = 0,		/* not in a tracked transaction */
	PGXT_STATE_ACTIVE,			/* running a statement */
	PGXT_STATE_IDLE,			/* idle in transaction */
	PGXT_STATE_ABORTED			/* idle in a failed transaction block */
}			PgxtSlotState;

/* Watchdog verdicts, stored in a slot and in timeout events. */
typedef enum PgxtTimeoutKind
{
	PGXT_TIMEOUT_NONE = 0,
	PGXT_TIMEOUT_IDLE,			/* idle in transaction past the idle limit */
	PGXT_TIMEOUT_XACT			/* transaction open past the xact limit */
}			PgxtTimeoutKind;

/* Hash key: memset it to zero before filling, the hash reads padding. */
typedef struct PgxtKey
{
	Oid			dbid;
	Oid			userid;
	char		appname[NAMEDATALEN];
	char		tag[PGXT_TAG_LEN];
} PgxtKey;

/*
 * Steps of a transaction's fingerprint kept per transaction and per
 * fingerprint: a step is a statement, or a run of one statement repeated
 * (same query id); steps past the last kept one add their idle time to it.
 */
#define PGXT_FP_STEPS			32

/* One step of a transaction: its query id and the idle time after it. */
typedef struct PgxtStep
{
	uint64		queryid;
	int64		idle_us;
} PgxtStep;

/* A finished transaction, as the hot path describes it to the store. */
typedef struct PgxtXactEnd
{
	/* summed or noted as it runs (zeroed when it opens) */
	int64		active_us;
	int64		max_idle_us;
	int64		statements;
	uint64		fingerprint;	/* of its steps (0: none) */
	int64		first_gap_us;	/* idle before its first step */
	int			nsteps;
	bool		explicit_block;
	bool		steps_truncated;	/* it had more steps than kept */
	bool		idle;			/* some idle gap (its steps' idle times) */
	bool		timed_out;
	/* set at its end */
	bool		readonly;
	bool		committed;
	TimestampTz end;
	int64		hold_us;
	const PgxtStep *steps;
} PgxtXactEnd;

/*
 * The sums of a group of transactions (of one key and one fingerprint),
 * folded into an entry at once.  Only what cannot be derived is kept:
 * rollbacks are n - commits, idle time is hold - active, the mean is
 * hold / n.  The squares of the hold times are summed shifted by the first
 * one's (exact enough over a batch).
 */
typedef struct PgxtSums
{
	int			n;
	int64		commits;
	int64		hold_us;
	int64		active_us;
	int64		statements;
	int64		explicit_xacts;
	int64		readonly_xacts;
	int64		timeouts;
	int64		min_hold_us;
	int64		max_hold_us;
	int64		max_idle_us;
	int64		shift;			/* hold time the squares are shifted by */
	double		sum_sq_shifted;
	TimestampTz last_end;
} PgxtSums;

/*
 * The transactions a backend keeps in its slot before it folds them into
 * their entries, summed as they end per group (key and fingerprint): up
 * to PGXT_PENDING_MAX transactions (their histogram buckets are listed),
 * PGXT_PENDING_KEYS keys and PGXT_PENDING_GROUPS groups.  The backend
 * tries to fold them (without waiting for the lock) from
 * PGXT_PENDING_FLUSH transactions on, and waits for the lock only when the
 * list, its keys or its groups are full: a reader holding the lock delays
 * no commit until then.
 */
#define PGXT_PENDING_MAX		128
#define PGXT_PENDING_FLUSH		96
#define PGXT_PENDING_KEYS		8
#define PGXT_PENDING_GROUPS		8

/* One group of a slot's pending transactions. */
typedef struct PgxtPendingGroup
{
	uint8		key_index;		/* in the slot's pending_keys */
	bool		idle;			/* some transaction had idle steps */
	bool		steps_truncated;
	uint8		nsteps;			/* 0 when no fingerprint */
	uint64		fingerprint;	/* 0: none */
	PgxtSums	sums;
	int64		first_gap_us;	/* idle before the first step, summed */
	uint64		queryids[PGXT_FP_STEPS];
	int64		idle_after_us[PGXT_FP_STEPS];	/* summed, if idle */
} PgxtPendingGroup;

/*
 * One per backend, indexed by pgxt_my_slot_index().  The owning backend
 * publishes its transaction here so that the activity view and the
 * watchdog can see it; the watchdog marks a transaction it reported in log
 * mode.  The owner also keeps its ended transactions here until they go
 * into the hash.
 */
typedef struct PgxtSlot
{
	slock_t		mutex;
	int			pid;			/* 0 when unused */
	uint8		state;			/* PgxtSlotState */
	Oid			dbid;
	Oid			userid;
	TimestampTz xact_start;
	TimestampTz state_since;	/* start of the current statement or gap */
	int64		active_us;		/* active time of finished statements */
	int64		statements;
	uint64		queryid;
	uint64		fingerprint;	/* of its steps so far, 0 if none */
	int			nsteps;			/* its steps so far */
	uint64		names_version;	/* bumped when the names below change */
	char		appname[NAMEDATALEN];
	char		tag[PGXT_TAG_LEN];
	char		rolename[NAMEDATALEN];
	char		dbname[NAMEDATALEN];
	TimestampTz logged_xact_start;	/* log mode: xact already reported */

	/*
	 * Ended transactions not yet in the hash: their groups, the keys the
	 * groups refer to (kept when the list is emptied, cleared only by the
	 * owner), and each transaction's histogram bucket and group.
	 */
	int			npending;
	int			npending_keys;
	int			npending_groups;
	PgxtKey		pending_keys[PGXT_PENDING_KEYS];
	PgxtPendingGroup pending_groups[PGXT_PENDING_GROUPS];
	uint16		pending_buckets[PGXT_PENDING_MAX];
	uint8		pending_bucket_group[PGXT_PENDING_MAX];
} PgxtSlot;

/* What readers of a slot copy: everything before the pending list. */
#define PGXT_SLOT_PUBLISHED_SIZE	offsetof(PgxtSlot, npending)

/*
 * Sums that the history keeps per time bucket; times in microseconds.
 * max_hold_us is the longest transaction of the interval.
 */
typedef struct PgxtHistorySums
{
	int64		xacts;
	int64		rollbacks;
	int64		hold_us;
	int64		active_us;
	int64		idle_us;
	int64		max_hold_us;
	int64		timeouts;
} PgxtHistorySums;

/* Cumulative counters of one key; times in microseconds. */
typedef struct PgxtCounters
{
	int64		xacts;			/* rollbacks: xacts - commits */
	int64		commits;
	int64		total_hold_us;
	int64		min_hold_us;
	int64		max_hold_us;
	double		sum_var_hold;	/* sum of squared deviations from the mean */
	int64		total_active_us;	/* idle: total_hold_us - this */
	int64		max_idle_us;
	int64		statements;
	int64		explicit_xacts;
	int64		readonly_xacts;
	int64		timeouts;
	double		usage;			/* eviction priority, decays */
	TimestampTz stats_since;
	TimestampTz last_seen;
	/* the cumulative sums at the last history boundary (max: since then) */
	PgxtHistorySums history_base;
	uint64		hist[PGXT_HIST_BUCKETS];
} PgxtCounters;

/*
 * A backend's memory of its slot's pending list: where its current key
 * sits in the slot's keys (valid until the key changes or the owner clears
 * the keys), the group it last added to (checked before use: the list may
 * have been emptied), and the entry it last folded into, so that consecutive
 * flushes of one key skip the hash lookup (valid while the store's
 * generation, bumped by every eviction and reset, is unchanged).
 */
typedef struct PgxtOwner
{
	int			key_index;		/* -1: look the key up (it changed) */
	int			group_index;	/* the group it last added to: valid while
								 * below the slot's npending_groups, until
								 * the key changes */
	uint64		group_fingerprint;	/* that group's */
	uint64		group_filter;	/* bit fingerprint % 64 set for every
								 * pending group (and maybe a few more):
								 * a clear bit needs no search */
	PgxtKey		cached_key;
	void	   *cached_entry;
	uint64		cached_generation;
	bool		cached_prefix_valid;	/* cached_prefix_hash is cached_key's */
	uint32		cached_prefix_hash; /* pgxt_fp_prefix_hash of cached_key */
	/* likewise for the fingerprint entry last folded into */
	uint64		cached_fingerprint;
	void	   *cached_fp_entry;
	void	   *cached_fp_main;	/* the main entry it was found with */
	uint64		cached_fp_generation;
} PgxtOwner;

/* Number of watchdog events kept, newest replacing oldest. */
#define PGXT_TIMEOUT_EVENTS		256

/* One decision of the watchdog, for pg_stat_transactions_timeouts. */
typedef struct PgxtTimeoutEvent
{
	TimestampTz time;
	int			pid;
	Oid			userid;
	Oid			dbid;
	uint8		kind;			/* PgxtTimeoutKind */
	bool		terminated;		/* false: logged only */
	int			limit_ms;
	int64		elapsed_us;		/* idle or open time at the decision */
	char		appname[NAMEDATALEN];
	char		tag[PGXT_TAG_LEN];
	char		rule[PGXT_RULE_TEXT_LEN];
} PgxtTimeoutEvent;

/* The store's global counters, for pg_stat_transactions_info. */
typedef struct PgxtStoreInfo
{
	int64		dealloc;		/* entries evicted since the last reset */
	TimestampTz stats_reset;	/* time of the last reset */
	int64		housekeeping_xacts; /* autocommit SET, RESET, ... only */
} PgxtStoreInfo;

/* Called with a copy of each entry by pgxt_store_foreach. */
typedef void (*PgxtEntryVisitor) (const PgxtKey *key,
								  const PgxtCounters *counters, void *arg);

/* Called with each key's sums since the last history boundary. */
typedef void (*PgxtDeltaVisitor) (const PgxtKey *key,
								  const PgxtHistorySums *delta, void *arg);

/* Rollbacks, which the counters derive from xacts and commits. */
static inline int64
pgxt_counters_rollbacks(const PgxtCounters *counters)
{
	return counters->xacts - counters->commits;
}

/* Idle time, which the counters derive from hold and active time. */
static inline int64
pgxt_counters_idle_us(const PgxtCounters *counters)
{
	return counters->total_hold_us - counters->total_active_us;
}

PGXT_BEGIN_INTERNAL

extern LWLock *pgxt_store_lock(void);
extern void pgxt_store_drain(void);
extern void pgxt_store_request(void);
extern bool pgxt_store_startup(void);
extern bool pgxt_store_ready(void);
extern int	pgxt_store_nslots(void);
extern PgxtSlot *pgxt_store_slot(int index);
extern int	pgxt_slot_key_index(PgxtSlot *slot, PgxtOwner *owner,
								const PgxtKey *key);
extern int	pgxt_slot_group_index(PgxtSlot *slot, PgxtOwner *owner,
								  int key_index, const PgxtXactEnd *x);
extern void pgxt_store_add_waiting(PgxtSlot *slot, PgxtOwner *owner,
								   const PgxtKey *key, const PgxtXactEnd *x);
extern void pgxt_store_count_housekeeping(void);
extern bool pgxt_store_flush(PgxtSlot *slot, PgxtOwner *owner, bool wait);
extern void pgxt_store_foreach(PgxtEntryVisitor visitor, void *arg);
extern bool pgxt_store_get(const PgxtKey *key, PgxtCounters *counters);
extern void pgxt_store_reset(void);
extern void pgxt_store_info(PgxtStoreInfo *info);
extern void pgxt_store_history_deltas(bool advance, PgxtDeltaVisitor visitor,
									  void *arg, PgxtHistorySums *evicted);
extern void pgxt_store_add_timeout_event(const PgxtTimeoutEvent *event);
extern int	pgxt_store_timeout_events(PgxtTimeoutEvent *events);

extern void pgxt_store_load_begin(int64 nentries);
extern void pgxt_store_load_entry(const PgxtKey *key, const PgxtCounters *counters);
extern int64 pgxt_store_load_end(bool keep);
extern void pgxt_store_evicted(PgxtHistorySums *evicted);
extern void pgxt_store_restore_info(const PgxtStoreInfo *info,
									const PgxtHistorySums *evicted);

extern double pgxt_counters_stddev_hold(const PgxtCounters *counters);
extern void pgxt_hist_bounds(int bucket, double *lower_us, double *upper_us);
extern double pgxt_hist_percentile(const uint64 *hist, int64 xacts,
								   int64 min_hold_us, int64 max_hold_us,
								   double fraction);

/*
 * Histogram bucket of a duration in microseconds (see PGXT_HIST_SUB_BITS).
 */
static inline int
pgxt_hist_bucket(int64 us)
{
	int			msb;

	if (us < PGXT_HIST_SUB)
		return us < 0 ? 0 : (int) us;
	msb = pg_leftmost_one_pos64((uint64) us);
	if (msb > PGXT_HIST_MAX_MSB)
		return PGXT_HIST_BUCKETS - 1;
	return (msb - PGXT_HIST_SUB_BITS + 1) * PGXT_HIST_SUB +
		(int) ((us >> (msb - PGXT_HIST_SUB_BITS)) & (PGXT_HIST_SUB - 1));
}

/*
 * Add the idle times of x's steps (and before its first) to group's.
 * Caller holds the slot's spinlock.
 */
static inline void
pgxt_group_add_idle(PgxtPendingGroup *group, const PgxtXactEnd *x)
{
	int			i;

	if (group->fingerprint == 0)
		return;
	if (!group->idle)
	{
		/* only the group's steps are read */
		memset(group->idle_after_us, 0, group->nsteps * sizeof(int64));
		group->idle = true;
	}
	group->first_gap_us += x->first_gap_us;
	for (i = 0; i < x->nsteps && i < group->nsteps; i++)
		group->idle_after_us[i] += x->steps[i].idle_us;
}

/*
 * Merge the hold times' sum of squared deviations of sums into sum_var,
 * that of count earlier transactions whose hold times total total_us, and
 * return it: the pairwise formula of Chan, Golub and LeVeque, which stays
 * accurate however long an entry lives.  Inline: a fold calls it once per
 * group, for one transaction's sums more often than not.
 */
static inline double
pgxt_sums_merge_var(const PgxtSums *sums, double sum_var, int64 count,
					int64 total_us)
{
	double		mean_shifted;
	double		batch_var;
	double		delta;

	if (sums->n == 1)
	{
		/* one transaction, whose hold time is the shift: no deviation */
		if (count == 0)
			return 0.0;
		delta = (double) sums->hold_us - (double) total_us / count;
		return sum_var + delta * delta * count / (count + 1);
	}
	mean_shifted = (double) (sums->hold_us - sums->n * sums->shift) / sums->n;
	batch_var = sums->sum_sq_shifted - sums->n * mean_shifted * mean_shifted;
	batch_var = Max(batch_var, 0.0);
	if (count == 0)
		return batch_var;
	delta = ((double) sums->shift + mean_shifted) - (double) total_us / count;
	return sum_var + batch_var + delta * delta * count * sums->n / (count + sums->n);
}

/*
 * Add the finished transaction x, of key, to the owner's slot: to the sums
 * of its group, its histogram bucket to the list.  Returns false, adding
 * nothing, when the list, its keys or its groups are full (then
 * pgxt_store_add_waiting).  Caller, the slot's owner, holds slot->mutex.
 */
static pg_attribute_always_inline bool
pgxt_slot_add_xact(PgxtSlot *slot, PgxtOwner *owner, const PgxtKey *key,
				   const PgxtXactEnd *x)
{
	int			g = owner->group_index;
	int			n = slot->npending;
	bool		in_new_group = false;

	if (unlikely(n >= PGXT_PENDING_MAX))
		return false;

	/* the group it added to last, unless the list was emptied since */
	if (unlikely(g >= slot->npending_groups ||
				 owner->group_fingerprint != x->fingerprint))
	{
		int			k = owner->key_index;

		if (k < 0)
		{
			k = pgxt_slot_key_index(slot, owner, key);
			if (k < 0)
				return false;
		}
		g = pgxt_slot_group_index(slot, owner, k, x);
		if (g < 0)
			return false;
		if (g >= PGXT_PENDING_GROUPS)
		{
			/* a new group, which starts with x's sums */
			g -= PGXT_PENDING_GROUPS;
			in_new_group = true;
		}
	}

	if (likely(!in_new_group))
	{
		PgxtPendingGroup *group = &slot->pending_groups[g];
		PgxtSums   *s = &group->sums;
		double		shifted;

		if (x->hold_us < s->min_hold_us)
			s->min_hold_us = x->hold_us;
		shifted = (double) (x->hold_us - s->shift);
		s->sum_sq_shifted += shifted * shifted;
		s->n++;
		s->commits += x->committed;
		s->hold_us += x->hold_us;
		s->active_us += x->active_us;
		s->statements += x->statements;
		s->explicit_xacts += x->explicit_block;
		s->readonly_xacts += x->readonly;
		s->timeouts += x->timed_out;
		if (x->hold_us > s->max_hold_us)
			s->max_hold_us = x->hold_us;
		if (x->max_idle_us > s->max_idle_us)
			s->max_idle_us = x->max_idle_us;
		s->last_end = x->end;
		if (unlikely(x->idle))
			pgxt_group_add_idle(group, x);
	}

	slot->pending_buckets[n] = (uint16) pgxt_hist_bucket(x->hold_us);
	slot->pending_bucket_group[n] = (uint8) g;
	slot->npending = n + 1;
	return true;
}

/*
 * Whether the owner should try to fold its slot's pending list now.
 * Caller holds slot->mutex.
 */
static inline bool
pgxt_slot_flush_due(const PgxtSlot *slot)
{
	return slot->npending >= PGXT_PENDING_FLUSH;
}

PGXT_END_INTERNAL

#endif							/* PGXT_STORE_H */

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
 * - A slot's pending transactions (ended, not yet in the hash) and their
 *	 keys are appended by the owning backend under the slot's spinlock
 *	 alone.  They leave the slot, under its spinlock, only while
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
 * Transactions a backend keeps in its slot before it folds them into their
 * entries, and the distinct keys they may have.  The backend tries to fold
 * them (without waiting for the lock) from PGXT_PENDING_FLUSH on, and waits
 * for the lock only when the list or its keys are full: a reader holding
 * the lock delays no commit until then.
 */
#define PGXT_PENDING_MAX		48
#define PGXT_PENDING_FLUSH		32
#define PGXT_PENDING_KEYS		8
#define PGXT_PENDING_STEPS		256

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

/* One finished transaction, as the hot path hands it to the store. */
typedef struct PgxtXactSample
{
	TimestampTz end;
	int64		hold_us;
	int64		active_us;
	int64		max_idle_us;
	int64		statements;
	uint64		fingerprint;	/* 0: none (no steps, or not recorded) */
	int64		first_gap_us;	/* idle before its first step */
	bool		committed;
	bool		explicit_block;
	bool		readonly;
	bool		timed_out;
	uint8		key_index;		/* in the slot's pending_keys */
	uint8		nsteps;			/* its steps in the slot's pending_steps */
	bool		steps_truncated;	/* it had more steps than kept */
	bool		idle;			/* some step (or first_gap_us) is not 0 */
	uint16		step_start;
} PgxtXactSample;

/*
 * The sums of a group of pending transactions (of one key, or of one key
 * and one fingerprint), folded into an entry at once.
 */
typedef struct PgxtBatch
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
	bool		idle;			/* some of them has idle steps */
	int			with_steps;		/* index of one with its steps, or -1 */
	uint16		buckets[PGXT_PENDING_MAX];	/* histogram bucket of each */
} PgxtBatch;


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
	 * Ended transactions not yet in the hash, and the keys they refer to;
	 * the keys are kept when the list is emptied, and cleared only by the
	 * owner.
	 */
	int			npending;
	int			npending_keys;
	int			npending_steps;
	PgxtKey		pending_keys[PGXT_PENDING_KEYS];
	PgxtXactSample pending[PGXT_PENDING_MAX];
	PgxtStep	pending_steps[PGXT_PENDING_STEPS];
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
 * the keys), and the entry it last folded into, so that consecutive
 * flushes of one key skip the hash lookup (valid while the store's
 * generation, bumped by every eviction and reset, is unchanged).
 */
typedef struct PgxtOwner
{
	int			key_index;		/* -1: look the key up (it changed) */
	PgxtKey		cached_key;
	void	   *cached_entry;
	uint64		cached_generation;
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
extern void pgxt_store_append_waiting(PgxtSlot *slot, PgxtOwner *owner,
									  const PgxtKey *key,
									  const PgxtXactSample *sample,
									  const PgxtStep *steps);
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
extern int	pgxt_hist_bucket(int64 us);
extern double pgxt_batch_merge_var(const PgxtBatch *batch, double sum_var,
								   int64 count, int64 total_us);
extern double pgxt_hist_percentile(const uint64 *hist, int64 xacts,
								   int64 min_hold_us, int64 max_hold_us,
								   double fraction);

/*
 * Where the owner of slot appends its ended transaction, of key and with
 * nsteps steps: the next free sample of the slot's pending list, its
 * key_index set, or NULL when the list, its keys or its steps are full
 * (then pgxt_store_append_waiting).  Caller holds slot->mutex and fills the
 * sample before releasing it (its steps with pgxt_slot_add_steps).
 */
static inline PgxtXactSample *
pgxt_slot_next_sample(PgxtSlot *slot, PgxtOwner *owner, const PgxtKey *key,
					  int nsteps)
{
	int			key_index = owner->key_index;
	PgxtXactSample *sample;

	if (unlikely(key_index < 0))
	{
		key_index = pgxt_slot_key_index(slot, owner, key);
		if (key_index < 0)
			return NULL;
	}
	if (unlikely(slot->npending >= PGXT_PENDING_MAX ||
				 slot->npending_steps + nsteps > PGXT_PENDING_STEPS))
		return NULL;
	sample = &slot->pending[slot->npending++];
	sample->key_index = (uint8) key_index;
	return sample;
}

/*
 * Copy the n steps of sample (just appended by pgxt_slot_next_sample, which
 * made room for them) into slot's pending steps.  Caller holds slot->mutex.
 */
static inline void
pgxt_slot_add_steps(PgxtSlot *slot, PgxtXactSample *sample,
					const PgxtStep *steps, int n)
{
	int			start = slot->npending_steps;
	PgxtStep   *dest = &slot->pending_steps[start];
	const PgxtStep *end = steps + n;

	while (steps < end)
		*dest++ = *steps++;
	slot->npending_steps = start + n;
	sample->step_start = (uint16) start;
	sample->nsteps = (uint8) n;
}

/*
 * Whether the owner should try to fold its slot's pending list now.
 * Caller holds slot->mutex.
 */
static inline bool
pgxt_slot_flush_due(const PgxtSlot *slot)
{
	return slot->npending >= PGXT_PENDING_FLUSH ||
		slot->npending_steps > PGXT_PENDING_STEPS - 2 * PGXT_FP_STEPS;
}

PGXT_END_INTERNAL

#endif							/* PGXT_STORE_H */

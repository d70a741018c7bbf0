/*-------------------------------------------------------------------------
 *
 * store.c
 *		Shared memory of postgres_extension: sizing and creation, the
 *		per-backend slots, the statistics hash with its eviction, and the
 *		hold-time histograms.
 *
 * The hot path adds each ended transaction to its backend's slot, under
 * the slot's spinlock only (pgxt_slot_add_xact, store.h): to the running
 * sums of its group (its key and fingerprint), and its histogram bucket to
 * a list.  From PGXT_PENDING_FLUSH pending transactions on the backend
 * tries to fold them into their entries: it finds each group's entries
 * under the shared lock (or reuses its cached ones while no eviction or
 * reset happened since) and merges each group's sums in under the entry's
 * spinlock.  Only a new key or fingerprint takes the lock exclusively.
 * The backend does not wait for the lock while its slot has room: a reader
 * or an eviction holding the lock exclusively never delays a commit, the
 * transactions wait in the slot for a later commit.  Readers first drain
 * every slot under the exclusive lock, so they see every transaction that
 * ended before they started, as if each had gone into the hash at once.
 * Nothing on the hot path allocates backend memory or raises an error: it
 * runs inside commit and abort callbacks, where an error is fatal.
 *
 * Lock rules are in store.h.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/store.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "fingerprints.h"
#include "postgres_extension.h"
#include "store.h"

/* Usage given to a new entry, and the decay applied at each eviction. */
#define USAGE_INIT				1.0
#define USAGE_DECREASE_FACTOR	0.99
/* Share of entries evicted at once, and the least number evicted. */
#define EVICT_PERCENT			5
#define EVICT_MIN				10

/* An entry of the statistics hash. */
typedef struct PgxtEntry
{
	PgxtKey		key;			/* hash key, must be first */
	slock_t		mutex;			/* protects counters */
	PgxtCounters counters;
} PgxtEntry;

/* The fixed part of the shared state. */
typedef struct PgxtShared
{
	LWLock	   *lock;			/* protects the hash and generation */
	uint64		generation;		/* bumped by every eviction and reset */
	slock_t		mutex;			/* protects the fields below */
	int64		dealloc;		/* entries evicted since the last reset */
	int64		housekeeping_xacts; /* not tracked: SET, RESET, ... only */
	TimestampTz stats_reset;
	PgxtHistorySums evicted;	/* evicted entries' sums since the boundary */
	LWLock	   *events_lock;	/* protects the two fields below */
	uint64		timeout_events; /* events ever added since the last reset */
	PgxtTimeoutEvent timeout_ring[PGXT_TIMEOUT_EVENTS];
} PgxtShared;

static PgxtShared *pgxt_shared = NULL;
static HTAB *pgxt_hash = NULL;
static PgxtSlot *pgxt_slots = NULL;
static int	pgxt_nslots = 0;

/* Scratch array for eviction, in shared memory so eviction needs no palloc. */
static PgxtEntry **pgxt_evict_scratch = NULL;

static Size slots_size(int nslots);

/*
 * Bytes needed for nslots backend slots.
 */
static Size
slots_size(int nslots)
{
	return mul_size(sizeof(PgxtSlot), nslots);
}

/*
 * Total shared memory this module needs.
 */
static Size
store_size(void)
{
	Size		size;

	size = MAXALIGN(sizeof(PgxtShared));
	size = add_size(size, MAXALIGN(slots_size(pgxt_max_backends())));
	size = add_size(size, MAXALIGN(mul_size(sizeof(PgxtEntry *), pgxt_max_entries)));
	size = add_size(size, hash_estimate_size(pgxt_max_entries, sizeof(PgxtEntry)));
	return size;
}

/*
 * Ask for the shared memory and the LWLock this module needs.  Called from
 * the shmem_request_hook (15+) or from _PG_init (13, 14).
 */
void
pgxt_store_request(void)
{
	RequestAddinShmemSpace(store_size());
	RequestNamedLWLockTranche(PGXT_NAME, 2);
}

/*
 * Create or attach to the shared state.  Called from the
 * shmem_startup_hook in the postmaster (and in every backend on
 * EXEC_BACKEND builds); takes AddinShmemInitLock.  Returns true if the
 * state was created, false if it existed.
 */
bool
pgxt_store_startup(void)
{
	bool		found;
	bool		slots_found;
	bool		scratch_found;
	HASHCTL		info;

	pgxt_shared = NULL;
	pgxt_hash = NULL;
	pgxt_slots = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	pgxt_nslots = pgxt_max_backends();
	pgxt_shared = ShmemInitStruct("postgres_extension shared state",
								  sizeof(PgxtShared), &found);
	pgxt_slots = ShmemInitStruct("postgres_extension backend slots",
								 slots_size(pgxt_nslots), &slots_found);
	pgxt_evict_scratch = ShmemInitStruct("postgres_extension eviction scratch",
										 mul_size(sizeof(PgxtEntry *), pgxt_max_entries),
										 &scratch_found);
	if (!found)
	{
		pgxt_shared->lock = &(GetNamedLWLockTranche(PGXT_NAME))[0].lock;
		pgxt_shared->events_lock = &(GetNamedLWLockTranche(PGXT_NAME))[1].lock;
		pgxt_shared->generation = 0;
		SpinLockInit(&pgxt_shared->mutex);
		pgxt_shared->dealloc = 0;
		pgxt_shared->housekeeping_xacts = 0;
		pgxt_shared->stats_reset = GetCurrentTimestamp();
		pgxt_shared->timeout_events = 0;
		memset(&pgxt_shared->evicted, 0, sizeof(PgxtHistorySums));
	}
	if (!slots_found)
	{
		int			i;

		memset(pgxt_slots, 0, slots_size(pgxt_nslots));
		for (i = 0; i < pgxt_nslots; i++)
			SpinLockInit(&pgxt_slots[i].mutex);
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PgxtKey);
	info.entrysize = sizeof(PgxtEntry);
	pgxt_hash = ShmemInitHash("postgres_extension hash",
							  pgxt_max_entries, pgxt_max_entries,
							  &info, HASH_ELEM | HASH_BLOBS);

	LWLockRelease(AddinShmemInitLock);
	return !found;
}

/*
 * True when the shared state exists, that is when the library was loaded
 * through shared_preload_libraries.
 */
bool
pgxt_store_ready(void)
{
	return pgxt_shared != NULL && pgxt_hash != NULL;
}

/*
 * Number of backend slots.
 */
int
pgxt_store_nslots(void)
{
	return pgxt_nslots;
}

/*
 * The backend slot at index, or NULL when out of range.
 */
PgxtSlot *
pgxt_store_slot(int index)
{
	if (pgxt_slots == NULL || index < 0 || index >= pgxt_nslots)
		return NULL;
	return &pgxt_slots[index];
}

/*
 * The sums of counters since its history base.  Caller holds the entry's
 * spinlock or owns the copy.
 */
static void
history_delta(const PgxtCounters *c, PgxtHistorySums *delta)
{
	const PgxtHistorySums *base = &c->history_base;

	delta->xacts = c->xacts - base->xacts;
	delta->rollbacks = pgxt_counters_rollbacks(c) - base->rollbacks;
	delta->hold_us = c->total_hold_us - base->hold_us;
	delta->active_us = c->total_active_us - base->active_us;
	delta->idle_us = pgxt_counters_idle_us(c) - base->idle_us;
	delta->max_hold_us = base->max_hold_us;
	delta->timeouts = c->timeouts - base->timeouts;
}

/*
 * Add delta to sum; the maximum is kept as a maximum.
 */
static void
history_sums_add(PgxtHistorySums *sum, const PgxtHistorySums *delta)
{
	sum->xacts += delta->xacts;
	sum->rollbacks += delta->rollbacks;
	sum->hold_us += delta->hold_us;
	sum->active_us += delta->active_us;
	sum->idle_us += delta->idle_us;
	sum->max_hold_us = Max(sum->max_hold_us, delta->max_hold_us);
	sum->timeouts += delta->timeouts;
}

/*
 * qsort comparator: ascending usage.
 */
static int
entry_usage_cmp(const void *lhs, const void *rhs)
{
	double		l = (*(PgxtEntry *const *) lhs)->counters.usage;
	double		r = (*(PgxtEntry *const *) rhs)->counters.usage;

	if (l < r)
		return -1;
	if (l > r)
		return 1;
	return 0;
}

/*
 * Make room: decay every entry's usage and remove the least used
 * EVICT_PERCENT of them.  Caller holds pgxt_shared->lock exclusively.
 */
static void
entry_dealloc(void)
{
	HASH_SEQ_STATUS hash_seq;
	PgxtEntry  *entry;
	PgxtHistorySums evicted;
	int			nentries = 0;
	int			nvictims;
	int			i;

	hash_seq_init(&hash_seq, pgxt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		if (nentries < pgxt_max_entries)
			pgxt_evict_scratch[nentries++] = entry;
		entry->counters.usage *= USAGE_DECREASE_FACTOR;
	}
	if (nentries == 0)
		return;

	qsort(pgxt_evict_scratch, nentries, sizeof(PgxtEntry *), entry_usage_cmp);

	nvictims = Max(EVICT_MIN, nentries * EVICT_PERCENT / 100);
	nvictims = Min(nvictims, nentries);
	/* keep the bucket totals exact: the next boundary counts these */
	memset(&evicted, 0, sizeof(evicted));
	for (i = 0; i < nvictims; i++)
	{
		PgxtHistorySums delta;

		history_delta(&pgxt_evict_scratch[i]->counters, &delta);
		history_sums_add(&evicted, &delta);
		hash_search(pgxt_hash, &pgxt_evict_scratch[i]->key, HASH_REMOVE, NULL);
	}

	SpinLockAcquire(&pgxt_shared->mutex);
	history_sums_add(&pgxt_shared->evicted, &evicted);
	pgxt_shared->dealloc += nvictims;
	SpinLockRelease(&pgxt_shared->mutex);

	pgxt_shared->generation++;
}

/*
 * Find or create the entry of key.  Caller holds pgxt_shared->lock
 * exclusively.  Returns NULL only if the hash cannot take the entry even
 * after eviction.
 */
static PgxtEntry *
entry_alloc(const PgxtKey *key, TimestampTz now)
{
	PgxtEntry  *entry;
	bool		found;

	entry = hash_search(pgxt_hash, key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	while (hash_get_num_entries(pgxt_hash) >= pgxt_max_entries)
		entry_dealloc();

	entry = hash_search(pgxt_hash, key, HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
	{
		SpinLockInit(&entry->mutex);
		memset(&entry->counters, 0, sizeof(PgxtCounters));
		entry->counters.usage = USAGE_INIT;
		entry->counters.stats_since = now;
	}
	return entry;
}

/*
 * Lower (inclusive) and upper (exclusive) bound of a bucket, in
 * microseconds.
 */
void
pgxt_hist_bounds(int bucket, double *lower_us, double *upper_us)
{
	int			msb;
	int			sub;
	double		width;

	if (bucket < PGXT_HIST_SUB)
	{
		*lower_us = bucket;
		*upper_us = bucket + 1;
		return;
	}
	msb = bucket / PGXT_HIST_SUB + PGXT_HIST_SUB_BITS - 1;
	sub = bucket % PGXT_HIST_SUB;
	width = ldexp(1.0, msb - PGXT_HIST_SUB_BITS);
	*lower_us = (PGXT_HIST_SUB + sub) * width;
	*upper_us = *lower_us + width;
}

/*
 * The hold time, in microseconds, below which the given fraction of the
 * xacts transactions of histogram hist fall, interpolated inside its bucket
 * and clamped to the observed minimum and maximum.  Returns NaN when there
 * is no data.
 */
double
pgxt_hist_percentile(const uint64 *hist, int64 xacts, int64 min_hold_us,
					 int64 max_hold_us, double fraction)
{
	double		rank;
	double		seen = 0;
	int			i;

	if (xacts <= 0)
		return get_float8_nan();

	rank = fraction * xacts;
	for (i = 0; i < PGXT_HIST_BUCKETS; i++)
	{
		double		count = (double) hist[i];

		if (count > 0 && seen + count >= rank)
		{
			double		lower;
			double		upper;
			double		value;

			pgxt_hist_bounds(i, &lower, &upper);
			value = lower + (upper - lower) * (rank - seen) / count;
			value = Max(value, (double) min_hold_us);
			value = Min(value, (double) max_hold_us);
			return value;
		}
		seen += count;
	}
	return (double) max_hold_us;
}

/*
 * Population standard deviation of the hold times, in microseconds.
 */
double
pgxt_counters_stddev_hold(const PgxtCounters *counters)
{
	if (counters->xacts <= 0)
		return 0.0;
	return sqrt(counters->sum_var_hold / counters->xacts);
}

/*
 * Count a transaction of a backend that was only housekeeping.  Takes
 * pgxt_shared->mutex.
 */
void
pgxt_store_count_housekeeping(void)
{
	SpinLockAcquire(&pgxt_shared->mutex);
	pgxt_shared->housekeeping_xacts++;
	SpinLockRelease(&pgxt_shared->mutex);
}

/*
 * Merge groups of a pending list, all of entry's key, into entry: their
 * sums, combined, and the histogram buckets of their transactions,
 * buckets[0..nbuckets).  Takes the entry's spinlock; caller holds
 * pgxt_shared->lock.
 */
static void
entry_merge(PgxtEntry *entry, const PgxtSums *sums, const uint16 *buckets,
			int nbuckets)
{
	PgxtCounters *c = &entry->counters;
	int			i;

	SpinLockAcquire(&entry->mutex);
	c->sum_var_hold = pgxt_sums_merge_var(sums, c->sum_var_hold, c->xacts,
										  c->total_hold_us);
	c->min_hold_us = c->xacts > 0 ? Min(c->min_hold_us, sums->min_hold_us) :
		sums->min_hold_us;
	c->xacts += sums->n;
	c->commits += sums->commits;
	c->total_hold_us += sums->hold_us;
	c->max_hold_us = Max(c->max_hold_us, sums->max_hold_us);
	c->history_base.max_hold_us = Max(c->history_base.max_hold_us,
									  sums->max_hold_us);
	c->total_active_us += sums->active_us;
	c->max_idle_us = Max(c->max_idle_us, sums->max_idle_us);
	c->statements += sums->statements;
	c->explicit_xacts += sums->explicit_xacts;
	c->readonly_xacts += sums->readonly_xacts;
	c->timeouts += sums->timeouts;
	for (i = 0; i < nbuckets; i++)
		c->hist[buckets[i]]++;
	c->usage += sums->n * USAGE_INIT;
	c->last_seen = sums->last_end;
	SpinLockRelease(&entry->mutex);
}

/*
 * Add the sums of another group of the same key to acc: the squares of
 * add's hold times, summed shifted by add->shift, are shifted by
 * acc->shift instead.
 */
static pg_attribute_always_inline void
sums_combine(PgxtSums *acc, const PgxtSums *add)
{
	double		d = (double) (add->shift - acc->shift);

	if (add->n == 1)
		acc->sum_sq_shifted += d * d;	/* its one hold time is its shift */
	else
		acc->sum_sq_shifted += add->sum_sq_shifted +
			2.0 * d * (double) (add->hold_us - add->n * add->shift) +
			add->n * d * d;
	acc->n += add->n;
	acc->commits += add->commits;
	acc->hold_us += add->hold_us;
	acc->active_us += add->active_us;
	acc->statements += add->statements;
	acc->explicit_xacts += add->explicit_xacts;
	acc->readonly_xacts += add->readonly_xacts;
	acc->timeouts += add->timeouts;
	acc->min_hold_us = Min(acc->min_hold_us, add->min_hold_us);
	acc->max_hold_us = Max(acc->max_hold_us, add->max_hold_us);
	acc->max_idle_us = Max(acc->max_idle_us, add->max_idle_us);
	acc->last_end = Max(acc->last_end, add->last_end);
}

/*
 * The fingerprint key of a group of key key.
 */
static void
fp_key_of(const PgxtKey *key, uint64 fingerprint, PgxtFpKey *fp_key)
{
	memset(fp_key, 0, sizeof(PgxtFpKey));
	fp_key->dbid = key->dbid;
	fp_key->userid = key->userid;
	memcpy(fp_key->appname, key->appname, NAMEDATALEN);
	fp_key->fingerprint = fingerprint;
}

/* A pending list, as a fold reads it (in place, or a reader's copy). */
typedef struct PendingList
{
	const PgxtKey *keys;
	const PgxtPendingGroup *groups;
	int			ngroups;
	const uint16 *buckets;
	const uint8 *bucket_groups;
	int			nbuckets;
} PendingList;

/*
 * The entries a fold found for the first groups of a pending list under
 * the shared lock before it met a missing one, so that the fold under the
 * exclusive lock that follows does not look them up again: valid while
 * neither generation changed (no eviction or reset in between).
 */
typedef struct FoldState
{
	int			nfound;			/* groups [0, nfound) found */
	uint64		generation;		/* pgxt_shared->generation then */
	uint64		fp_generation;	/* pgxt_fp_generation() then */
	PgxtEntry  *entries[PGXT_PENDING_GROUPS];
	PgxtFpEntry *fp_entries[PGXT_PENDING_GROUPS];
} FoldState;

/*
 * A pending list's histogram buckets, ordered by group: group g's are
 * order[start[g]] to order[start[g + 1] - 1], so that each merge reads its
 * own and no other.  order is the list's own array when that is in order
 * already (one group, or groups that never came back once another began),
 * else sorted, which is kept in sorted.
 */
typedef struct GroupBuckets
{
	const uint16 *order;
	uint8		start[PGXT_PENDING_GROUPS + 1];
	uint16		sorted[PGXT_PENDING_MAX];
} GroupBuckets;

StaticAssertDecl(PGXT_PENDING_MAX <= PG_UINT8_MAX,
				 "a pending list's positions must fit in GroupBuckets.start");

/*
 * Order list's buckets by group into gb: in place when they are in order,
 * else by a counting sort.
 */
static void
group_buckets(const PendingList *list, GroupBuckets *gb)
{
	uint8		next[PGXT_PENDING_GROUPS];
	int			g;
	int			i;
	int			pos = 0;
	int			previous = 0;
	bool		in_order = true;

	gb->order = list->buckets;
	gb->start[0] = 0;
	if (list->ngroups <= 1)
	{
		gb->start[list->ngroups] = (uint8) list->nbuckets;
		return;
	}

	memset(next, 0, sizeof(next));
	for (i = 0; i < list->nbuckets; i++)
	{
		int			group = list->bucket_groups[i];

		next[group]++;
		in_order &= group >= previous;
		previous = group;
	}
	for (g = 0; g < list->ngroups; g++)
	{
		int			count = next[g];

		gb->start[g] = (uint8) pos;
		next[g] = (uint8) pos;
		pos += count;
	}
	gb->start[list->ngroups] = (uint8) pos;
	if (in_order)
		return;
	for (i = 0; i < list->nbuckets; i++)
		gb->sorted[next[list->bucket_groups[i]]++] = list->buckets[i];
	gb->order = gb->sorted;
}

/*
 * Consecutive groups of a pending list that go into one statistics entry
 * (groups of one key, with other fingerprints): their sums are combined
 * and merged into the entry once, not once per group.
 */
typedef struct MainRun
{
	PgxtEntry  *entry;			/* NULL: no run */
	int			first;			/* its groups: first to last */
	int			last;
	PgxtSums	sums;
} MainRun;

/*
 * Merge run into its entry, and end it.  Caller holds pgxt_shared->lock.
 */
static void
run_flush(MainRun *run, const GroupBuckets *gb)
{
	if (run->entry != NULL)
		entry_merge(run->entry, &run->sums, &gb->order[gb->start[run->first]],
					gb->start[run->last + 1] - gb->start[run->first]);
	run->entry = NULL;
}

/*
 * Add group g of list, whose statistics entry is entry (NULL: none), to
 * run, merging the run first if it is another entry's.  Caller holds
 * pgxt_shared->lock.
 */
static pg_attribute_always_inline void
run_add(MainRun *run, const PendingList *list, const GroupBuckets *gb, int g,
		PgxtEntry *entry)
{
	const PgxtSums *sums = &list->groups[g].sums;

	if (sums->n == 0)
		return;					/* no transaction, no bucket */
	if (entry != run->entry)
	{
		run_flush(run, gb);
		if (entry == NULL)
			return;
		run->entry = entry;
		run->first = g;
		run->sums = *sums;
	}
	else
		sums_combine(&run->sums, sums);
	run->last = g;
}

/*
 * Merge group g of list into its fingerprint's entry, if any.  Caller
 * holds pgxt_shared->lock.
 */
static inline void
fold_fp(const PendingList *list, const GroupBuckets *gb, int g,
		PgxtFpEntry *fp_entry)
{
	const PgxtPendingGroup *group = &list->groups[g];

	if (fp_entry != NULL)
		pgxt_fp_merge(fp_entry, group, &gb->order[gb->start[g]],
					  gb->start[g + 1] - gb->start[g],
					  list->keys[group->key_index].tag);
}

/*
 * Fold a pending list into the hash.  Without create, caller holds
 * pgxt_shared->lock at least shared and every entry must exist: if one
 * does not, nothing is folded, false is returned and state (if not NULL)
 * keeps the entries of the groups before it.  With create, caller holds
 * the lock exclusively, and missing entries are created (an entry the
 * hash cannot take even after eviction loses its transactions); the
 * entries in state, if still valid, are not looked up again.  owner (NULL
 * for a reader) remembers the entries for the next time.
 *
 * The statistics entry of a key is found once per run of its groups, and
 * merged once per run (MainRun).  The fingerprint key of a group is its
 * key's with the group's fingerprint: it is built, and its (database,
 * role, application_name) part hashed, once per key, so that a lookup per
 * group only combines that hash with the fingerprint.  With create, an
 * entry found or created is merged before the next one is created, which
 * may evict it.
 */
static bool
fold_pending(const PendingList *list, PgxtOwner *owner, bool create,
			 FoldState *state)
{
	PgxtEntry  *entries[PGXT_PENDING_GROUPS];
	PgxtFpEntry *fp_entries[PGXT_PENDING_GROUPS];
	PgxtFpKey	fp_key;
	int			fp_key_index = -1;
	uint32		prefix_hash = 0;
	int			main_key_index = -1;
	PgxtEntry  *main_entry = NULL;
	bool		main_key_cached = false;	/* main key is owner's cached_key */
	MainRun		run;
	GroupBuckets gb;
	bool		fp_ready = pgxt_fp_ready();
	int			g = 0;

	run.entry = NULL;
	group_buckets(list, &gb);

	/* the groups a fold under the shared lock found, still valid */
	if (create && state != NULL && state->nfound > 0 &&
		state->generation == pgxt_shared->generation &&
		state->fp_generation == pgxt_fp_generation())
	{
		for (; g < state->nfound; g++)
		{
			entries[g] = state->entries[g];
			fp_entries[g] = state->fp_entries[g];
			/* before any creation, which may evict */
			fold_fp(list, &gb, g, fp_entries[g]);
			run_add(&run, list, &gb, g, entries[g]);
			if (entries[g] != NULL)
			{
				main_key_index = list->groups[g].key_index;
				main_entry = entries[g];
			}
		}
	}

	for (; g < list->ngroups; g++)
	{
		const PgxtPendingGroup *group = &list->groups[g];
		PgxtEntry  *entry;
		PgxtFpEntry *fp_entry = NULL;

		if (group->sums.n == 0)
		{
			entries[g] = NULL;
			fp_entries[g] = NULL;
			continue;
		}
		if (group->key_index == main_key_index)
			entry = main_entry;
		else
		{
			const PgxtKey *key = &list->keys[group->key_index];

			main_key_cached = false;
			if (owner != NULL && owner->cached_entry != NULL &&
				owner->cached_generation == pgxt_shared->generation &&
				memcmp(&owner->cached_key, key, sizeof(PgxtKey)) == 0)
			{
				entry = (PgxtEntry *) owner->cached_entry;
				main_key_cached = true;
			}
			else if (create)
			{
				/* the run's entry may be evicted: merge it first */
				run_flush(&run, &gb);
				entry = entry_alloc(key, group->sums.last_end);
			}
			else
				entry = hash_search(pgxt_hash, key, HASH_FIND, NULL);
			if (entry == NULL && !create)
				break;
			main_key_index = group->key_index;
			main_entry = entry;
		}

		if (group->fingerprint != 0 && fp_ready)
		{
			if (owner != NULL && owner->cached_fp_entry != NULL &&
				owner->cached_fingerprint == group->fingerprint &&
				owner->cached_fp_main == entry &&
				owner->cached_fp_generation == pgxt_fp_generation())
				fp_entry = (PgxtFpEntry *) owner->cached_fp_entry;
			else
			{
				uint32		hashvalue;

				if (fp_key_index != group->key_index)
				{
					fp_key_of(&list->keys[group->key_index], 0, &fp_key);
					if (main_key_cached && owner->cached_prefix_valid)
						prefix_hash = owner->cached_prefix_hash;
					else
					{
						prefix_hash = pgxt_fp_prefix_hash(&fp_key);
						if (main_key_cached)
						{
							owner->cached_prefix_hash = prefix_hash;
							owner->cached_prefix_valid = true;
						}
					}
					fp_key_index = group->key_index;
				}
				fp_key.fingerprint = group->fingerprint;
				hashvalue = pgxt_fp_hash(prefix_hash, group->fingerprint);
				fp_entry = create ?
					pgxt_fp_enter(&fp_key, hashvalue, group->sums.last_end) :
					pgxt_fp_find(&fp_key, hashvalue);
				if (fp_entry == NULL && !create)
					break;
			}
		}
		entries[g] = entry;
		fp_entries[g] = fp_entry;

		/* new fingerprints may evict others: fold this group's at once */
		if (create)
		{
			fold_fp(list, &gb, g, fp_entry);
			run_add(&run, list, &gb, g, entry);
		}
	}

	if (!create)
	{
		if (g < list->ngroups)
		{
			/* group g has no entry yet: keep what was found before it */
			if (state != NULL)
			{
				state->nfound = g;
				state->generation = pgxt_shared->generation;
				state->fp_generation = pgxt_fp_generation();
				memcpy(state->entries, entries, g * sizeof(PgxtEntry *));
				memcpy(state->fp_entries, fp_entries, g * sizeof(PgxtFpEntry *));
			}
			return false;
		}
		for (g = 0; g < list->ngroups; g++)
		{
			fold_fp(list, &gb, g, fp_entries[g]);
			run_add(&run, list, &gb, g, entries[g]);
		}
	}
	run_flush(&run, &gb);

	/* remember the last group's entries */
	for (g = list->ngroups - 1; owner != NULL && g >= 0; g--)
	{
		const PgxtPendingGroup *group = &list->groups[g];

		if (entries[g] == NULL)
			continue;
		if (entries[g] != owner->cached_entry)
		{
			owner->cached_key = list->keys[group->key_index];
			owner->cached_prefix_valid = false;
			owner->cached_entry = entries[g];
			owner->cached_generation = pgxt_shared->generation;
		}
		owner->cached_fp_entry = fp_entries[g];
		if (fp_entries[g] != NULL)
		{
			owner->cached_fingerprint = group->fingerprint;
			owner->cached_fp_main = entries[g];
			owner->cached_fp_generation = pgxt_fp_generation();
		}
		break;
	}
	return true;
}

/*
 * Empty slot's pending list; its keys stay (their indexes are the
 * owner's).  Caller holds the slot's spinlock.
 */
static inline void
slot_clear_pending(PgxtSlot *slot)
{
	slot->npending = 0;
	slot->npending_groups = 0;
}

/*
 * The index of key among slot's pending keys, added if absent, remembered
 * by owner.  When the keys are full, they are cleared first if no pending
 * transaction refers to them; otherwise -1.  Caller, the slot's owner,
 * holds the slot's spinlock.
 */
int
pgxt_slot_key_index(PgxtSlot *slot, PgxtOwner *owner, const PgxtKey *key)
{
	int			k;

	for (k = 0; k < slot->npending_keys; k++)
	{
		if (memcmp(&slot->pending_keys[k], key, sizeof(PgxtKey)) == 0)
			break;
	}
	if (k == slot->npending_keys)
	{
		if (k == PGXT_PENDING_KEYS)
		{
			if (slot->npending_groups > 0)
				return -1;
			slot->npending_keys = 0;
			k = 0;
		}
		slot->pending_keys[k] = *key;
		slot->npending_keys++;
	}
	owner->key_index = k;
	return k;
}

/*
 * The index of the group of x (key key_index, x's fingerprint) among
 * slot's pending groups, remembered by owner.  If there is none, a new
 * group starts with x in it (its sums, its query ids and idle times) and
 * PGXT_PENDING_GROUPS plus its index is returned: x is added already.  -1
 * when the groups are full.  Caller, the slot's owner, holds the slot's
 * spinlock.
 */
int
pgxt_slot_group_index(PgxtSlot *slot, PgxtOwner *owner, int key_index,
					  const PgxtXactEnd *x)
{
	PgxtPendingGroup *group;
	PgxtSums   *sums;
	uint64		fingerprint = x->fingerprint;
	uint64		filter_bit = UINT64CONST(1) << (fingerprint % 64);
	int			ngroups = slot->npending_groups;
	int			g = ngroups;

	if (ngroups == 0)
		owner->group_filter = 0;	/* the list was emptied */
	else if (owner->group_filter & filter_bit)
	{
		for (g = 0; g < ngroups; g++)
		{
			group = &slot->pending_groups[g];
			if (group->fingerprint == fingerprint &&
				group->key_index == key_index)
			{
				owner->group_index = g;
				owner->group_fingerprint = fingerprint;
				return g;
			}
		}
	}
	if (g == PGXT_PENDING_GROUPS)
		return -1;

	/* the group starts with x alone: its sums are x's */
	group = &slot->pending_groups[g];
	group->key_index = (uint8) key_index;
	group->idle = false;
	group->steps_truncated = false;
	group->nsteps = 0;
	group->fingerprint = fingerprint;
	group->first_gap_us = 0;
	sums = &group->sums;
	sums->n = 1;
	sums->commits = x->committed;
	sums->hold_us = x->hold_us;
	sums->active_us = x->active_us;
	sums->statements = x->statements;
	sums->explicit_xacts = x->explicit_block;
	sums->readonly_xacts = x->readonly;
	sums->timeouts = x->timed_out;
	sums->min_hold_us = x->hold_us;
	sums->max_hold_us = x->hold_us;
	sums->max_idle_us = x->max_idle_us;
	sums->shift = x->hold_us;
	sums->sum_sq_shifted = 0.0;
	sums->last_end = x->end;
	if (fingerprint != 0)
	{
		const PgxtStep *steps = x->steps;
		int			nsteps = x->nsteps;
		int			i;

		/* its steps, and their idle times (read only when idle is set) */
		group->nsteps = (uint8) nsteps;
		group->steps_truncated = x->steps_truncated;
		for (i = 0; i < nsteps; i++)
		{
			group->queryids[i] = steps[i].queryid;
			group->idle_after_us[i] = steps[i].idle_us;
		}
		if (x->idle)
		{
			group->idle = true;
			group->first_gap_us = x->first_gap_us;
		}
	}
	slot->npending_groups = g + 1;
	owner->group_index = g;
	owner->group_fingerprint = fingerprint;
	owner->group_filter |= filter_bit;
	return PGXT_PENDING_GROUPS + g;
}

/*
 * Add x, of key, to the owner's slot when the hot path found no room (the
 * list, its keys or its groups full): fold the list first, waiting for the
 * lock only if it is taken.  Takes pgxt_shared->lock, then the slot's
 * spinlock.  Never raises an error.
 */
void
pgxt_store_add_waiting(PgxtSlot *slot, PgxtOwner *owner, const PgxtKey *key,
					   const PgxtXactEnd *x)
{
	if (!pgxt_store_flush(slot, owner, false))
		(void) pgxt_store_flush(slot, owner, true);
	SpinLockAcquire(&slot->mutex);
	(void) pgxt_slot_add_xact(slot, owner, key, x);
	SpinLockRelease(&slot->mutex);
}

/*
 * The caller's own slot's pending list, read in place.
 */
static void
own_list(const PgxtSlot *slot, PendingList *list)
{
	list->keys = slot->pending_keys;
	list->groups = slot->pending_groups;
	list->ngroups = slot->npending_groups;
	list->buckets = slot->pending_buckets;
	list->bucket_groups = slot->pending_bucket_group;
	list->nbuckets = slot->npending;
}

/*
 * Fold the pending transactions of the caller's own slot into their
 * entries; returns whether the list is empty now.  Without wait it gives
 * up at once when pgxt_shared->lock is taken, and the transactions stay
 * for a later try; with wait it waits for the lock.  When every entry
 * exists the list is folded under the shared lock (and the entries'
 * spinlocks); otherwise under the exclusive lock, which inserts the new
 * ones.  Never allocates backend memory and never raises an error: it is
 * called from commit and abort callbacks.
 *
 * While the caller holds the lock nobody else empties its list (see
 * store.h) and only the caller adds to it, so the list is read in place,
 * without the slot's spinlock, and emptied under it once it is in the
 * entries.
 */
bool
pgxt_store_flush(PgxtSlot *slot, PgxtOwner *owner, bool wait)
{
	PendingList list;
	FoldState	state;
	int			n;

	if (slot->npending == 0 || !pgxt_store_ready())
		return true;

	if (wait)
		LWLockAcquire(pgxt_shared->lock, LW_SHARED);
	else if (!LWLockConditionalAcquire(pgxt_shared->lock, LW_SHARED))
		return false;

	/*
	 * A reader or a reset may have emptied the list before we got the lock
	 * (cppcheck cannot know that another process writes it).
	 */
	n = slot->npending;
	own_list(slot, &list);
	state.nfound = 0;
	/* cppcheck-suppress knownConditionTrueFalse */
	if (n == 0 || fold_pending(&list, owner, false, &state))
	{
		SpinLockAcquire(&slot->mutex);
		slot_clear_pending(slot);
		SpinLockRelease(&slot->mutex);
		LWLockRelease(pgxt_shared->lock);
		return true;
	}
	LWLockRelease(pgxt_shared->lock);

	/* new keys or fingerprints: only the exclusive lock inserts them */
	if (wait)
		LWLockAcquire(pgxt_shared->lock, LW_EXCLUSIVE);
	else if (!LWLockConditionalAcquire(pgxt_shared->lock, LW_EXCLUSIVE))
		return false;
	own_list(slot, &list);
	if (list.nbuckets > 0)
		(void) fold_pending(&list, owner, true, &state);
	SpinLockAcquire(&slot->mutex);
	slot_clear_pending(slot);
	SpinLockRelease(&slot->mutex);
	LWLockRelease(pgxt_shared->lock);
	return true;
}

/*
 * Fold every slot's pending transactions into the hash, so that the caller
 * then reads every transaction that ended before it started.  Takes
 * pgxt_shared->lock exclusively, each slot's spinlock and the entries'
 * spinlocks, one at a time.  Each list is copied out under its slot's
 * spinlock and folded after.
 */
static void
drain_pending(void)
{
	PgxtKey		keys[PGXT_PENDING_KEYS];
	PgxtPendingGroup groups[PGXT_PENDING_GROUPS];
	uint16		buckets[PGXT_PENDING_MAX];
	uint8		bucket_groups[PGXT_PENDING_MAX];
	PendingList list;
	int			i;

	list.keys = keys;
	list.groups = groups;
	list.buckets = buckets;
	list.bucket_groups = bucket_groups;

	LWLockAcquire(pgxt_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgxt_nslots; i++)
	{
		PgxtSlot   *slot = &pgxt_slots[i];

		SpinLockAcquire(&slot->mutex);
		list.nbuckets = slot->npending;
		list.ngroups = slot->npending_groups;
		if (list.nbuckets > 0)
		{
			memcpy(keys, slot->pending_keys, slot->npending_keys * sizeof(PgxtKey));
			memcpy(groups, slot->pending_groups,
				   list.ngroups * sizeof(PgxtPendingGroup));
			memcpy(buckets, slot->pending_buckets, list.nbuckets * sizeof(uint16));
			memcpy(bucket_groups, slot->pending_bucket_group, list.nbuckets);
			slot_clear_pending(slot);
		}
		SpinLockRelease(&slot->mutex);

		if (list.nbuckets > 0)
			(void) fold_pending(&list, NULL, true, NULL);
	}
	LWLockRelease(pgxt_shared->lock);
}

/*
 * Fold every slot's pending transactions, for a reader of the
 * fingerprints.  Takes pgxt_shared->lock exclusively.
 */
void
pgxt_store_drain(void)
{
	drain_pending();
}

/*
 * The lock that protects the statistics and the fingerprints (see
 * store.h).
 */
LWLock *
pgxt_store_lock(void)
{
	return pgxt_shared->lock;
}

/*
 * Call visitor with a copy of every entry, after draining the slots (see
 * drain_pending), holding pgxt_shared->lock shared.  The copy is taken
 * under the entry's spinlock; the visitor runs without it and may allocate
 * or raise an error.
 */
void
pgxt_store_foreach(PgxtEntryVisitor visitor, void *arg)
{
	HASH_SEQ_STATUS hash_seq;
	PgxtEntry  *entry;
	PgxtCounters *copy = palloc(sizeof(PgxtCounters));

	drain_pending();
	LWLockAcquire(pgxt_shared->lock, LW_SHARED);
	hash_seq_init(&hash_seq, pgxt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		memcpy(copy, &entry->counters, sizeof(PgxtCounters));
		SpinLockRelease(&entry->mutex);
		visitor(&entry->key, copy, arg);
	}
	LWLockRelease(pgxt_shared->lock);
	pfree(copy);
}

/*
 * Copy the counters of key; false if there is no such entry.  Drains the
 * slots, then takes pgxt_shared->lock shared and the entry's spinlock.
 */
bool
pgxt_store_get(const PgxtKey *key, PgxtCounters *counters)
{
	PgxtEntry  *entry;

	drain_pending();
	LWLockAcquire(pgxt_shared->lock, LW_SHARED);
	entry = hash_search(pgxt_hash, key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		memcpy(counters, &entry->counters, sizeof(PgxtCounters));
		SpinLockRelease(&entry->mutex);
	}
	LWLockRelease(pgxt_shared->lock);
	return entry != NULL;
}

/*
 * Hand visitor every key's sums since the last history boundary, after
 * draining the slots, holding pgxt_shared->lock shared; with advance, that
 * boundary moves to now (each entry's base is reset under its spinlock, so
 * no transaction is counted twice or lost).  *evicted receives the sums of entries evicted since the
 * boundary (and, with advance, is reset).  The visitor must not raise an
 * error.
 */
void
pgxt_store_history_deltas(bool advance, PgxtDeltaVisitor visitor, void *arg,
						  PgxtHistorySums *evicted)
{
	HASH_SEQ_STATUS hash_seq;
	PgxtEntry  *entry;

	drain_pending();
	LWLockAcquire(pgxt_shared->lock, LW_SHARED);
	hash_seq_init(&hash_seq, pgxt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		PgxtHistorySums delta;
		PgxtCounters *c = &entry->counters;

		SpinLockAcquire(&entry->mutex);
		history_delta(c, &delta);
		if (advance)
		{
			c->history_base.xacts = c->xacts;
			c->history_base.rollbacks = pgxt_counters_rollbacks(c);
			c->history_base.hold_us = c->total_hold_us;
			c->history_base.active_us = c->total_active_us;
			c->history_base.idle_us = pgxt_counters_idle_us(c);
			c->history_base.max_hold_us = 0;
			c->history_base.timeouts = c->timeouts;
		}
		SpinLockRelease(&entry->mutex);

		if (delta.xacts != 0 || delta.timeouts != 0)
			visitor(&entry->key, &delta, arg);
	}

	SpinLockAcquire(&pgxt_shared->mutex);
	*evicted = pgxt_shared->evicted;
	if (advance)
		memset(&pgxt_shared->evicted, 0, sizeof(PgxtHistorySums));
	SpinLockRelease(&pgxt_shared->mutex);

	LWLockRelease(pgxt_shared->lock);
}

/*
 * Loading saved entries at startup.  When the file holds more entries than
 * the store can take (postgres_extension.max was lowered), the most used
 * ones (highest usage, the rank eviction goes by) are kept: the entries in
 * the hash form a min-heap on usage, whose root a more used entry replaces.
 * Those left out are counted as evicted (dealloc, and their sums since the
 * last history boundary, so that the open bucket's totals stay exact).
 * Memory is one pointer per entry kept, whatever the file holds.
 */
typedef struct LoadState
{
	PgxtEntry **heap;			/* entries kept, min-heap on usage */
	int			nheap;
	int			capacity;
	int64		dropped;		/* entries left out */
	PgxtHistorySums dropped_sums;	/* their sums since the boundary */
} LoadState;

static LoadState load_state;

/*
 * Restore the heap property below position i of the load heap.
 */
static void
load_heap_sift_down(int i)
{
	PgxtEntry **heap = load_state.heap;
	int			n = load_state.nheap;

	for (;;)
	{
		int			least = i;
		int			left = 2 * i + 1;
		int			right = left + 1;
		PgxtEntry  *tmp;

		if (left < n && heap[left]->counters.usage < heap[least]->counters.usage)
			least = left;
		if (right < n && heap[right]->counters.usage < heap[least]->counters.usage)
			least = right;
		if (least == i)
			return;
		tmp = heap[i];
		heap[i] = heap[least];
		heap[least] = tmp;
		i = least;
	}
}

/*
 * Restore the heap property above position i of the load heap.
 */
static void
load_heap_sift_up(int i)
{
	PgxtEntry **heap = load_state.heap;

	while (i > 0)
	{
		int			parent = (i - 1) / 2;
		PgxtEntry  *tmp;

		if (heap[parent]->counters.usage <= heap[i]->counters.usage)
			return;
		tmp = heap[i];
		heap[i] = heap[parent];
		heap[parent] = tmp;
		i = parent;
	}
}

/*
 * Count one saved entry as left out.
 */
static void
load_drop(const PgxtCounters *counters)
{
	PgxtHistorySums delta;

	history_delta(counters, &delta);
	history_sums_add(&load_state.dropped_sums, &delta);
	load_state.dropped++;
}

/*
 * Start loading the nentries entries of a statistics file into the empty
 * store.  Only for persist.c, in the postmaster (or the standalone
 * backend) at startup, when no other process uses the shared memory.
 */
void
pgxt_store_load_begin(int64 nentries)
{
	memset(&load_state, 0, sizeof(load_state));
	load_state.capacity = (int) Min(Max(nentries, 0), (int64) pgxt_max_entries);
	if (load_state.capacity > 0)
		load_state.heap = MemoryContextAllocHuge(CurrentMemoryContext,
												 sizeof(PgxtEntry *) * load_state.capacity);
}

/*
 * Load one saved entry: into the store if it has room, else in place of
 * the least used entry kept so far if this one is used more, else left
 * out.  A key already loaded keeps its first counters (a valid file has
 * each key once).  Takes pgxt_shared->lock exclusively.
 */
void
pgxt_store_load_entry(const PgxtKey *key, const PgxtCounters *counters)
{
	PgxtEntry  *entry;
	bool		found;

	LWLockAcquire(pgxt_shared->lock, LW_EXCLUSIVE);
	if (hash_search(pgxt_hash, key, HASH_FIND, NULL) != NULL)
	{
		LWLockRelease(pgxt_shared->lock);
		return;
	}
	if (load_state.nheap == load_state.capacity)
	{
		PgxtEntry  *least;

		if (load_state.nheap == 0 ||
			counters->usage <= load_state.heap[0]->counters.usage)
		{
			load_drop(counters);
			LWLockRelease(pgxt_shared->lock);
			return;
		}
		/* the least used entry kept so far makes room */
		least = load_state.heap[0];
		load_drop(&least->counters);
		hash_search(pgxt_hash, &least->key, HASH_REMOVE, NULL);
		load_state.heap[0] = load_state.heap[--load_state.nheap];
		load_heap_sift_down(0);
	}

	entry = hash_search(pgxt_hash, key, HASH_ENTER_NULL, &found);
	if (entry == NULL)
		load_drop(counters);	/* out of shared memory */
	else
	{
		SpinLockInit(&entry->mutex);
		entry->counters = *counters;
		load_state.heap[load_state.nheap++] = entry;
		load_heap_sift_up(load_state.nheap - 1);
	}
	LWLockRelease(pgxt_shared->lock);
}

/*
 * Finish loading.  With keep, the entries left out are added to dealloc
 * and to the evicted sums (restore those from the file first, with
 * pgxt_store_restore_info); without it (the file proved unusable after
 * all), every loaded entry is removed again.  Returns how many entries
 * were left out.  Takes pgxt_shared->lock exclusively, then
 * pgxt_shared->mutex.
 */
int64
pgxt_store_load_end(bool keep)
{
	int64		dropped = load_state.dropped;

	LWLockAcquire(pgxt_shared->lock, LW_EXCLUSIVE);
	if (keep)
	{
		SpinLockAcquire(&pgxt_shared->mutex);
		pgxt_shared->dealloc += dropped;
		history_sums_add(&pgxt_shared->evicted, &load_state.dropped_sums);
		SpinLockRelease(&pgxt_shared->mutex);
	}
	else
	{
		int			i;

		for (i = 0; i < load_state.nheap; i++)
			hash_search(pgxt_hash, &load_state.heap[i]->key, HASH_REMOVE, NULL);
		dropped = 0;
	}
	pgxt_shared->generation++;
	LWLockRelease(pgxt_shared->lock);

	if (load_state.heap)
		pfree(load_state.heap);
	memset(&load_state, 0, sizeof(load_state));
	return dropped;
}

/*
 * The sums of entries evicted since the last history boundary, for the
 * statistics file.  Takes pgxt_shared->mutex.
 */
void
pgxt_store_evicted(PgxtHistorySums *evicted)
{
	SpinLockAcquire(&pgxt_shared->mutex);
	*evicted = pgxt_shared->evicted;
	SpinLockRelease(&pgxt_shared->mutex);
}

/*
 * Restore the global counters, as loaded from the statistics file.  Takes
 * pgxt_shared->mutex.
 */
void
pgxt_store_restore_info(const PgxtStoreInfo *info,
						const PgxtHistorySums *evicted)
{
	SpinLockAcquire(&pgxt_shared->mutex);
	pgxt_shared->dealloc = info->dealloc;
	pgxt_shared->stats_reset = info->stats_reset;
	pgxt_shared->housekeeping_xacts = info->housekeeping_xacts;
	pgxt_shared->evicted = *evicted;
	SpinLockRelease(&pgxt_shared->mutex);
}

/*
 * Append a watchdog event to the ring, replacing the oldest when full.
 * Takes pgxt_shared->events_lock exclusively.
 */
void
pgxt_store_add_timeout_event(const PgxtTimeoutEvent *event)
{
	LWLockAcquire(pgxt_shared->events_lock, LW_EXCLUSIVE);
	pgxt_shared->timeout_ring[pgxt_shared->timeout_events % PGXT_TIMEOUT_EVENTS] = *event;
	pgxt_shared->timeout_events++;
	LWLockRelease(pgxt_shared->events_lock);
}

/*
 * Copy the watchdog events, oldest first, into events (room for
 * PGXT_TIMEOUT_EVENTS) and return how many there are.  Takes
 * pgxt_shared->events_lock shared.
 */
int
pgxt_store_timeout_events(PgxtTimeoutEvent *events)
{
	uint64		total;
	int			count;
	int			i;

	LWLockAcquire(pgxt_shared->events_lock, LW_SHARED);
	total = pgxt_shared->timeout_events;
	count = (int) Min(total, (uint64) PGXT_TIMEOUT_EVENTS);
	for (i = 0; i < count; i++)
		events[i] = pgxt_shared->timeout_ring[(total - count + i) % PGXT_TIMEOUT_EVENTS];
	LWLockRelease(pgxt_shared->events_lock);
	return count;
}

/*
 * Discard every entry and fingerprint, the slots' pending transactions and
 * the watchdog events, and restart the global counters.  Takes
 * pgxt_shared->lock exclusively (and each slot's spinlock), then
 * pgxt_shared->events_lock.
 */
void
pgxt_store_reset(void)
{
	HASH_SEQ_STATUS hash_seq;
	PgxtEntry  *entry;
	TimestampTz reset_time = GetCurrentTimestamp();
	int			i;

	LWLockAcquire(pgxt_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&hash_seq, pgxt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
		hash_search(pgxt_hash, &entry->key, HASH_REMOVE, NULL);
	pgxt_shared->generation++;
	for (i = 0; i < pgxt_nslots; i++)
	{
		SpinLockAcquire(&pgxt_slots[i].mutex);
		slot_clear_pending(&pgxt_slots[i]);
		SpinLockRelease(&pgxt_slots[i].mutex);
	}
	pgxt_fp_reset_locked();

	SpinLockAcquire(&pgxt_shared->mutex);
	pgxt_shared->dealloc = 0;
	pgxt_shared->housekeeping_xacts = 0;
	pgxt_shared->stats_reset = reset_time;
	memset(&pgxt_shared->evicted, 0, sizeof(PgxtHistorySums));
	SpinLockRelease(&pgxt_shared->mutex);

	LWLockRelease(pgxt_shared->lock);

	LWLockAcquire(pgxt_shared->events_lock, LW_EXCLUSIVE);
	pgxt_shared->timeout_events = 0;
	LWLockRelease(pgxt_shared->events_lock);
}

/*
 * The global counters.  Takes pgxt_shared->mutex.
 */
void
pgxt_store_info(PgxtStoreInfo *info)
{
	SpinLockAcquire(&pgxt_shared->mutex);
	info->dealloc = pgxt_shared->dealloc;
	info->stats_reset = pgxt_shared->stats_reset;
	info->housekeeping_xacts = pgxt_shared->housekeeping_xacts;
	SpinLockRelease(&pgxt_shared->mutex);
}

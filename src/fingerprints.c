/*-------------------------------------------------------------------------
 *
 * fingerprints.c
 *		Transaction fingerprints: a second table of statistics, one entry per
 *		(database, role, application_name, fingerprint), for applications
 *		that tag nothing.
 *
 * A transaction's fingerprint is a 64-bit hash of the ordered query ids of
 * its statements (the core's query ids, the ones pg_stat_statements shows;
 * transaction control is not a statement).  A run of one statement
 * repeated, same query id, is one step: a loop of 99 or 100 INSERTs has the
 * fingerprint of one INSERT.  The hooks fold each statement's query id into
 * the fingerprint as it comes, keep its steps (up to PGXT_FP_STEPS, the
 * last one taking the idle time of any further ones) with the idle time
 * that followed each, and hand them to the store with the transaction.
 * The store folds them here, in the same batches as the main statistics,
 * under the same lock (store.h): lookups and merges under it shared, new
 * entries and evictions under it exclusive.  Each entry's counters are
 * protected by its own spinlock.  When the table is full the least used
 * fingerprints are evicted, and counted.
 *
 * Query ids exist only when the core computes them: compute_query_id = on,
 * or auto with a module that asks for them (pg_stat_statements).  The
 * setting postgres_extension.fingerprints says whether fingerprints are
 * recorded: auto (when query ids are computed), on (and ask the core to
 * compute them, which costs their computation), off.  PostgreSQL 13 has no
 * query ids of its own: there pg_stat_statements computes them for the
 * statements it plans (not for utility statements), and fingerprints are
 * made of those.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/fingerprints.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

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

/*---- GUC variables ----*/
int			pgxt_fp_mode = PGXT_FP_AUTO;
int			pgxt_fp_max_entries = 1000;

struct PgxtFpEntry
{
	PgxtFpKey	key;			/* hash key, must be first */
	slock_t		mutex;			/* protects counters */
	PgxtFpCounters counters;
};

/* The fixed part of the shared state. */
typedef struct PgxtFpShared
{
	uint64		generation;		/* bumped by every eviction and reset;
								 * under the store's lock */
	slock_t		mutex;			/* protects dealloc */
	int64		dealloc;		/* entries evicted since the last reset */
} PgxtFpShared;

static PgxtFpShared *fp_shared = NULL;
static HTAB *fp_hash = NULL;
static PgxtFpEntry **fp_evict_scratch = NULL;

/*
 * The hash of key's (database, role, application_name): the part that the
 * groups of one key share, computed once per key by a fold.
 */
uint32
pgxt_fp_prefix_hash(const PgxtFpKey *key)
{
	/* the name's bytes only: the rest is zeros, the same for every key */
	return hash_bytes((const unsigned char *) key,
					  offsetof(PgxtFpKey, appname) +
					  strnlen(key->appname, NAMEDATALEN));
}

/*
 * The hash function of the fingerprints' table: the prefix hash combined
 * with the fingerprint (pgxt_fp_hash), so that a caller that has the
 * prefix hash can look keys up without hashing them whole.
 */
static uint32
fp_hash_fn(const void *key, Size keysize)
{
	const PgxtFpKey *k = (const PgxtFpKey *) key;

	return pgxt_fp_hash(pgxt_fp_prefix_hash(k), k->fingerprint);
}

/*
 * The key comparison of the fingerprints' table (0: equal): the
 * fingerprint first, which tells most keys of one bucket apart, then the
 * application_name eight bytes at a time up to the word that ends it (keys
 * are zero-padded, so the words after it are zero in both).
 */
static int
fp_key_match(const void *key1, const void *key2, Size keysize)
{
	const PgxtFpKey *a = (const PgxtFpKey *) key1;
	const PgxtFpKey *b = (const PgxtFpKey *) key2;
	int			i;

	if (a->fingerprint != b->fingerprint || a->dbid != b->dbid ||
		a->userid != b->userid)
		return 1;
	for (i = 0; i < NAMEDATALEN; i += sizeof(uint64))
	{
		uint64		word_a;
		uint64		word_b;

		memcpy(&word_a, a->appname + i, sizeof(uint64));
		memcpy(&word_b, b->appname + i, sizeof(uint64));
		if (word_a != word_b)
			return 1;
		/* a zero byte in the word: the name ends in it */
		if (((word_a - UINT64CONST(0x0101010101010101)) & ~word_a &
			 UINT64CONST(0x8080808080808080)) != 0)
			return 0;
	}
	return 0;
}

StaticAssertDecl(NAMEDATALEN % sizeof(uint64) == 0,
				 "fp_key_match compares application_name in 8-byte words");

/*
 * Done in _PG_init: with fingerprints = on, ask the core to compute query
 * ids (14 and later; 13 has none).
 */
void
pgxt_fp_init(void)
{
	if (pgxt_fp_mode == PGXT_FP_ON)
		pgxt_enable_query_id();
}

/*
 * Shared memory this module needs.
 */
static Size
fp_size(void)
{
	Size		size;

	if (pgxt_fp_mode == PGXT_FP_OFF)
		return 0;
	size = MAXALIGN(sizeof(PgxtFpShared));
	size = add_size(size, MAXALIGN(mul_size(sizeof(PgxtFpEntry *), pgxt_fp_max_entries)));
	size = add_size(size, hash_estimate_size(pgxt_fp_max_entries, sizeof(PgxtFpEntry)));
	return size;
}

/*
 * Ask for the shared memory of the fingerprints.  Called with the store's
 * request.
 */
void
pgxt_fp_request(void)
{
	RequestAddinShmemSpace(fp_size());
}

/*
 * Create or attach to the fingerprints' shared state.  Called from the
 * shmem_startup_hook; takes AddinShmemInitLock.
 */
void
pgxt_fp_startup(void)
{
	bool		found;
	bool		scratch_found;
	HASHCTL		info;

	fp_shared = NULL;
	fp_hash = NULL;
	if (pgxt_fp_mode == PGXT_FP_OFF)
		return;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	fp_shared = ShmemInitStruct("postgres_extension fingerprints",
								sizeof(PgxtFpShared), &found);
	fp_evict_scratch = ShmemInitStruct("postgres_extension fingerprints eviction scratch",
									   mul_size(sizeof(PgxtFpEntry *), pgxt_fp_max_entries),
									   &scratch_found);
	if (!found)
	{
		fp_shared->generation = 0;
		SpinLockInit(&fp_shared->mutex);
		fp_shared->dealloc = 0;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PgxtFpKey);
	info.entrysize = sizeof(PgxtFpEntry);
	info.hash = fp_hash_fn;
	info.match = fp_key_match;
	fp_hash = ShmemInitHash("postgres_extension fingerprints hash",
							pgxt_fp_max_entries, pgxt_fp_max_entries,
							&info, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * True when the fingerprints' table exists.
 */
bool
pgxt_fp_ready(void)
{
	return fp_hash != NULL;
}

/*
 * Why fingerprints are, or are not, recorded, for pg_stat_transactions_info.
 */
const char *
pgxt_fp_status(void)
{
	if (pgxt_fp_mode == PGXT_FP_OFF)
		return "off: postgres_extension.fingerprints is off";
	if (!pgxt_fp_ready())
		return "off: postgres_extension.fingerprints was off at server start";
	/* a constant of the PostgreSQL version built against */
	/* cppcheck-suppress knownConditionTrueFalse */
	if (!pgxt_query_id_supported())
		return "on: with the query ids of pg_stat_statements (this PostgreSQL computes none itself; 14 and later do)";
	/* cppcheck-suppress knownConditionTrueFalse */
	if (!pgxt_query_id_enabled())
		return "off: query ids are not computed (compute_query_id is off, or auto without pg_stat_statements); set postgres_extension.fingerprints = on, or compute_query_id = on";
	return "on";
}

/*
 * The entry of key, or NULL; hashvalue is key's pgxt_fp_hash.  Caller holds
 * the store's lock.
 */
PgxtFpEntry *
pgxt_fp_find(const PgxtFpKey *key, uint32 hashvalue)
{
	return (PgxtFpEntry *) hash_search_with_hash_value(fp_hash, key, hashvalue,
													   HASH_FIND, NULL);
}

/*
 * The current generation: it changes when entries go away; 0 when no
 * fingerprints are recorded (no table).  Caller holds the store's lock.
 */
uint64
pgxt_fp_generation(void)
{
	return fp_shared != NULL ? fp_shared->generation : 0;
}

/*
 * Restore the max-heap order (by usage) of heap[0..n) below position i.
 */
static void
fp_heap_sift_down(PgxtFpEntry **heap, int n, int i)
{
	PgxtFpEntry *moving = heap[i];

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n &&
			heap[child + 1]->counters.usage > heap[child]->counters.usage)
			child++;
		if (heap[child]->counters.usage <= moving->counters.usage)
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = moving;
}

/*
 * Make room: decay every entry's usage and remove the least used
 * EVICT_PERCENT of them.  They are selected in one pass over the table,
 * in a max-heap of the least used so far (the scratch array): the table
 * is not sorted, which would cost several times the pass.  Caller holds
 * the store's lock exclusively.
 */
static void
fp_dealloc(void)
{
	HASH_SEQ_STATUS hash_seq;
	PgxtFpEntry *entry;
	long		nentries = hash_get_num_entries(fp_hash);
	int			nvictims;
	int			nheap = 0;
	int			i;

	if (nentries == 0)
		return;
	nvictims = (int) Min(Max(EVICT_MIN, nentries * EVICT_PERCENT / 100), nentries);
	nvictims = Min(nvictims, pgxt_fp_max_entries);
	hash_seq_init(&hash_seq, fp_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		entry->counters.usage *= USAGE_DECREASE_FACTOR;
		if (nheap < nvictims)
		{
			fp_evict_scratch[nheap++] = entry;
			if (nheap == nvictims)
			{
				for (i = nheap / 2 - 1; i >= 0; i--)
					fp_heap_sift_down(fp_evict_scratch, nheap, i);
			}
		}
		else if (entry->counters.usage < fp_evict_scratch[0]->counters.usage)
		{
			fp_evict_scratch[0] = entry;
			fp_heap_sift_down(fp_evict_scratch, nheap, 0);
		}
	}
	for (i = 0; i < nheap; i++)
		hash_search(fp_hash, &fp_evict_scratch[i]->key, HASH_REMOVE, NULL);
	nvictims = nheap;

	SpinLockAcquire(&fp_shared->mutex);
	fp_shared->dealloc += nvictims;
	SpinLockRelease(&fp_shared->mutex);
	fp_shared->generation++;
}

/*
 * Find or create the entry of key; hashvalue is key's pgxt_fp_hash.  Caller
 * holds the store's lock exclusively.  NULL only if the table cannot take
 * it even after eviction.
 */
PgxtFpEntry *
pgxt_fp_enter(const PgxtFpKey *key, uint32 hashvalue, TimestampTz now)
{
	PgxtFpEntry *entry;
	bool		found;

	/* full: evict only if the key is not there already */
	if (hash_get_num_entries(fp_hash) >= pgxt_fp_max_entries)
	{
		entry = pgxt_fp_find(key, hashvalue);
		if (entry != NULL)
			return entry;
		while (hash_get_num_entries(fp_hash) >= pgxt_fp_max_entries)
			fp_dealloc();
	}
	entry = (PgxtFpEntry *) hash_search_with_hash_value(fp_hash, key, hashvalue,
														HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
	{
		SpinLockInit(&entry->mutex);
		memset(&entry->counters, 0, sizeof(PgxtFpCounters));
		entry->counters.usage = USAGE_INIT;
		entry->counters.stats_since = now;
	}
	return entry;
}

/*
 * Merge a group of a pending list, transactions of entry's fingerprint:
 * their sums, their histogram buckets (buckets[0..nbuckets)), the idle
 * time after each step and before the first, the query ids if the entry
 * has none yet, and the last tag seen.  Takes the entry's spinlock; caller
 * holds the store's lock.
 */
void
pgxt_fp_merge(PgxtFpEntry *entry, const PgxtPendingGroup *group,
			  const uint16 *buckets, int nbuckets, const char *tag)
{
	PgxtFpCounters *c = &entry->counters;
	const PgxtSums *sums = &group->sums;
	int			i;

	SpinLockAcquire(&entry->mutex);
	if (c->nsteps == 0)
	{
		c->nsteps = group->nsteps;
		c->truncated = group->steps_truncated;
		for (i = 0; i < c->nsteps; i++)
			c->queryids[i] = group->queryids[i];
	}
	c->sum_var_hold = pgxt_sums_merge_var(sums, c->sum_var_hold, c->xacts,
										  c->total_hold_us);
	c->min_hold_us = c->xacts > 0 ? Min(c->min_hold_us, sums->min_hold_us) :
		sums->min_hold_us;
	c->xacts += sums->n;
	c->commits += sums->commits;
	c->total_hold_us += sums->hold_us;
	c->max_hold_us = Max(c->max_hold_us, sums->max_hold_us);
	c->total_active_us += sums->active_us;
	c->explicit_xacts += sums->explicit_xacts;
	c->readonly_xacts += sums->readonly_xacts;
	c->timeouts += sums->timeouts;
	if (group->idle)
	{
		c->first_gap_us += group->first_gap_us;
		for (i = 0; i < group->nsteps; i++)
			c->idle_after_us[i] += group->idle_after_us[i];
	}
	for (i = 0; i < nbuckets; i++)
		c->hist[buckets[i]]++;
	if (tag[0] != '\0' || c->last_tag[0] != '\0')
		strlcpy(c->last_tag, tag, PGXT_TAG_LEN);
	c->usage += sums->n * USAGE_INIT;
	c->last_seen = sums->last_end;
	SpinLockRelease(&entry->mutex);
}

/*
 * Discard every fingerprint and restart the count of evictions.  Caller
 * holds the store's lock exclusively.
 */
void
pgxt_fp_reset_locked(void)
{
	HASH_SEQ_STATUS hash_seq;
	PgxtFpEntry *entry;

	if (!pgxt_fp_ready())
		return;
	hash_seq_init(&hash_seq, fp_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
		hash_search(fp_hash, &entry->key, HASH_REMOVE, NULL);
	fp_shared->generation++;
	SpinLockAcquire(&fp_shared->mutex);
	fp_shared->dealloc = 0;
	SpinLockRelease(&fp_shared->mutex);
}

/*
 * Call visitor with a copy of every entry, after folding every backend's
 * pending transactions, holding the store's lock shared.  The copy is
 * taken under the entry's spinlock; the visitor runs without it and may
 * allocate or raise an error.
 */
void
pgxt_fp_foreach(PgxtFpVisitor visitor, void *arg)
{
	HASH_SEQ_STATUS hash_seq;
	PgxtFpEntry *entry;
	PgxtFpCounters *copy;

	if (!pgxt_fp_ready())
		return;
	copy = palloc(sizeof(PgxtFpCounters));
	pgxt_store_drain();
	LWLockAcquire(pgxt_store_lock(), LW_SHARED);
	hash_seq_init(&hash_seq, fp_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		memcpy(copy, &entry->counters, sizeof(PgxtFpCounters));
		SpinLockRelease(&entry->mutex);
		visitor(&entry->key, copy, arg);
	}
	LWLockRelease(pgxt_store_lock());
	pfree(copy);
}

/*
 * Fingerprints evicted since the last reset.  Takes fp_shared->mutex.
 */
int64
pgxt_fp_dealloc(void)
{
	int64		dealloc;

	if (!pgxt_fp_ready())
		return 0;
	SpinLockAcquire(&fp_shared->mutex);
	dealloc = fp_shared->dealloc;
	SpinLockRelease(&fp_shared->mutex);
	return dealloc;
}

/*
 * Restore the count of evictions, as loaded from the statistics file.
 * Takes fp_shared->mutex.
 */
void
pgxt_fp_restore_dealloc(int64 dealloc)
{
	if (!pgxt_fp_ready())
		return;
	SpinLockAcquire(&fp_shared->mutex);
	fp_shared->dealloc = dealloc;
	SpinLockRelease(&fp_shared->mutex);
}

/*
 * Load one saved fingerprint at startup, when nothing else uses the
 * shared memory; when the table is full (fingerprints_max was lowered), the
 * least used are evicted, and counted, as at run time.  Takes the store's
 * lock exclusively.
 */
void
pgxt_fp_load(const PgxtFpKey *key, const PgxtFpCounters *counters)
{
	PgxtFpEntry *entry;
	bool		found;

	if (!pgxt_fp_ready())
		return;
	LWLockAcquire(pgxt_store_lock(), LW_EXCLUSIVE);
	if (hash_get_num_entries(fp_hash) >= pgxt_fp_max_entries)
		fp_dealloc();
	entry = (PgxtFpEntry *) hash_search(fp_hash, key, HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
	{
		SpinLockInit(&entry->mutex);
		entry->counters = *counters;
	}
	LWLockRelease(pgxt_store_lock());
}

/*-------------------------------------------------------------------------
 *
 * history.c
 *		The history of the statistics: a ring of history_size buckets of
 *		history_interval each, in shared memory, sized at startup.
 *
 * Buckets are built off the hot path.  At each boundary the watchdog asks
 * the store for every key's sums since the previous boundary (moving each
 * entry's base under its spinlock, so that no transaction is lost or
 * counted twice), keeps the history_keys keys that held connections
 * longest and folds all others, with the entries evicted meanwhile, into
 * one "other" row: the bucket's totals stay exact.  The open bucket is
 * computed the same way when read, without moving the bases.  Building a
 * bucket takes memory for history_keys rows, whatever the number of
 * entries; the ring takes at most PGXT_HISTORY_MAX_BYTES of shared memory,
 * larger settings being refused at startup.
 *
 * The ring is protected by its own LWLock: the watchdog moves the bases
 * and writes a bucket holding it exclusively, readers copy rows and read
 * the open bucket holding it shared.  It is always taken before the
 * store's lock.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "history.h"
#include "postgres_extension.h"

#define HISTORY_TRANCHE		PGXT_NAME " history"

/*---- GUC variables ----*/
int			pgxt_history_interval_ms = 60 * 1000;
int			pgxt_history_size = 60;
int			pgxt_history_keys = 100;

/* One closed bucket; its rows follow the bucket array. */
typedef struct HistoryBucket
{
	TimestampTz start;
	TimestampTz end;
	int			nrows;
} HistoryBucket;

/*
 * The shared ring: this header, then size buckets, then size * (keys + 1)
 * rows.  Saved and restored whole by persist.c.
 */
typedef struct HistoryState
{
	LWLock	   *lock;			/* protects everything below */
	int64		interval_us;
	int			size;
	int			keys;
	TimestampTz open_start;		/* start of the open bucket */
	TimestampTz next_boundary;	/* its planned end */
	uint64		closed;			/* buckets closed since the last reset */
} HistoryState;

static HistoryState *history = NULL;
static LWLock *history_lock = NULL;	/* history->lock, cached */

/*
 * The rows of one bucket being built: the keys that held connections
 * longest so far, at most history_keys of them (a min-heap on hold time
 * while the store's entries are visited), and the sums of all the others.
 * Its memory depends on history_keys only, not on the number of entries.
 */
typedef struct BucketRows
{
	PgxtHistoryRow *rows;		/* room for capacity + 1 rows */
	int			count;
	int			capacity;
	PgxtHistorySums other;		/* sums of the keys not kept */
} BucketRows;

/* The watchdog's rows, kept between boundaries. */
static BucketRows watchdog_rows;

/*
 * Rows per bucket: the top keys and the "other" row.
 */
static int
rows_per_bucket(void)
{
	return pgxt_history_keys + 1;
}

/*
 * Bytes of the shared ring, header included.
 */
static Size
history_size_bytes(void)
{
	Size		size = MAXALIGN(sizeof(HistoryState));

	size = add_size(size, MAXALIGN(mul_size(sizeof(HistoryBucket), pgxt_history_size)));
	size = add_size(size, mul_size(mul_size(sizeof(PgxtHistoryRow), rows_per_bucket()),
								   pgxt_history_size));
	return size;
}

/*
 * The bucket array and the rows of bucket i.
 */
static HistoryBucket *
history_buckets(void)
{
	return (HistoryBucket *) ((char *) history + MAXALIGN(sizeof(HistoryState)));
}

static PgxtHistoryRow *
history_rows(int bucket)
{
	char	   *rows = (char *) history_buckets() +
		MAXALIGN(sizeof(HistoryBucket) * history->size);

	return (PgxtHistoryRow *) rows + (Size) bucket * (history->keys + 1);
}

/*
 * The first boundary after t: intervals are aligned on the clock.
 */
static TimestampTz
boundary_after(TimestampTz t, int64 interval_us)
{
	return (t / interval_us + 1) * interval_us;
}

/*
 * Refuse, with a clear message, settings whose ring would not fit in
 * PGXT_HISTORY_MAX_BYTES.  Called from _PG_init once the settings are
 * defined; an error there stops the server's start.
 */
void
pgxt_history_check_settings(void)
{
	Size		size = history_size_bytes();

	if (size > PGXT_HISTORY_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("postgres_extension.history_size and postgres_extension.history_keys ask for %zu MB of shared memory, more than the limit of %zu MB",
						size / (1024 * 1024), PGXT_HISTORY_MAX_BYTES / (1024 * 1024)),
				 errdetail("The history keeps history_size (%d) buckets of history_keys + 1 (%d) rows of %zu bytes each.",
						   pgxt_history_size, pgxt_history_keys + 1,
						   sizeof(PgxtHistoryRow)),
				 errhint("Lower postgres_extension.history_size or postgres_extension.history_keys, or lengthen postgres_extension.history_interval to cover the same time with fewer buckets.")));
}

/*
 * Ask for the ring's shared memory and its lock.
 */
void
pgxt_history_request(void)
{
	RequestAddinShmemSpace(history_size_bytes());
	RequestNamedLWLockTranche(HISTORY_TRANCHE, 1);
}

/*
 * Create or attach to the ring.  Called from the shmem_startup_hook.
 */
void
pgxt_history_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	history = ShmemInitStruct("postgres_extension history",
							  history_size_bytes(), &found);
	if (!found)
	{
		TimestampTz now = GetCurrentTimestamp();

		memset(history, 0, history_size_bytes());
		history->lock = &(GetNamedLWLockTranche(HISTORY_TRANCHE))->lock;
		history->interval_us = (int64) pgxt_history_interval_ms * 1000;
		history->size = pgxt_history_size;
		history->keys = pgxt_history_keys;
		history->open_start = now;
		history->next_boundary = boundary_after(now, history->interval_us);
		history->closed = 0;
	}
	history_lock = history->lock;
	LWLockRelease(AddinShmemInitLock);
}

/*
 * End of the open bucket, for the watchdog's sleep.  Read without the lock:
 * a torn read only makes the watchdog wake early.
 */
TimestampTz
pgxt_history_next_boundary(void)
{
	return history ? history->next_boundary : 0;
}

/*
 * Add delta to sum; the maximum is kept as a maximum.
 */
static void
sums_add(PgxtHistorySums *sum, const PgxtHistorySums *delta)
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
 * Exchange two rows.
 */
static inline void
row_swap(PgxtHistoryRow *a, PgxtHistoryRow *b)
{
	PgxtHistoryRow tmp = *a;

	*a = *b;
	*b = tmp;
}

/*
 * Restore the min-heap (on hold time) of bucket's rows below position i.
 */
static void
rows_sift_down(BucketRows *bucket, int i)
{
	PgxtHistoryRow *rows = bucket->rows;

	for (;;)
	{
		int			least = i;
		int			left = 2 * i + 1;
		int			right = left + 1;

		if (left < bucket->count && rows[left].sums.hold_us < rows[least].sums.hold_us)
			least = left;
		if (right < bucket->count && rows[right].sums.hold_us < rows[least].sums.hold_us)
			least = right;
		if (least == i)
			return;
		row_swap(&rows[i], &rows[least]);
		i = least;
	}
}

/*
 * Restore the min-heap (on hold time) of bucket's rows above position i.
 */
static void
rows_sift_up(BucketRows *bucket, int i)
{
	PgxtHistoryRow *rows = bucket->rows;

	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (rows[parent].sums.hold_us <= rows[i].sums.hold_us)
			return;
		row_swap(&rows[i], &rows[parent]);
		i = parent;
	}
}

/*
 * Delta visitor: keep a key's sums in bucket if it is among the
 * history_keys longest holders so far (the shortest kept one then goes to
 * the "other" sums), else add them to the "other" sums.  Runs under the
 * store's lock: no allocation, no error.
 */
static void
collect_row(const PgxtKey *key, const PgxtHistorySums *delta, void *arg)
{
	BucketRows *bucket = (BucketRows *) arg;
	PgxtHistoryRow *row;

	if (bucket->count == bucket->capacity)
	{
		if (bucket->count == 0 || delta->hold_us <= bucket->rows[0].sums.hold_us)
		{
			sums_add(&bucket->other, delta);
			return;
		}
		/* the shortest holder kept so far makes room */
		sums_add(&bucket->other, &bucket->rows[0].sums);
		bucket->rows[0] = bucket->rows[--bucket->count];
		rows_sift_down(bucket, 0);
	}
	row = &bucket->rows[bucket->count++];
	row->other = false;
	row->userid = key->userid;
	row->dbid = key->dbid;
	memcpy(row->appname, key->appname, NAMEDATALEN);
	memcpy(row->tag, key->tag, PGXT_TAG_LEN);
	row->sums = *delta;
	rows_sift_up(bucket, bucket->count - 1);
}

/*
 * qsort comparator: longest total hold first.
 */
static int
row_hold_desc(const void *lhs, const void *rhs)
{
	int64		l = ((const PgxtHistoryRow *) lhs)->sums.hold_us;
	int64		r = ((const PgxtHistoryRow *) rhs)->sums.hold_us;

	if (l > r)
		return -1;
	if (l < r)
		return 1;
	return 0;
}

/*
 * Room for one bucket's rows: the kept keys and the "other" row,
 * allocated in context.
 */
static void
bucket_rows_init(BucketRows *bucket, MemoryContext context)
{
	bucket->capacity = history->keys;
	bucket->count = 0;
	bucket->rows = MemoryContextAlloc(context,
									  sizeof(PgxtHistoryRow) * (bucket->capacity + 1));
}

/*
 * Collect every key's sums since the last boundary into bucket (moving the
 * boundary when advance), keep the top keys and fold the rest and the
 * entries evicted meanwhile into an "other" row at the end.
 */
static void
collect_bucket(bool advance, BucketRows *bucket)
{
	PgxtHistorySums evicted;

	bucket->count = 0;
	memset(&bucket->other, 0, sizeof(PgxtHistorySums));
	pgxt_store_history_deltas(advance, collect_row, bucket, &evicted);

	qsort(bucket->rows, bucket->count, sizeof(PgxtHistoryRow), row_hold_desc);

	sums_add(&bucket->other, &evicted);
	if (bucket->other.xacts != 0 || bucket->other.timeouts != 0)
	{
		PgxtHistoryRow *other = &bucket->rows[bucket->count++];

		memset(other, 0, sizeof(PgxtHistoryRow));
		other->other = true;
		other->sums = bucket->other;
	}
}

/*
 * Close the open bucket if its boundary has passed.  Called by the
 * watchdog; takes the ring's lock exclusively, then the store's lock
 * shared to move the entries' bases.  After a long stop the one bucket
 * closed covers the whole gap.
 */
void
pgxt_history_tick(TimestampTz now)
{
	TimestampTz boundary;
	HistoryBucket *bucket;
	int			nrows;
	int			slot;

	if (history == NULL || now < history->next_boundary)
		return;

	boundary = boundary_after(now, history->interval_us) - history->interval_us;
	if (watchdog_rows.rows == NULL)
		bucket_rows_init(&watchdog_rows, TopMemoryContext);

	/* readers see the bases move and the bucket appear at once */
	LWLockAcquire(history_lock, LW_EXCLUSIVE);
	if (now < history->next_boundary)
	{
		/* a reset moved the boundary meanwhile */
		LWLockRelease(history_lock);
		return;
	}
	collect_bucket(true, &watchdog_rows);
	nrows = watchdog_rows.count;
	slot = (int) (history->closed % history->size);
	bucket = &history_buckets()[slot];
	bucket->start = history->open_start;
	bucket->end = boundary;
	bucket->nrows = nrows;
	memcpy(history_rows(slot), watchdog_rows.rows, sizeof(PgxtHistoryRow) * nrows);
	history->closed++;
	history->open_start = boundary;
	history->next_boundary = boundary + history->interval_us;
	LWLockRelease(history_lock);
}

/*
 * Call visitor for every row of every closed bucket, oldest first, then
 * for the rows of the open bucket (its end is the planned boundary).
 * Takes the ring's lock shared, then the store's lock to read the open
 * bucket, so that a boundary passing meanwhile cannot hide or double a
 * transaction.
 */
void
pgxt_history_foreach(PgxtHistoryVisitor visitor, void *arg)
{
	TimestampTz open_start;
	TimestampTz open_end;
	BucketRows	open_rows;
	uint64		closed;
	int			count;
	int			i;
	int			j;

	bucket_rows_init(&open_rows, CurrentMemoryContext);
	LWLockAcquire(history_lock, LW_SHARED);
	closed = history->closed;
	count = (int) Min(closed, (uint64) history->size);
	for (i = 0; i < count; i++)
	{
		int			slot = (int) ((closed - count + i) % history->size);
		HistoryBucket *bucket = &history_buckets()[slot];
		PgxtHistoryRow *rows = history_rows(slot);

		for (j = 0; j < bucket->nrows; j++)
			visitor(bucket->start, bucket->end, &rows[j], arg);
	}
	open_start = history->open_start;
	open_end = history->next_boundary;
	collect_bucket(false, &open_rows);
	for (j = 0; j < open_rows.count; j++)
		visitor(open_start, open_end, &open_rows.rows[j], arg);
	LWLockRelease(history_lock);
	pfree(open_rows.rows);
}

/*
 * Forget every bucket; the open one starts now.  Takes the ring's lock
 * exclusively.
 */
void
pgxt_history_reset(void)
{
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(history_lock, LW_EXCLUSIVE);
	history->closed = 0;
	history->open_start = now;
	history->next_boundary = boundary_after(now, history->interval_us);
	LWLockRelease(history_lock);
}

/*
 * The ring's memory and size, for saving and restoring it whole.  Only
 * for persist.c, in the postmaster, when no one else runs.
 */
char *
pgxt_history_raw(Size *size)
{
	*size = history_size_bytes();
	return (char *) history;
}

/*
 * Restore the ring from a saved copy, if it was saved with the same
 * interval, size and number of keys and every bucket is well-formed (else
 * the ring is left empty).  Only for persist.c, in the postmaster, when no
 * one else runs.
 */
bool
pgxt_history_restore(const char *data, Size size)
{
	HistoryState saved;
	bool		valid = true;
	int			i;

	if (history == NULL || size != history_size_bytes() ||
		size < sizeof(HistoryState))
		return false;
	memcpy(&saved, data, sizeof(HistoryState));
	if (saved.interval_us != history->interval_us ||
		saved.size != history->size || saved.keys != history->keys ||
		saved.open_start > saved.next_boundary)
		return false;

	/* the lock pointer is this server's; every bucket must fit its rows */
	saved.lock = history->lock;
	memcpy(history, data, size);
	history->lock = saved.lock;
	for (i = 0; i < history->size; i++)
	{
		HistoryBucket *bucket = &history_buckets()[i];
		PgxtHistoryRow *rows = history_rows(i);
		int			j;

		if (bucket->nrows < 0 || bucket->nrows > history->keys + 1)
			valid = false;
		for (j = 0; valid && j < bucket->nrows; j++)
		{
			rows[j].appname[NAMEDATALEN - 1] = '\0';
			rows[j].tag[PGXT_TAG_LEN - 1] = '\0';
		}
	}
	if (!valid)
	{
		history->closed = 0;
		memset(history_buckets(), 0, sizeof(HistoryBucket) * history->size);
	}
	return valid;
}

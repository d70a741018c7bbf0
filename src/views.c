/*-------------------------------------------------------------------------
 *
 * views.c
 *		SQL-callable functions behind the pg_stat_transactions views, and
 *		the reset function.
 *
 * Every function checks that the library was preloaded, copies what it
 * needs out of shared memory under the store's locks (see store.h) and
 * builds its rows.  Readers without pg_read_all_stats see other roles'
 * application_name and tag as "<insufficient privilege>", and in the
 * activity view, as in pg_stat_activity, nothing of another role's session
 * but its pid, database and role.
 *
 * The C symbols carry the API version of the SQL script that binds them;
 * a later script version adds new symbols and the shared code checks the
 * number of columns the caller expects.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/views.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "fingerprints.h"
#include "history.h"
#include "store.h"
#include "tag.h"

/* API versions of the SQL functions */
typedef enum PgxtApiVersion
{
	PGXT_V1_0 = 0,
	PGXT_V1_1
}			PgxtApiVersion;

#define STAT_COLS_V1_0			24
#define ACTIVITY_COLS_V1_0		12
#define ACTIVITY_COLS_V1_1		14
#define ACTIVITY_COLS_MAX		14
#define FINGERPRINT_COLS_V1_1	27
#define INFO_COLS_V1_0			2
#define INFO_COLS_V1_1			5
#define INFO_COLS_MAX			5
#define HISTOGRAM_COLS_V1_0		3
#define TIMEOUTS_COLS_V1_0		12
#define HISTORY_COLS_V1_0		13

#define INSUFFICIENT_PRIVILEGE	"<insufficient privilege>"

PG_FUNCTION_INFO_V1(pg_stat_transactions_1_0);
PG_FUNCTION_INFO_V1(pg_stat_transactions_activity_1_0);
PG_FUNCTION_INFO_V1(pg_stat_transactions_activity_1_1);
PG_FUNCTION_INFO_V1(pg_stat_transactions_fingerprints_1_1);
PG_FUNCTION_INFO_V1(pg_stat_transactions_info_1_0);
PG_FUNCTION_INFO_V1(pg_stat_transactions_info_1_1);
PG_FUNCTION_INFO_V1(pg_stat_transactions_histogram_1_0);
PG_FUNCTION_INFO_V1(pg_stat_transactions_timeouts_1_0);
PG_FUNCTION_INFO_V1(pg_stat_transactions_history_1_0);
PG_FUNCTION_INFO_V1(pg_stat_transactions_reset_1_0);

/* State of pg_stat_transactions while it visits the entries. */
typedef struct StatScan
{
	Tuplestorestate *tupstore;
	TupleDesc	tupdesc;
	Oid			reader;
	bool		read_all;
} StatScan;

/*
 * Raise an error unless the library was preloaded.
 */
static void
require_preloaded(void)
{
	if (!pgxt_store_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("postgres_extension must be loaded via \"shared_preload_libraries\""),
				 errhint("Add postgres_extension to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * Prepare a materialized set-returning call whose row type has natts
 * columns; returns the tuplestore to fill and sets *tupdesc.
 */
static Tuplestorestate *
begin_materialized_srf(FunctionCallInfo fcinfo, int natts, TupleDesc *tupdesc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcontext;
	Tuplestorestate *tupstore;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));
	if (get_call_result_type(fcinfo, NULL, tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if ((*tupdesc)->natts != natts)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("incorrect number of output arguments"),
				 errhint("Run ALTER EXTENSION postgres_extension UPDATE.")));

	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	*tupdesc = CreateTupleDescCopy(*tupdesc);
	tupstore = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = *tupdesc;
	MemoryContextSwitchTo(oldcontext);

	return tupstore;
}

/*
 * True if the current user may see every role's application_name and tag.
 */
static bool
reader_sees_all(void)
{
	return has_privs_of_role(GetUserId(), PGXT_ROLE_READ_ALL_STATS);
}

/*
 * Check preloading and prepare scan for a function that returns rows of
 * natts columns, some of which only their own role or a pg_read_all_stats
 * member may read.
 */
static void
begin_stat_scan(FunctionCallInfo fcinfo, int natts, StatScan *scan)
{
	require_preloaded();
	scan->tupstore = begin_materialized_srf(fcinfo, natts, &scan->tupdesc);
	scan->reader = GetUserId();
	scan->read_all = reader_sees_all();
}

/*
 * Microseconds to milliseconds, as the views show times.
 */
static inline Datum
ms_datum(double us)
{
	return Float8GetDatum(us / 1000.0);
}

/*
 * The hold time's p50, p95 and p99 in ms, from a histogram of xacts
 * transactions between min_hold_us and max_hold_us, into values[0..2].
 * Returns the number of columns filled.
 */
static int
hold_percentiles(Datum *values, const uint64 *hist, int64 xacts,
				 int64 min_hold_us, int64 max_hold_us)
{
	static const double fractions[] = {0.50, 0.95, 0.99};
	int			i;

	for (i = 0; i < (int) lengthof(fractions); i++)
		values[i] = ms_datum(pgxt_hist_percentile(hist, xacts, min_hold_us,
												  max_hold_us, fractions[i]));
	return (int) lengthof(fractions);
}

/*
 * Build one row of pg_stat_transactions.  Called by pgxt_store_foreach
 * holding the store's shared lock.
 */
static void
stat_row(const PgxtKey *key, const PgxtCounters *c, void *arg)
{
	StatScan   *scan = (StatScan *) arg;
	Datum		values[STAT_COLS_V1_0];
	bool		nulls[STAT_COLS_V1_0];
	int			i = 0;
	bool		visible = scan->read_all || key->userid == scan->reader;

	memset(nulls, 0, sizeof(nulls));

	values[i++] = ObjectIdGetDatum(key->userid);
	values[i++] = ObjectIdGetDatum(key->dbid);
	values[i++] = CStringGetTextDatum(visible ? key->appname : INSUFFICIENT_PRIVILEGE);
	values[i++] = visible ? pgxt_tag_datum(key->tag) : CStringGetTextDatum(INSUFFICIENT_PRIVILEGE);
	values[i++] = Int64GetDatum(c->xacts);
	values[i++] = Int64GetDatum(c->commits);
	values[i++] = Int64GetDatum(pgxt_counters_rollbacks(c));
	values[i++] = ms_datum(c->total_hold_us);
	values[i++] = ms_datum(c->min_hold_us);
	values[i++] = ms_datum(c->max_hold_us);
	values[i++] = ms_datum(c->xacts > 0 ? (double) c->total_hold_us / c->xacts : 0.0);
	values[i++] = ms_datum(pgxt_counters_stddev_hold(c));
	values[i++] = ms_datum(c->total_active_us);
	values[i++] = ms_datum(pgxt_counters_idle_us(c));
	values[i++] = ms_datum(c->max_idle_us);
	values[i++] = Int64GetDatum(c->statements);
	values[i++] = Int64GetDatum(c->explicit_xacts);
	values[i++] = Int64GetDatum(c->readonly_xacts);
	i += hold_percentiles(&values[i], c->hist, c->xacts, c->min_hold_us,
						  c->max_hold_us);
	values[i++] = Int64GetDatum(c->timeouts);
	values[i++] = TimestampTzGetDatum(c->stats_since);
	values[i++] = TimestampTzGetDatum(c->last_seen);
	Assert(i == STAT_COLS_V1_0);

	tuplestore_putvalues(scan->tupstore, scan->tupdesc, values, nulls);
}

/*
 * Rows of pg_stat_transactions for the given API version.
 */
static void
pg_stat_transactions_internal(FunctionCallInfo fcinfo, PgxtApiVersion api)
{
	StatScan	scan;

	/* only 1.0 exists yet: a later version picks its column count here */
	Assert(api == PGXT_V1_0);
	begin_stat_scan(fcinfo, STAT_COLS_V1_0, &scan);
	pgxt_store_foreach(stat_row, &scan);
}

/*
 * pg_stat_transactions(): one row per (dbid, userid, application, tag).
 */
Datum
pg_stat_transactions_1_0(PG_FUNCTION_ARGS)
{
	pg_stat_transactions_internal(fcinfo, PGXT_V1_0);
	return (Datum) 0;
}

/*
 * Rows of pg_stat_transactions_activity for the given API version: one per
 * client backend inside a tracked transaction now.  Each slot is copied
 * under its spinlock.  A reader sees the details of another role's session
 * only with that role's privileges or pg_read_all_stats'.
 */
static void
pg_stat_transactions_activity_internal(FunctionCallInfo fcinfo,
									   PgxtApiVersion api)
{
	TupleDesc	tupdesc;
	Tuplestorestate *tupstore;
	Oid			reader = GetUserId();
	bool		read_all;
	TimestampTz read_time = GetCurrentTimestamp();
	int			nslots;
	int			natts = api == PGXT_V1_0 ? ACTIVITY_COLS_V1_0 : ACTIVITY_COLS_V1_1;
	int			i;

	require_preloaded();
	tupstore = begin_materialized_srf(fcinfo, natts, &tupdesc);
	read_all = reader_sees_all();
	nslots = pgxt_store_nslots();

	for (i = 0; i < nslots; i++)
	{
		PgxtSlot   *slot = pgxt_store_slot(i);
		PgxtSlot	copy;
		Datum		values[ACTIVITY_COLS_MAX];
		bool		nulls[ACTIVITY_COLS_MAX];
		bool		visible;
		int64		hold_us;
		int64		active_us;
		const char *state;
		int			col = 0;

		SpinLockAcquire(&slot->mutex);
		memcpy(&copy, slot, PGXT_SLOT_PUBLISHED_SIZE);
		SpinLockRelease(&slot->mutex);

		if (copy.pid == 0 || copy.state == PGXT_STATE_NONE)
			continue;

		visible = read_all || copy.userid == reader ||
			has_privs_of_role(reader, copy.userid);

		memset(nulls, 0, sizeof(nulls));
		values[col++] = Int32GetDatum(copy.pid);
		values[col++] = ObjectIdGetDatum(copy.dbid);
		values[col++] = ObjectIdGetDatum(copy.userid);
		if (!visible)
		{
			values[col++] = CStringGetTextDatum(INSUFFICIENT_PRIVILEGE);
			values[col++] = CStringGetTextDatum(INSUFFICIENT_PRIVILEGE);
			/* xact_start, state, times, statements, queryid, fingerprint */
			while (col < natts)
				nulls[col++] = true;
			tuplestore_putvalues(tupstore, tupdesc, values, nulls);
			continue;
		}

		hold_us = Max(read_time - copy.xact_start, 0);
		active_us = copy.active_us;
		if (copy.state == PGXT_STATE_ACTIVE && read_time > copy.state_since)
			active_us += read_time - copy.state_since;
		active_us = Min(active_us, hold_us);
		state = copy.state == PGXT_STATE_ACTIVE ? "active" :
			copy.state == PGXT_STATE_IDLE ? "idle in transaction" :
			"idle in transaction (aborted)";

		values[col++] = CStringGetTextDatum(copy.appname);
		values[col++] = pgxt_tag_datum(copy.tag);
		values[col++] = TimestampTzGetDatum(copy.xact_start);
		values[col++] = CStringGetTextDatum(state);
		values[col++] = ms_datum(hold_us);
		values[col++] = ms_datum(active_us);
		values[col++] = ms_datum(hold_us - active_us);
		values[col++] = Int64GetDatum(copy.statements);
		if (copy.queryid != 0)
			values[col++] = Int64GetDatum((int64) copy.queryid);
		else
			nulls[col++] = true;
		if (api >= PGXT_V1_1)
		{
			/* the fingerprint so far, and the step it is at (or idle after) */
			if (copy.nsteps > 0)
			{
				values[col++] = Int64GetDatum((int64) copy.fingerprint);
				values[col++] = Int32GetDatum(copy.nsteps);
			}
			else
			{
				nulls[col++] = true;
				nulls[col++] = true;
			}
		}
		Assert(col == natts);

		tuplestore_putvalues(tupstore, tupdesc, values, nulls);
	}
}

/*
 * pg_stat_transactions_activity() of the 1.0 script.
 */
Datum
pg_stat_transactions_activity_1_0(PG_FUNCTION_ARGS)
{
	pg_stat_transactions_activity_internal(fcinfo, PGXT_V1_0);
	return (Datum) 0;
}

/*
 * pg_stat_transactions_activity() from 1.1: with each transaction's
 * fingerprint so far and its number of steps.
 */
Datum
pg_stat_transactions_activity_1_1(PG_FUNCTION_ARGS)
{
	pg_stat_transactions_activity_internal(fcinfo, PGXT_V1_1);
	return (Datum) 0;
}

/*
 * The row of pg_stat_transactions_info for the given API version: entries
 * evicted, time of the last reset; from 1.1, housekeeping transactions and
 * the fingerprints' state.
 */
static Datum
pg_stat_transactions_info_internal(FunctionCallInfo fcinfo, PgxtApiVersion api)
{
	TupleDesc	tupdesc;
	Datum		values[INFO_COLS_MAX];
	bool		nulls[INFO_COLS_MAX];
	int			natts = api == PGXT_V1_0 ? INFO_COLS_V1_0 : INFO_COLS_V1_1;
	PgxtStoreInfo info;
	int			i = 0;

	require_preloaded();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != natts)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("incorrect number of output arguments"),
				 errhint("Run ALTER EXTENSION postgres_extension UPDATE.")));

	pgxt_store_info(&info);
	memset(nulls, 0, sizeof(nulls));
	values[i++] = Int64GetDatum(info.dealloc);
	values[i++] = TimestampTzGetDatum(info.stats_reset);
	if (api >= PGXT_V1_1)
	{
		values[i++] = Int64GetDatum(info.housekeeping_xacts);
		values[i++] = Int64GetDatum(pgxt_fp_dealloc());
		values[i++] = CStringGetTextDatum(pgxt_fp_status());
	}
	Assert(i == natts);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * pg_stat_transactions_info() of the 1.0 script.
 */
Datum
pg_stat_transactions_info_1_0(PG_FUNCTION_ARGS)
{
	return pg_stat_transactions_info_internal(fcinfo, PGXT_V1_0);
}

/*
 * pg_stat_transactions_info() from 1.1: with housekeeping_xacts, the
 * fingerprints evicted, and whether fingerprints are recorded.
 */
Datum
pg_stat_transactions_info_1_1(PG_FUNCTION_ARGS)
{
	return pg_stat_transactions_info_internal(fcinfo, PGXT_V1_1);
}

/*
 * An int64 array of n values, as a Datum.
 */
static Datum
int8_array(const int64 *values, int n)
{
	Datum	   *datums = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		datums[i] = Int64GetDatum(values[i]);
	return PointerGetDatum(construct_array(datums, n, INT8OID, sizeof(int64),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * A double precision array of n microsecond values, in ms, as a Datum.
 */
static Datum
ms_array(const int64 *values_us, int n)
{
	Datum	   *datums = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		datums[i] = Float8GetDatum(values_us[i] / 1000.0);
	return PointerGetDatum(construct_array(datums, n, FLOAT8OID, sizeof(float8),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Build one row of pg_stat_transactions_fingerprints.  Called by
 * pgxt_fp_foreach holding the store's shared lock.
 */
static void
fingerprint_row(const PgxtFpKey *key, const PgxtFpCounters *c, void *arg)
{
	StatScan   *scan = (StatScan *) arg;
	Datum		values[FINGERPRINT_COLS_V1_1];
	bool		nulls[FINGERPRINT_COLS_V1_1];
	bool		visible = scan->read_all || key->userid == scan->reader;
	int64		queryids[PGXT_FP_STEPS];
	int			i = 0;
	int			j;

	memset(nulls, 0, sizeof(nulls));
	for (j = 0; j < c->nsteps; j++)
		queryids[j] = (int64) c->queryids[j];

	values[i++] = ObjectIdGetDatum(key->userid);
	values[i++] = ObjectIdGetDatum(key->dbid);
	values[i++] = CStringGetTextDatum(visible ? key->appname : INSUFFICIENT_PRIVILEGE);
	values[i++] = Int64GetDatum((int64) key->fingerprint);
	values[i++] = int8_array(queryids, c->nsteps);
	values[i++] = BoolGetDatum(c->truncated);
	values[i++] = Int64GetDatum(c->xacts);
	values[i++] = Int64GetDatum(c->commits);
	values[i++] = Int64GetDatum(c->xacts - c->commits);
	values[i++] = Int64GetDatum(c->explicit_xacts);
	values[i++] = Int64GetDatum(c->readonly_xacts);
	values[i++] = ms_datum(c->total_hold_us);
	values[i++] = ms_datum(c->min_hold_us);
	values[i++] = ms_datum(c->max_hold_us);
	values[i++] = ms_datum(c->xacts > 0 ? (double) c->total_hold_us / c->xacts : 0.0);
	values[i++] = ms_datum(c->xacts > 0 ? sqrt(c->sum_var_hold / c->xacts) : 0.0);
	i += hold_percentiles(&values[i], c->hist, c->xacts, c->min_hold_us,
						  c->max_hold_us);
	values[i++] = ms_datum(c->total_active_us);
	values[i++] = ms_datum(c->total_hold_us - c->total_active_us);
	values[i++] = ms_datum(c->first_gap_us);
	values[i++] = ms_array(c->idle_after_us, c->nsteps);
	values[i++] = Int64GetDatum(c->timeouts);
	values[i++] = visible ? pgxt_tag_datum(c->last_tag) : CStringGetTextDatum(INSUFFICIENT_PRIVILEGE);
	values[i++] = TimestampTzGetDatum(c->stats_since);
	values[i++] = TimestampTzGetDatum(c->last_seen);
	Assert(i == FINGERPRINT_COLS_V1_1);

	tuplestore_putvalues(scan->tupstore, scan->tupdesc, values, nulls);
}

/*
 * pg_stat_transactions_fingerprints(): one row per (dbid, userid,
 * application, fingerprint).  When fingerprints are not recorded, a NOTICE
 * says why.
 */
Datum
pg_stat_transactions_fingerprints_1_1(PG_FUNCTION_ARGS)
{
	StatScan	scan;
	const char *status;

	begin_stat_scan(fcinfo, FINGERPRINT_COLS_V1_1, &scan);
	status = pgxt_fp_status();
	if (strncmp(status, "on", 2) != 0)
		ereport(NOTICE,
				(errmsg("transaction fingerprints are not recorded"),
				 errdetail("%s", status)));
	pgxt_fp_foreach(fingerprint_row, &scan);
	return (Datum) 0;
}

/*
 * pg_stat_transactions_histogram(userid, dbid, application_name, tag):
 * the hold-time histogram of one key, its non-empty buckets in ms.
 * Other roles' keys need pg_read_all_stats.
 */
Datum
pg_stat_transactions_histogram_1_0(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Tuplestorestate *tupstore;
	PgxtKey		key;
	PgxtCounters *counters;
	char	   *appname;
	char	   *tag;
	int			i;

	require_preloaded();
	tupstore = begin_materialized_srf(fcinfo, HISTOGRAM_COLS_V1_0, &tupdesc);

	memset(&key, 0, sizeof(key));
	key.userid = PG_GETARG_OID(0);
	key.dbid = PG_GETARG_OID(1);
	appname = text_to_cstring(PG_GETARG_TEXT_PP(2));
	tag = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strlen(appname) >= NAMEDATALEN || strlen(tag) >= PGXT_TAG_LEN)
		return (Datum) 0;		/* no such key can exist */
	strlcpy(key.appname, appname, NAMEDATALEN);
	strlcpy(key.tag, tag, PGXT_TAG_LEN);

	if (key.userid != GetUserId() && !reader_sees_all())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read another role's histogram"),
				 errdetail("Only roles with privileges of pg_read_all_stats may.")));

	counters = palloc(sizeof(PgxtCounters));
	if (!pgxt_store_get(&key, counters))
		return (Datum) 0;

	for (i = 0; i < PGXT_HIST_BUCKETS; i++)
	{
		Datum		values[HISTOGRAM_COLS_V1_0];
		bool		nulls[HISTOGRAM_COLS_V1_0] = {false, false, false};
		double		lower_us;
		double		upper_us;

		if (counters->hist[i] == 0)
			continue;
		pgxt_hist_bounds(i, &lower_us, &upper_us);
		values[0] = ms_datum(lower_us);
		values[1] = ms_datum(upper_us);
		values[2] = Int64GetDatum((int64) counters->hist[i]);
		tuplestore_putvalues(tupstore, tupdesc, values, nulls);
	}
	pfree(counters);
	return (Datum) 0;
}

/*
 * pg_stat_transactions_timeouts(): the watchdog's recent decisions, oldest
 * first.
 */
Datum
pg_stat_transactions_timeouts_1_0(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Tuplestorestate *tupstore;
	PgxtTimeoutEvent *events;
	Oid			reader = GetUserId();
	bool		read_all;
	int			count;
	int			i;

	require_preloaded();
	tupstore = begin_materialized_srf(fcinfo, TIMEOUTS_COLS_V1_0, &tupdesc);
	read_all = reader_sees_all();

	events = palloc(sizeof(PgxtTimeoutEvent) * PGXT_TIMEOUT_EVENTS);
	count = pgxt_store_timeout_events(events);
	for (i = 0; i < count; i++)
	{
		PgxtTimeoutEvent *ev = &events[i];
		Datum		values[TIMEOUTS_COLS_V1_0];
		bool		nulls[TIMEOUTS_COLS_V1_0];
		bool		visible = read_all || ev->userid == reader;
		int			col = 0;

		memset(nulls, 0, sizeof(nulls));
		values[col++] = TimestampTzGetDatum(ev->time);
		values[col++] = Int32GetDatum(ev->pid);
		values[col++] = ObjectIdGetDatum(ev->userid);
		values[col++] = ObjectIdGetDatum(ev->dbid);
		values[col++] = CStringGetTextDatum(visible ? ev->appname : INSUFFICIENT_PRIVILEGE);
		values[col++] = visible ? pgxt_tag_datum(ev->tag) : CStringGetTextDatum(INSUFFICIENT_PRIVILEGE);
		values[col++] = CStringGetTextDatum(ev->kind == PGXT_TIMEOUT_IDLE ? "idle" : "transaction");
		values[col++] = Float8GetDatum((double) ev->limit_ms);
		values[col++] = ms_datum(ev->elapsed_us);
		values[col++] = CStringGetTextDatum(ev->terminated ? "terminated" : "logged");
		values[col++] = CStringGetTextDatum(ev->rule);
		values[col++] = Int64GetDatum((int64) (i + 1));
		Assert(col == TIMEOUTS_COLS_V1_0);
		tuplestore_putvalues(tupstore, tupdesc, values, nulls);
	}
	pfree(events);
	return (Datum) 0;
}

/*
 * Build one row of pg_stat_transactions_history.  Called by
 * pgxt_history_foreach.
 */
static void
history_row(TimestampTz bucket_start, TimestampTz bucket_end,
			const PgxtHistoryRow *row, void *arg)
{
	StatScan   *scan = (StatScan *) arg;
	Datum		values[HISTORY_COLS_V1_0];
	bool		nulls[HISTORY_COLS_V1_0];
	bool		visible = scan->read_all || row->userid == scan->reader;
	int			i = 0;

	memset(nulls, 0, sizeof(nulls));
	values[i++] = TimestampTzGetDatum(bucket_start);
	values[i++] = TimestampTzGetDatum(bucket_end);
	if (row->other)
	{
		/* the sums of every key not kept in the bucket */
		nulls[i++] = true;
		nulls[i++] = true;
		nulls[i++] = true;
		nulls[i++] = true;
	}
	else
	{
		values[i++] = ObjectIdGetDatum(row->userid);
		values[i++] = ObjectIdGetDatum(row->dbid);
		values[i++] = CStringGetTextDatum(visible ? row->appname : INSUFFICIENT_PRIVILEGE);
		values[i++] = visible ? pgxt_tag_datum(row->tag) : CStringGetTextDatum(INSUFFICIENT_PRIVILEGE);
	}
	values[i++] = Int64GetDatum(row->sums.xacts);
	values[i++] = Int64GetDatum(row->sums.rollbacks);
	values[i++] = ms_datum(row->sums.hold_us);
	values[i++] = ms_datum(row->sums.active_us);
	values[i++] = ms_datum(row->sums.idle_us);
	values[i++] = ms_datum(row->sums.max_hold_us);
	values[i++] = Int64GetDatum(row->sums.timeouts);
	Assert(i == HISTORY_COLS_V1_0);

	tuplestore_putvalues(scan->tupstore, scan->tupdesc, values, nulls);
}

/*
 * pg_stat_transactions_history(): per time bucket and key, the
 * transactions ended and the time they held; the open bucket included.
 */
Datum
pg_stat_transactions_history_1_0(PG_FUNCTION_ARGS)
{
	StatScan	scan;

	begin_stat_scan(fcinfo, HISTORY_COLS_V1_0, &scan);
	pgxt_history_foreach(history_row, &scan);
	return (Datum) 0;
}

/*
 * pg_stat_transactions_reset(): discard all statistics, the history and
 * the watchdog's events.  EXECUTE is
 * revoked from PUBLIC in the install script; superusers grant it.
 */
Datum
pg_stat_transactions_reset_1_0(PG_FUNCTION_ARGS)
{
	require_preloaded();
	pgxt_store_reset();
	pgxt_history_reset();
	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Shims over the PostgreSQL 13-18 API differences this extension meets:
 *		hook signatures, the backend's own slot number, the number of
 *		backend slots to allocate, the memory of a GUC check hook's "extra",
 *		and multibyte verification.
 *
 * Everything version-dependent lives here, as macros or static inlines, so
 * that the other files carry no #if PG_VERSION_NUM in function bodies.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_COMPAT_H
#define PGXT_COMPAT_H

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/autovacuum.h"
#include "replication/walsender.h"
#include "storage/proc.h"
#include "utils/guc.h"

/*
 * ExecutorRun lost its execute_once argument in 18.
 */
#if PG_VERSION_NUM >= 180000
#define PGXT_EXECUTORRUN_PARAMS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define PGXT_EXECUTORRUN_ARGS queryDesc, direction, count
#else
#define PGXT_EXECUTORRUN_PARAMS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count, \
	bool execute_once
#define PGXT_EXECUTORRUN_ARGS queryDesc, direction, count, execute_once
#endif

/*
 * ProcessUtility gained readOnlyTree in 14.
 */
#if PG_VERSION_NUM >= 140000
#define PGXT_PROCESSUTILITY_PARAMS \
	PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define PGXT_PROCESSUTILITY_ARGS \
	pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc
#else
#define PGXT_PROCESSUTILITY_PARAMS \
	PlannedStmt *pstmt, const char *queryString, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define PGXT_PROCESSUTILITY_ARGS \
	pstmt, queryString, context, params, queryEnv, dest, qc
#endif

/*
 * Index of this backend's slot, 0-based, below pgxt_max_backends().
 * Before 17 that is MyBackendId - 1; from 17 on, MyProcNumber, whose
 * regular backends come first in the PGPROC array.
 */
static inline int
pgxt_my_slot_index(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProcNumber;
#else
	return MyBackendId - 1;
#endif
}

/*
 * Local transaction id of this backend's current transaction: from 17 on
 * it sits in MyProc->vxid.
 */
static inline LocalTransactionId
pgxt_my_lxid(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProc->vxid.lxid;
#else
	return MyProc->lxid;
#endif
}

/*
 * Number of backend slots to size shared memory for.  From 15 on this is
 * called from the shmem_request_hook, where MaxBackends is final; 13 and 14
 * request memory in _PG_init, before MaxBackends is computed, so add up
 * its parts the way InitializeMaxBackends does.
 */
static inline int
pgxt_max_backends(void)
{
#if PG_VERSION_NUM >= 150000
	return MaxBackends;
#else
	return MaxConnections + autovacuum_max_workers + 1 +
		max_worker_processes + max_wal_senders;
#endif
}

/*
 * True in the standalone backend of "postgres --single", which counts as
 * a client: 16 and later give it its own backend type, older releases
 * leave B_INVALID there.
 */
static inline bool
pgxt_is_standalone_backend(void)
{
#if PG_VERSION_NUM >= 160000
	return MyBackendType == B_STANDALONE_BACKEND;
#else
	return !IsUnderPostmaster;
#endif
}

/*
 * The predefined role pg_read_all_stats: its macro was renamed in 14.
 */
#if PG_VERSION_NUM >= 140000
#define PGXT_ROLE_READ_ALL_STATS ROLE_PG_READ_ALL_STATS
#else
#define PGXT_ROLE_READ_ALL_STATS DEFAULT_ROLE_READ_ALL_STATS
#endif

/*
 * MarkGUCPrefixReserved is 15's name for EmitWarningsOnPlaceholders.
 */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * Memory for a GUC check hook's "extra".  Up to 15 the GUC machinery
 * releases it with free(); 16 moved all GUC data into its own memory
 * context and releases it with guc_free(), a pfree of a chunk of that
 * context, so a malloc'd block there is fatal.  Both return NULL when out
 * of memory (16+ also logs it, at LOG: no error is thrown, so a check hook
 * may call them).
 */
static inline void *
pgxt_guc_extra_alloc(size_t size)
{
#if PG_VERSION_NUM >= 160000
	return guc_malloc(LOG, size);
#else
	return malloc(size);
#endif
}

/*
 * Release a block of pgxt_guc_extra_alloc that was not handed to the GUC
 * machinery.
 */
static inline void
pgxt_guc_extra_free(void *ptr)
{
#if PG_VERSION_NUM >= 160000
	guc_free(ptr);
#else
	free(ptr);
#endif
}

/*
 * Length in bytes of the longest prefix of s[0..len) that is valid in the
 * given encoding and holds no NUL byte, as pg_encoding_verifymbstr of 14
 * and later returns it.  13 has only the one-character check
 * pg_encoding_verifymb (renamed pg_encoding_verifymbchar in 14), so walk
 * the string with it there.
 */
static inline int
pgxt_encoding_verifymbstr(int encoding, const char *s, int len)
{
#if PG_VERSION_NUM >= 140000
	return pg_encoding_verifymbstr(encoding, s, len);
#else
	const char *start = s;

	while (len > 0)
	{
		int			charlen;

		if (!IS_HIGHBIT_SET(*s))
		{
			if (*s == '\0')
				break;
			charlen = 1;
		}
		else
		{
			charlen = pg_encoding_verifymb(encoding, s, len);
			if (charlen < 0)
				break;
		}
		s += charlen;
		len -= charlen;
	}
	return (int) (s - start);
#endif
}

#endif							/* PGXT_COMPAT_H */

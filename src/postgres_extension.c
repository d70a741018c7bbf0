/*-------------------------------------------------------------------------
 *
 * postgres_extension.c
 *		Entry point of postgres_extension: settings, shared memory requests,
 *		hook installation and the watchdog's registration.
 *
 * The library must be loaded through shared_preload_libraries: only then
 * does it get shared memory and its hooks.  Loaded any other way it
 * defines nothing, and the SQL functions report that it is not preloaded.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/postgres_extension.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "compat.h"
#include "enforce.h"
#include "fingerprints.h"
#include "history.h"
#include "hooks.h"
#include "persist.h"
#include "postgres_extension.h"
#include "store.h"
#include "tag.h"
#include "watchdog.h"

PG_MODULE_MAGIC;

/*---- GUC variables ----*/
int			pgxt_max_entries = 5000;
int			pgxt_track = PGXT_TRACK_ALL;
char	   *pgxt_tag = NULL;
char	   *pgxt_tag_comment_key = NULL;

static const struct config_enum_entry action_options[] = {
	{"terminate", PGXT_ACTION_TERMINATE, false},
	{"log", PGXT_ACTION_LOG, false},
	{NULL, 0, false}
};

static const struct config_enum_entry fingerprints_options[] = {
	{"off", PGXT_FP_OFF, false},
	{"auto", PGXT_FP_AUTO, false},
	{"on", PGXT_FP_ON, false},
	{NULL, 0, false}
};

static const struct config_enum_entry track_options[] = {
	{"none", PGXT_TRACK_NONE, false},
	{"all", PGXT_TRACK_ALL, false},
	{NULL, 0, false}
};

/* Saved hook values */
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

/*
 * shmem_request_hook (15+): ask for our shared memory and lock.
 */
#if PG_VERSION_NUM >= 150000
static void
pgxt_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	pgxt_store_request();
	pgxt_fp_request();
	pgxt_history_request();
}
#endif

/*
 * Ask for shared memory and locks: from 15 on in the shmem_request_hook,
 * before that right away, from _PG_init.
 */
#if PG_VERSION_NUM >= 150000
static void
request_shared_memory(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgxt_shmem_request;
}
#else
static void
request_shared_memory(void)
{
	pgxt_store_request();
	pgxt_fp_request();
	pgxt_history_request();
}
#endif

/*
 * shmem_startup_hook: create or attach to our shared state.
 */
static void
pgxt_shmem_startup(void)
{
	bool		created;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	created = pgxt_store_startup();
	pgxt_fp_startup();
	pgxt_history_startup();
	pgxt_persist_startup(created);
}

/*
 * Define the settings of this module.
 */
static void
define_settings(void)
{
	DefineCustomIntVariable(PGXT_NAME ".max",
							"Maximum number of (database, role, application, tag) entries kept.",
							"When full, the least used entries are evicted and counted in pg_stat_transactions_info.dealloc.",
							&pgxt_max_entries,
							5000, 100, INT_MAX / 2,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable(PGXT_NAME ".fingerprints",
							 "Whether transaction fingerprints are recorded: auto (when the core computes query ids), on (and have it compute them), off.",
							 "on costs the computation of query ids when nothing else asks for them.",
							 &pgxt_fp_mode,
							 PGXT_FP_AUTO, fingerprints_options,
							 PGC_POSTMASTER, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable(PGXT_NAME ".fingerprints_max",
							"Maximum number of (database, role, application, fingerprint) entries kept.",
							"When full, the least used are evicted and counted in pg_stat_transactions_info.fingerprint_dealloc.",
							&pgxt_fp_max_entries,
							1000, 100, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable(PGXT_NAME ".track",
							 "Which transactions are tracked: all (of client backends) or none.",
							 NULL,
							 &pgxt_track,
							 PGXT_TRACK_ALL, track_options,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable(PGXT_NAME ".tag",
							   "Tag of the current transactions, for example the request's route.",
							   "SET LOCAL tags one transaction.  Stored as UTF-8, at most 63 bytes: a longer value is cut on a character boundary and ends with \"~\" and a hash of the whole value.",
							   &pgxt_tag,
							   "",
							   PGC_USERSET, 0,
							   pgxt_tag_check_hook, pgxt_tag_assign_hook, NULL);

	DefineCustomStringVariable(PGXT_NAME ".tag_comment_key",
							   "Keys whose values, in a sqlcommenter or marginalia comment before or after a statement, tag its transaction.",
							   "Alternatives separated by commas, the first whose keys all have values wins; keys joined by one of # / : @ + give their values joined so, e.g. 'controller#action, job'.  Empty: comments are not read.",
							   &pgxt_tag_comment_key,
							   "tag",
							   PGC_SUSET, 0,
							   pgxt_tag_comment_key_check_hook,
							   pgxt_tag_comment_key_assign_hook, NULL);

	DefineCustomIntVariable(PGXT_NAME ".idle_in_transaction_timeout",
							"Default limit on one idle gap inside a transaction; sessions past it are ended.",
							"0 turns it off.  timeout_rules may override it per application, tag, role and database.",
							&pgxt_idle_timeout_ms,
							0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, pgxt_timeout_setting_assign_hook, NULL);

	DefineCustomIntVariable(PGXT_NAME ".transaction_timeout",
							"Default limit on how long a transaction stays open; sessions past it are ended.",
							"0 turns it off.  timeout_rules may override it per application, tag, role and database.",
							&pgxt_xact_timeout_ms,
							0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, pgxt_timeout_setting_assign_hook, NULL);

	DefineCustomStringVariable(PGXT_NAME ".timeout_rules",
							   "Limits per application_name, tag, role and database, e.g. 'app=web-* idle=2s; tag=report.* xact=10min'.",
							   "Rules are separated by ';'.  The first rule whose matchers all match decides each limit it names.",
							   &pgxt_timeout_rules,
							   "",
							   PGC_SIGHUP, 0,
							   pgxt_timeout_rules_check_hook,
							   pgxt_timeout_rules_assign_hook, NULL);

	DefineCustomEnumVariable(PGXT_NAME ".timeout_action",
							 "What happens past a limit: the session is terminated, or the watchdog only logs it.",
							 NULL,
							 &pgxt_timeout_action,
							 PGXT_ACTION_TERMINATE, action_options,
							 PGC_SIGHUP, 0,
							 NULL, pgxt_timeout_setting_assign_hook, NULL);

	DefineCustomIntVariable(PGXT_NAME ".history_interval",
							"Length of one bucket of pg_stat_transactions_history.",
							NULL,
							&pgxt_history_interval_ms,
							60 * 1000, 1000, 24 * 3600 * 1000,
							PGC_POSTMASTER, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable(PGXT_NAME ".history_size",
							"Number of buckets pg_stat_transactions_history keeps.",
							NULL,
							&pgxt_history_size,
							60, 2, 100000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable(PGXT_NAME ".history_keys",
							"Keys kept per history bucket, the longest holders; the rest make one row.",
							NULL,
							&pgxt_history_keys,
							100, 1, 10000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable(PGXT_NAME ".save",
							 "Save the statistics at a clean shutdown and load them at startup.",
							 NULL,
							 &pgxt_save,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable(PGXT_NAME ".watchdog_naptime",
							"Longest sleep of the watchdog between two passes.",
							"It wakes earlier for the next deadline it knows of.",
							&pgxt_watchdog_naptime_ms,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * Module load, only while shared_preload_libraries is processed: define
 * the settings, request shared memory, install the hooks and register the
 * watchdog.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	define_settings();
	MarkGUCPrefixReserved(PGXT_NAME);
	pgxt_history_check_settings();

	pgxt_fp_init();
	request_shared_memory();
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgxt_shmem_startup;

	pgxt_hooks_install();
	pgxt_watchdog_register();
}

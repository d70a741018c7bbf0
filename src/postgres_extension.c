/*-------------------------------------------------------------------------
 *
 * postgres_extension.c
 *		Entry point of postgres_extension: settings, shared memory requests
 *		and hook installation.
 *
 * The library must be loaded through shared_preload_libraries: only then
 * does it get shared memory and its hooks.  Loaded any other way it
 * defines nothing, and the SQL functions report that it is not preloaded.
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
#include "hooks.h"
#include "postgres_extension.h"
#include "store.h"
#include "tag.h"

PG_MODULE_MAGIC;

/*---- GUC variables ----*/
int			pgxt_max_entries = 5000;
int			pgxt_track = PGXT_TRACK_ALL;
char	   *pgxt_tag = NULL;
char	   *pgxt_tag_comment_key = NULL;

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
}
#endif

/*
 * shmem_startup_hook: create or attach to our shared state.
 */
static void
pgxt_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	pgxt_store_startup();
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

	DefineCustomEnumVariable(PGXT_NAME ".track",
							 "Which transactions are tracked: all (of client backends) or none.",
							 NULL,
							 &pgxt_track,
							 PGXT_TRACK_ALL, track_options,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable(PGXT_NAME ".tag",
							   "Tag of the current transactions, for example the request's route.",
							   "At most 63 bytes.  SET LOCAL tags one transaction.",
							   &pgxt_tag,
							   "",
							   PGC_USERSET, 0,
							   pgxt_tag_check_hook, pgxt_tag_assign_hook, NULL);

	DefineCustomStringVariable(PGXT_NAME ".tag_comment_key",
							   "Key whose value, in a sqlcommenter or marginalia comment of a statement, tags its transaction.",
							   "Empty: comments are not read.",
							   &pgxt_tag_comment_key,
							   "tag",
							   PGC_SUSET, 0,
							   pgxt_tag_comment_key_check_hook, NULL, NULL);
}

/*
 * Module load: define settings everywhere; request shared memory and
 * install hooks only while shared_preload_libraries is processed.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	define_settings();
	MarkGUCPrefixReserved(PGXT_NAME);

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgxt_shmem_request;
#else
	pgxt_store_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgxt_shmem_startup;

	pgxt_hooks_install();
}

/*-------------------------------------------------------------------------
 *
 * persist.c
 *		Keeping the statistics across a clean restart: the postmaster writes
 *		them to pg_stat/postgres_extension.stat when it shuts down cleanly
 *		and reads them back (then removes the file) when it starts.
 *
 * The file holds a header (magic number, format version and the sizes of
 * the structures, so that a file of another build is refused, then the
 * global counters), every entry of the store and the history ring, then a
 * CRC-32C of all of it.  It is written to a temporary name and renamed durably.
 * Since it is removed at startup and written only at a clean shutdown, a
 * crash (immediate stop, kill -9 of the postmaster) starts empty.  A
 * truncated, corrupted or foreign file is reported as a WARNING and
 * ignored: the server always starts.
 *
 * Everything here runs in the postmaster (or the standalone backend) while
 * no other process uses the shared memory.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/persist.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"

#include "history.h"
#include "persist.h"
#include "postgres_extension.h"
#include "store.h"

#define STAT_FILE			PGSTAT_STAT_PERMANENT_DIRECTORY "/postgres_extension.stat"
#define STAT_FILE_TMP		STAT_FILE ".tmp"
#define STAT_FILE_MAGIC		0x50475854	/* "PGXT" */
#define STAT_FILE_VERSION	2

/*---- GUC variables ----*/
bool		pgxt_save = true;

/* What the file starts with. */
typedef struct StatFileHeader
{
	uint32		magic;
	uint32		version;
	uint32		key_size;
	uint32		counters_size;
	uint32		hist_buckets;
	int32		nentries;
	int64		dealloc;
	TimestampTz stats_reset;
	PgxtHistorySums evicted;	/* evicted since the last history boundary */
	uint64		history_size;	/* bytes of the history ring, 0 if none */
} StatFileHeader;

/* State of the writer while it visits the entries. */
typedef struct StatWriter
{
	FILE	   *file;
	pg_crc32c	crc;
	int32		nentries;
	bool		failed;
} StatWriter;

/*
 * Write len bytes and add them to the CRC.
 */
static void
write_chunk(StatWriter *writer, const void *data, size_t len)
{
	if (writer->failed)
		return;
	COMP_CRC32C(writer->crc, data, len);
	if (fwrite(data, 1, len, writer->file) != len)
		writer->failed = true;
}

/*
 * Entry visitor: write one entry.
 */
static void
write_entry(const PgxtKey *key, const PgxtCounters *counters, void *arg)
{
	StatWriter *writer = (StatWriter *) arg;

	write_chunk(writer, key, sizeof(PgxtKey));
	write_chunk(writer, counters, sizeof(PgxtCounters));
	writer->nentries++;
}

/*
 * Entry visitor: count entries.
 */
static void
count_entry(const PgxtKey *key, const PgxtCounters *counters, void *arg)
{
	(*(int32 *) arg)++;
}

/*
 * True if the cluster was shut down cleanly: the control file says so.
 * An immediate shutdown also exits the postmaster with code 0, but leaves
 * the cluster "in production", to be recovered at the next start.
 */
static bool
cluster_shut_down_cleanly(void)
{
	ControlFileData *control;
	bool		crc_ok;
	bool		clean;

	control = get_controlfile(DataDir, &crc_ok);
	clean = crc_ok && (control->state == DB_SHUTDOWNED ||
					   control->state == DB_SHUTDOWNED_IN_RECOVERY);
	pfree(control);
	return clean;
}

/*
 * on_shmem_exit callback of the postmaster: save the statistics if the
 * shutdown is clean (exit code 0 and a shut-down control file) and
 * postgres_extension.save is on.
 */
static void
persist_shutdown(int code, Datum arg)
{
	StatWriter	writer;
	StatFileHeader header;
	char	   *history_raw;
	Size		history_size;

	if (code != 0 || !pgxt_save || !pgxt_store_ready() ||
		!cluster_shut_down_cleanly())
		return;

	memset(&header, 0, sizeof(header));
	header.magic = STAT_FILE_MAGIC;
	header.version = STAT_FILE_VERSION;
	header.key_size = sizeof(PgxtKey);
	header.counters_size = sizeof(PgxtCounters);
	header.hist_buckets = PGXT_HIST_BUCKETS;
	pgxt_store_foreach(count_entry, &header.nentries);
	pgxt_store_info(&header.dealloc, &header.stats_reset);
	pgxt_store_evicted(&header.evicted);
	history_raw = pgxt_history_raw(&history_size);
	header.history_size = history_raw ? history_size : 0;

	memset(&writer, 0, sizeof(writer));
	writer.file = AllocateFile(STAT_FILE_TMP, PG_BINARY_W);
	if (writer.file == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", STAT_FILE_TMP)));
		return;
	}
	INIT_CRC32C(writer.crc);
	write_chunk(&writer, &header, sizeof(header));
	pgxt_store_foreach(write_entry, &writer);
	if (writer.nentries != header.nentries)
		writer.failed = true;
	if (header.history_size > 0)
		write_chunk(&writer, history_raw, history_size);
	FIN_CRC32C(writer.crc);
	if (!writer.failed &&
		fwrite(&writer.crc, sizeof(writer.crc), 1, writer.file) != 1)
		writer.failed = true;

	if (FreeFile(writer.file) != 0 || writer.failed)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", STAT_FILE_TMP)));
		unlink(STAT_FILE_TMP);
		return;
	}
	(void) durable_rename(STAT_FILE_TMP, STAT_FILE, LOG);
}

/*
 * Read the whole file into memory; NULL if there is none.
 */
static char *
read_file(const char *path, Size *size)
{
	FILE	   *file;
	char	   *data;
	long		len;

	file = AllocateFile(path, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		return NULL;
	}
	if (fseek(file, 0, SEEK_END) != 0 || (len = ftell(file)) < 0 ||
		fseek(file, 0, SEEK_SET) != 0)
	{
		FreeFile(file);
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
		return NULL;
	}
	data = palloc_extended(Max(len, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (data == NULL || fread(data, 1, len, file) != (size_t) len)
	{
		FreeFile(file);
		ereport(WARNING,
				(errmsg("could not read file \"%s\"", path)));
		if (data)
			pfree(data);
		return NULL;
	}
	FreeFile(file);
	*size = len;
	return data;
}

/*
 * Check the file's framing and return why it is unusable, or NULL.
 */
static const char *
check_file(const char *data, Size size, const StatFileHeader **header)
{
	const StatFileHeader *h = (const StatFileHeader *) data;
	pg_crc32c	crc;
	pg_crc32c	stored;
	Size		body;
	Size		entry_size;

	if (size < sizeof(StatFileHeader) + sizeof(pg_crc32c))
		return "it is truncated";
	if (h->magic != STAT_FILE_MAGIC)
		return "it has a wrong magic number";
	if (h->version != STAT_FILE_VERSION || h->key_size != sizeof(PgxtKey) ||
		h->counters_size != sizeof(PgxtCounters) ||
		h->hist_buckets != PGXT_HIST_BUCKETS || h->nentries < 0)
		return "it was written by another version of postgres_extension";
	/* every length from the file is checked against the file's size */
	body = size - sizeof(StatFileHeader) - sizeof(pg_crc32c);
	entry_size = sizeof(PgxtKey) + sizeof(PgxtCounters);
	if (h->history_size > body ||
		(body - h->history_size) % entry_size != 0 ||
		(body - h->history_size) / entry_size != (Size) h->nentries)
		return "it is truncated or has trailing garbage";

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, size - sizeof(pg_crc32c));
	FIN_CRC32C(crc);
	memcpy(&stored, data + size - sizeof(pg_crc32c), sizeof(pg_crc32c));
	if (!EQ_CRC32C(crc, stored))
		return "its checksum does not match";

	*header = h;
	return NULL;
}

/*
 * Load the statistics saved by the last clean shutdown, then remove the
 * file, so that a crash before the next clean shutdown starts empty.
 */
static void
persist_load(void)
{
	char	   *data;
	Size		size = 0;
	const StatFileHeader *header = NULL;
	const char *problem;

	data = read_file(STAT_FILE, &size);
	if (data == NULL)
		return;

	problem = check_file(data, size, &header);
	if (problem != NULL)
		ereport(WARNING,
				(errmsg("ignoring saved statistics in \"%s\": %s", STAT_FILE, problem)));
	else
	{
		const char *p = data + sizeof(StatFileHeader);
		int			i;

		for (i = 0; i < header->nentries; i++)
		{
			PgxtKey		key;
			PgxtCounters counters;

			memcpy(&key, p, sizeof(PgxtKey));
			p += sizeof(PgxtKey);
			key.appname[NAMEDATALEN - 1] = '\0';
			key.tag[PGXT_TAG_LEN - 1] = '\0';
			memcpy(&counters, p, sizeof(PgxtCounters));
			p += sizeof(PgxtCounters);
			pgxt_store_insert(&key, &counters);
		}
		pgxt_store_restore_info(header->dealloc, header->stats_reset,
								&header->evicted);

		/* the ring comes back only if its configuration did not change */
		if (header->history_size > 0 &&
			!pgxt_history_restore(p, header->history_size))
			ereport(LOG,
					(errmsg("saved history of \"%s\" not restored: history settings changed or the ring is damaged",
							STAT_FILE)));
	}

	pfree(data);
	unlink(STAT_FILE);
}

/*
 * Called from the shmem_startup_hook after the shared state is created.
 * In the postmaster (or standalone backend): load the saved statistics the
 * first time, and arrange to save them at a clean shutdown.
 */
void
pgxt_persist_startup(bool first_time)
{
	if (IsUnderPostmaster)
		return;
	if (first_time)
		persist_load();
	on_shmem_exit(persist_shutdown, (Datum) 0);
}

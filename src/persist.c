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
 * The file is read as a stream, its header first checked against its
 * size, so that reading it takes memory bounded by the configuration
 * (postgres_extension.max and the history ring) whatever its size.  If it
 * holds more entries than postgres_extension.max allows, the most used
 * are loaded and the others counted as evicted, with a LOG line.
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

#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/memutils.h"

#include "fingerprints.h"
#include "history.h"
#include "persist.h"
#include "postgres_extension.h"
#include "store.h"

#define STAT_FILE			PGSTAT_STAT_PERMANENT_DIRECTORY "/postgres_extension.stat"
#define STAT_FILE_TMP		STAT_FILE ".tmp"
#define STAT_FILE_MAGIC		0x50475854	/* "PGXT" */
#define STAT_FILE_VERSION	4

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
	PgxtStoreInfo info;
	PgxtHistorySums evicted;
	uint32		fp_key_size;
	uint32		fp_counters_size;
	int32		nfingerprints;
	int64		fp_dealloc;	/* evicted since the last history boundary */
	uint64		history_size;	/* bytes of the history ring, 0 if none */
} StatFileHeader;

/* State of the writer while it visits the entries. */
typedef struct StatWriter
{
	FILE	   *file;
	pg_crc32c	crc;
	int32		nentries;
	int32		nfingerprints;
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
 * Fingerprint visitor: write one fingerprint.
 */
static void
write_fingerprint(const PgxtFpKey *key, const PgxtFpCounters *counters,
				  void *arg)
{
	StatWriter *writer = (StatWriter *) arg;

	write_chunk(writer, key, sizeof(PgxtFpKey));
	write_chunk(writer, counters, sizeof(PgxtFpCounters));
	writer->nfingerprints++;
}

/*
 * Fingerprint visitor: count fingerprints.
 */
static void
count_fingerprint(const PgxtFpKey *key, const PgxtFpCounters *counters,
				  void *arg)
{
	(*(int32 *) arg)++;
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
	header.fp_key_size = sizeof(PgxtFpKey);
	header.fp_counters_size = sizeof(PgxtFpCounters);
	pgxt_fp_foreach(count_fingerprint, &header.nfingerprints);
	header.fp_dealloc = pgxt_fp_dealloc();
	pgxt_store_info(&header.info);
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
	pgxt_fp_foreach(write_fingerprint, &writer);
	if (writer.nentries != header.nentries ||
		writer.nfingerprints != header.nfingerprints)
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

/* State of the reader while it streams the file. */
typedef struct StatReader
{
	FILE	   *file;
	pg_crc32c	crc;
	bool		failed;			/* a read came short or failed */
} StatReader;

/*
 * Read len bytes and add them to the CRC; false (and failed set) if the
 * file ends before or cannot be read.
 */
static bool
read_chunk(StatReader *reader, void *data, size_t len)
{
	if (reader->failed)
		return false;
	if (fread(data, 1, len, reader->file) != len)
	{
		reader->failed = true;
		return false;
	}
	COMP_CRC32C(reader->crc, data, len);
	return true;
}

/*
 * Read and check the header against the file's size: why it is unusable,
 * or NULL.  Every length the header gives is checked against the size
 * before anything else is read, so that a file of any size costs no more
 * than its header unless it is exactly as long as it says.
 */
static const char *
check_header(StatReader *reader, uint64 file_size, StatFileHeader *header,
			 char *buf, size_t buflen)
{
	uint64		entry_size = sizeof(PgxtKey) + sizeof(PgxtCounters);
	uint64		fp_size = sizeof(PgxtFpKey) + sizeof(PgxtFpCounters);
	uint64		announced;

	if (file_size < sizeof(StatFileHeader) + sizeof(pg_crc32c) ||
		!read_chunk(reader, header, sizeof(StatFileHeader)))
		return "it is truncated";
	if (header->magic != STAT_FILE_MAGIC)
		return "it has a wrong magic number";
	if (header->version != STAT_FILE_VERSION || header->key_size != sizeof(PgxtKey) ||
		header->counters_size != sizeof(PgxtCounters) ||
		header->hist_buckets != PGXT_HIST_BUCKETS || header->nentries < 0 ||
		header->fp_key_size != sizeof(PgxtFpKey) ||
		header->fp_counters_size != sizeof(PgxtFpCounters) ||
		header->nfingerprints < 0)
		return "it was written by another version of postgres_extension";

	/* counts < 2^31 and entry sizes < 2^20: only the history can overflow */
	announced = sizeof(StatFileHeader) + (uint64) header->nentries * entry_size +
		(uint64) header->nfingerprints * fp_size + sizeof(pg_crc32c);
	if (header->history_size > PG_UINT64_MAX - announced)
		announced = PG_UINT64_MAX;
	else
		announced += header->history_size;
	if (announced != file_size)
	{
		snprintf(buf, buflen,
				 "its size (" UINT64_FORMAT " bytes) is not the size its header announces (" UINT64_FORMAT " bytes)",
				 file_size, announced);
		return buf;
	}
	return NULL;
}

/*
 * Load the statistics saved by the last clean shutdown, then remove the
 * file, so that a crash before the next clean shutdown starts empty.
 *
 * The file is streamed: the header is checked against the file's size,
 * then each entry goes into the store as it is read (keeping the most used
 * ones if there are more than postgres_extension.max, see
 * pgxt_store_load_entry), and the history ring into a buffer of the
 * configured ring's size (or, if the settings changed, only through the
 * CRC).  Memory stays bounded by the configuration, whatever the file's
 * size.  Only when the CRC at the end matches are the entries kept and the
 * global counters and the history restored; otherwise the loaded entries
 * are removed again and a WARNING says why.
 */
static void
persist_load(void)
{
	StatReader	reader;
	StatFileHeader header;
	struct stat st;
	PgxtCounters *counters = NULL;
	PgxtFpCounters *fp_counters = NULL;
	char	   *history_buf = NULL;
	Size		history_size = 0;
	bool		history_matches = false;
	bool		loading = false;
	const char *problem = NULL;
	char		problem_buf[128];
	pg_crc32c	stored;

	memset(&reader, 0, sizeof(reader));
	reader.file = AllocateFile(STAT_FILE, PG_BINARY_R);
	if (reader.file == NULL)
	{
		if (errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", STAT_FILE)));
		return;
	}
	if (fstat(fileno(reader.file), &st) != 0)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", STAT_FILE)));
		FreeFile(reader.file);
		unlink(STAT_FILE);
		return;
	}
	INIT_CRC32C(reader.crc);

	problem = check_header(&reader, (uint64) st.st_size, &header,
						   problem_buf, sizeof(problem_buf));
	if (problem == NULL)
	{
		int32		i;

		counters = palloc(sizeof(PgxtCounters));
		pgxt_store_load_begin(header.nentries);
		loading = true;
		for (i = 0; i < header.nentries; i++)
		{
			PgxtKey		key;

			if (!read_chunk(&reader, &key, sizeof(PgxtKey)) ||
				!read_chunk(&reader, counters, sizeof(PgxtCounters)))
				break;
			key.appname[NAMEDATALEN - 1] = '\0';
			key.tag[PGXT_TAG_LEN - 1] = '\0';
			pgxt_store_load_entry(&key, counters);
		}

		/* fingerprints, kept only if the table exists */
		fp_counters = palloc(sizeof(PgxtFpCounters));
		for (i = 0; i < header.nfingerprints; i++)
		{
			PgxtFpKey	key;

			if (!read_chunk(&reader, &key, sizeof(PgxtFpKey)) ||
				!read_chunk(&reader, fp_counters, sizeof(PgxtFpCounters)))
				break;
			key.appname[NAMEDATALEN - 1] = '\0';
			fp_counters->last_tag[PGXT_TAG_LEN - 1] = '\0';
			fp_counters->nsteps = Min(Max(fp_counters->nsteps, 0), PGXT_FP_STEPS);
			pgxt_fp_load(&key, fp_counters);
		}

		/*
		 * The ring comes back only if its configuration did not change (and
		 * its copy fits in memory); else it only goes through the CRC.
		 */
		if (header.history_size > 0)
		{
			(void) pgxt_history_raw(&history_size);
			if (header.history_size == history_size)
				history_buf = MemoryContextAllocExtended(CurrentMemoryContext,
														 history_size,
														 MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
			history_matches = history_buf != NULL;
			if (history_matches)
				(void) read_chunk(&reader, history_buf, history_size);
			else
			{
				uint64		left = header.history_size;
				char	   *scratch = palloc(BLCKSZ);

				while (left > 0 && read_chunk(&reader, scratch, Min(left, BLCKSZ)))
					left -= Min(left, BLCKSZ);
				pfree(scratch);
			}
		}

		FIN_CRC32C(reader.crc);
		if (reader.failed ||
			fread(&stored, sizeof(stored), 1, reader.file) != 1)
			problem = "it could not be read to its end";
		else if (!EQ_CRC32C(reader.crc, stored))
			problem = "its checksum does not match";
	}
	FreeFile(reader.file);

	if (problem != NULL)
	{
		if (loading)
		{
			(void) pgxt_store_load_end(false);
			LWLockAcquire(pgxt_store_lock(), LW_EXCLUSIVE);
			pgxt_fp_reset_locked();
			LWLockRelease(pgxt_store_lock());
		}
		ereport(WARNING,
				(errmsg("ignoring saved statistics in \"%s\": %s", STAT_FILE, problem)));
	}
	else
	{
		int64		dropped;

		pgxt_store_restore_info(&header.info, &header.evicted);
		pgxt_fp_restore_dealloc(header.fp_dealloc);
		dropped = pgxt_store_load_end(true);
		if (dropped > 0)
			ereport(LOG,
					(errmsg("postgres_extension loaded %lld of the %d entries saved in \"%s\" and dropped the %lld least used",
							(long long) (header.nentries - dropped), header.nentries,
							STAT_FILE, (long long) dropped),
					 errdetail("postgres_extension.max is %d; pg_stat_transactions_info.dealloc counts the dropped entries.",
							   pgxt_max_entries)));
		if (header.history_size > 0 &&
			(!history_matches || !pgxt_history_restore(history_buf, history_size)))
			ereport(LOG,
					(errmsg("saved history of \"%s\" not restored: history settings changed or the ring is damaged",
							STAT_FILE)));
	}

	if (counters)
		pfree(counters);
	if (fp_counters)
		pfree(fp_counters);
	if (history_buf)
		pfree(history_buf);
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

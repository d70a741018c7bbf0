/*-------------------------------------------------------------------------
 *
 * postgres_extension.h
 *		Settings of postgres_extension, defined in postgres_extension.c and
 *		read by the other files.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/postgres_extension.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef POSTGRES_EXTENSION_H
#define POSTGRES_EXTENSION_H

/*
 * Declarations between PGXT_BEGIN_INTERNAL and PGXT_END_INTERNAL are shared
 * by this library's files only: hidden from its dynamic symbol table, so
 * that calls and variable reads from one file to another are direct, with
 * no PLT or GOT indirection on the hot path.  What PostgreSQL looks up by
 * name (_PG_init, the SQL-callable functions, the worker's entry point)
 * stays outside them.  Headers of PostgreSQL must be included before.
 */
#if defined(__GNUC__) || defined(__clang__)
#define PGXT_BEGIN_INTERNAL _Pragma("GCC visibility push(hidden)")
#define PGXT_END_INTERNAL _Pragma("GCC visibility pop")
#else
#define PGXT_BEGIN_INTERNAL
#define PGXT_END_INTERNAL
#endif

/* Name of the library, the GUC prefix and the LWLock tranche. */
#define PGXT_NAME "postgres_extension"

/* Values of postgres_extension.track */
typedef enum PgxtTrackLevel
{
	PGXT_TRACK_NONE,
	PGXT_TRACK_ALL
}			PgxtTrackLevel;

PGXT_BEGIN_INTERNAL

/*---- GUC variables ----*/
extern int	pgxt_max_entries;
extern int	pgxt_track;
extern char *pgxt_tag;
extern char *pgxt_tag_comment_key;

PGXT_END_INTERNAL

#endif							/* POSTGRES_EXTENSION_H */

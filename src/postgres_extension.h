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

/* Name of the library, the GUC prefix and the LWLock tranche. */
#define PGXT_NAME "postgres_extension"

/* Values of postgres_extension.track */
typedef enum PgxtTrackLevel
{
	PGXT_TRACK_NONE,
	PGXT_TRACK_ALL
}			PgxtTrackLevel;

/*---- GUC variables ----*/
extern int	pgxt_max_entries;
extern int	pgxt_track;
extern char *pgxt_tag;
extern char *pgxt_tag_comment_key;

#endif							/* POSTGRES_EXTENSION_H */

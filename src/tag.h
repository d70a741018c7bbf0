/*-------------------------------------------------------------------------
 *
 * tag.h
 *		Tags: the postgres_extension.tag and tag_comment_key settings, tags
 *		read from sqlcommenter or marginalia comments of a statement, and
 *		the stored form of a tag that every database can read.
 *
 * A stored tag is at most PGXT_TAG_LEN - 1 bytes of valid UTF-8: a value
 * in another database encoding is converted to UTF-8, bytes that are not
 * valid (a SQL_ASCII database's high bytes) are written %XX, and a longer
 * value is cut on a character boundary and ends with "~" and 8 hex digits
 * of a hash of the whole value.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/tag.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_TAG_H
#define PGXT_TAG_H

#include "utils/guc.h"

#include "postgres_extension.h"

PGXT_BEGIN_INTERNAL
extern bool pgxt_comment_possible_full(const char *text, int location,
									  int length);
PGXT_END_INTERNAL

/*
 * Quick test, inline on the hot path: may the statement at [location,
 * location + length) of text (length 0: to the end) have a comment that
 * pgxt_comment_tag reads?  Only then is that worth calling.  The usual
 * case is told here; pgxt_comment_possible_full (tag.c) tells the rest and
 * says what "may" means.
 */
static pg_attribute_always_inline bool
pgxt_comment_possible(const char *text, int location, int length)
{
	const unsigned char *stmt = (const unsigned char *) text;
	const unsigned char *end;

	/*
	 * The usual case, a query string of one statement: it opens and closes
	 * with neither a comment, nor space, nor a ';', and at most its ';' and
	 * a space follow it.  Anything else takes the full test.
	 */
	if (likely(text != NULL && location == 0))
	{
		if (length > 0)
		{
			end = stmt + length;
			if (end[0] != '\0' && end[1] != '\0' &&
				(end[2] != '\0' || end[1] > ' '))
				return pgxt_comment_possible_full(text, location, length);
		}
		else
			end = stmt + strlen(text);
		if (end > stmt)
		{
			unsigned char first = stmt[0];
			unsigned char last = end[-1];

			if (first > ' ' && first != '/' &&
				last > ' ' && last != '/' && last != ';')
				return false;
		}
	}
	return pgxt_comment_possible_full(text, location, length);
}

PGXT_BEGIN_INTERNAL

extern bool pgxt_comment_tag(const char *text, int location, int length,
							 const char *key, char *out, int outsize);
extern void pgxt_tag_backend_init(void);
extern void pgxt_tag_from_setting(const char *value, char *out, int outsize);
extern const char *pgxt_tag_cstring(const char *tag);
extern Datum pgxt_tag_datum(const char *tag);
extern bool pgxt_tag_check_hook(char **newval, void **extra, GucSource source);
extern bool pgxt_tag_comment_key_check_hook(char **newval, void **extra,
											GucSource source);
extern void pgxt_tag_comment_key_assign_hook(const char *newval, void *extra);

PGXT_END_INTERNAL

#endif							/* PGXT_TAG_H */

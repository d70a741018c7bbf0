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
extern bool pgxt_line_has_dashes(const char *base, const char *p);
PGXT_END_INTERNAL

/*
 * Quick test, inline on the hot path: may the statement at [location,
 * location + length) of text (length 0: to the end) have a comment that
 * pgxt_comment_tag reads?  Only then is that worth calling.  False only
 * when it has none: the statement's text neither opens nor closes with
 * "/" "*" or "*" "/" (semicolons and whitespace aside), nothing but
 * whitespace separates it from the ';' before it or from the string's
 * start (18 starts a statement at its first token, so a comment before it
 * lies outside the range), and no comment follows its ';'.  Any byte from
 * 1 to ' ' counts as space here: a false "maybe" costs only the exact
 * parse.  For location -1 (the whole string, when the statement's place
 * is not known) any block comment is a "maybe".
 */
static pg_attribute_always_inline bool
pgxt_comment_possible(const char *text, int location, int length)
{
	const unsigned char *stmt;
	const unsigned char *end;
	const unsigned char *p;

	if (text == NULL)
		return false;
	if (location < 0)
		return strstr(text, "/*") != NULL;
	stmt = (const unsigned char *) text + location;
	if (length > 0)
	{
		/*
		 * a comment after the statement's ';': most often the string ends
		 * just after it, or after one more byte of space, which a few reads
		 * tell
		 */
		end = stmt + length;
		if (end[0] != '\0' && end[1] != '\0' &&
			(end[2] != '\0' || end[1] > ' '))
		{
			for (p = end; *p == ';' || (unsigned char) (*p - 1) < ' '; p++)
				;
			if ((p[0] == '/' && p[1] == '*') || (p[0] == '-' && p[1] == '-'))
				return true;
		}
	}
	else
		end = stmt + strlen((const char *) stmt);

	/* the statement's own text opens or closes with a comment */
	for (p = stmt; (unsigned char) (*p - 1) < ' '; p++)
		;
	if (end - p >= 4)
	{
		if (p[0] == '/' && p[1] == '*')
			return true;
		while (end[-1] <= ' ' || end[-1] == ';')
			end--;
		if (end[-1] == '/' && end - p >= 2 && end[-2] == '*')
			return true;
	}

	/*
	 * a comment between the last ';' and the statement; a ';' that ends the
	 * line before may be inside a line comment
	 */
	if (location > 0)
	{
		const unsigned char *base = (const unsigned char *) text;
		bool		newline = false;

		for (p = stmt; p > base && p[-1] <= ' '; p--)
			newline |= (p[-1] == '\n' || p[-1] == '\r');
		if (p > base &&
			(p[-1] != ';' ||
			 (newline && pgxt_line_has_dashes(text, (const char *) p - 1))))
			return true;
	}
	return false;
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

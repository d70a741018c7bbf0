/*-------------------------------------------------------------------------
 *
 * tag.h
 *		Tags: validation of the postgres_extension.tag and tag_comment_key
 *		settings, and extraction of a tag from a sqlcommenter or marginalia
 *		comment in a statement's text.
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

/*
 * Quick test, inline on the hot path: can the statement at [location,
 * location + length) of text (length 0: to the end; location -1: all of it)
 * open or close with a comment?  Only then is pgxt_comment_tag worth
 * calling.  Any byte up to ' ' counts as space here: a false "maybe" costs
 * only the exact parse, which uses the lexer's whitespace.
 */
static inline bool
pgxt_comment_possible(const char *text, int location, int length)
{
	const unsigned char *stmt;
	size_t		len;

	if (text == NULL)
		return false;
	if (location < 0)
	{
		location = 0;
		length = 0;
	}
	stmt = (const unsigned char *) text + location;
	len = length > 0 ? (size_t) length : strlen((const char *) stmt);

	while (len > 0 && stmt[0] <= ' ')
	{
		stmt++;
		len--;
	}
	if (len < 4)
		return false;
	if (stmt[0] == '/' && stmt[1] == '*')
		return true;
	while (len > 0 && (stmt[len - 1] <= ' ' || stmt[len - 1] == ';'))
		len--;
	return len >= 2 && stmt[len - 2] == '*' && stmt[len - 1] == '/';
}

PGXT_BEGIN_INTERNAL

extern bool pgxt_comment_tag(const char *text, int location, int length,
							 const char *key, char *out, int outsize);
extern bool pgxt_tag_check_hook(char **newval, void **extra, GucSource source);
extern bool pgxt_tag_comment_key_check_hook(char **newval, void **extra,
											GucSource source);

PGXT_END_INTERNAL

#endif							/* PGXT_TAG_H */

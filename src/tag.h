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
 * Whitespace as the SQL lexer sees it.
 */
static inline bool
pgxt_is_sql_space(char c)
{
	return c == ' ' || (unsigned char) (c - '\t') <= '\r' - '\t';
}

/*
 * Narrow [*start, *start + *length) to the statement without surrounding
 * whitespace and trailing semicolons.
 */
static inline void
pgxt_trim_statement(const char **start, int *length)
{
	while (*length > 0 && pgxt_is_sql_space(**start))
	{
		(*start)++;
		(*length)--;
	}
	while (*length > 0 && (pgxt_is_sql_space((*start)[*length - 1]) ||
						   (*start)[*length - 1] == ';'))
		(*length)--;
}

/*
 * Quick test, inline on the hot path: can the statement at [location,
 * location + length) of text (length 0: to the end; location -1: all of it)
 * open or close with a comment?  Only then is pgxt_comment_tag worth
 * calling.
 */
static inline bool
pgxt_comment_possible(const char *text, int location, int length)
{
	const char *start;

	if (text == NULL)
		return false;
	if (location < 0)
	{
		location = 0;
		length = 0;
	}
	start = text + location;
	if (length <= 0)
		length = strlen(start);
	pgxt_trim_statement(&start, &length);
	if (length < 4)
		return false;
	return (start[0] == '/' && start[1] == '*') ||
		(start[length - 2] == '*' && start[length - 1] == '/');
}

PGXT_BEGIN_INTERNAL

extern bool pgxt_comment_tag(const char *text, int location, int length,
							 const char *key, char *out, int outsize);
extern bool pgxt_tag_check_hook(char **newval, void **extra, GucSource source);
extern bool pgxt_tag_comment_key_check_hook(char **newval, void **extra,
											GucSource source);

PGXT_END_INTERNAL

#endif							/* PGXT_TAG_H */

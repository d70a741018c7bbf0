/*-------------------------------------------------------------------------
 *
 * tag.c
 *		Tags of transactions: checks for the tag settings, and reading a tag
 *		out of a comment at the start or the end of a statement.
 *
 * Two comment forms are understood, both as a list of comma-separated
 * pairs inside one C-style comment:
 *	 sqlcommenter	/+ route='%2Fcheckout',tag='pay' +/   (values quoted and
 *					URL-encoded; \' escapes a quote)
 *	 marginalia		/+ application:app,controller:posts +/
 * (with the slashes and stars of a real comment).  Only a comment that
 * opens the statement or closes it is read, so a statement without one
 * costs a few byte comparisons.
 *
 * Everything here is pure: no shared state, no allocation, no error.
 * Malformed comments, oversized values and invalid encodings are ignored or
 * truncated, never reported.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/tag.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "compat.h"
#include "store.h"
#include "tag.h"

/* Keys longer than this cannot match the configured key. */
#define MAX_KEY_LEN		63

static int	hex_value(char c);
static bool find_comment(const char *text, int length,
						 const char **body, int *body_len);
static bool read_pair_value(const char *body, int body_len, const char *key,
							char *out, int outsize);

/*
 * Whitespace as the SQL lexer sees it.
 */
static inline bool
is_sql_space(char c)
{
	return c == ' ' || (unsigned char) (c - '\t') <= '\r' - '\t';
}

/*
 * Narrow [*start, *start + *length) to the statement without surrounding
 * whitespace and trailing semicolons.
 */
static void
trim_statement(const char **start, int *length)
{
	while (*length > 0 && is_sql_space(**start))
	{
		(*start)++;
		(*length)--;
	}
	while (*length > 0 && (is_sql_space((*start)[*length - 1]) ||
						   (*start)[*length - 1] == ';'))
		(*length)--;
}

/*
 * Value of a hexadecimal digit, or -1.
 */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Find the body of a comment that opens or closes the statement text
 * [text, text + length).  A leading comment wins over a trailing one.
 */
static bool
find_comment(const char *text, int length, const char **body, int *body_len)
{
	const char *start = text;
	const char *end;
	const char *p;

	trim_statement(&start, &length);
	if (length < 4)
		return false;
	end = start + length;

	/* a comment that opens the statement */
	if (start[0] == '/' && start[1] == '*')
	{
		for (p = start + 2; p + 1 < end; p++)
		{
			if (p[0] == '*' && p[1] == '/')
			{
				*body = start + 2;
				*body_len = p - (start + 2);
				return true;
			}
		}
		return false;
	}

	/* a comment that closes it: the last opener before the final closer */
	if (end[-2] == '*' && end[-1] == '/')
	{
		for (p = end - 4; p >= start; p--)
		{
			if (p[0] == '/' && p[1] == '*')
			{
				*body = p + 2;
				*body_len = (end - 2) - (p + 2);
				return true;
			}
		}
	}
	return false;
}

/*
 * Scan the comma-separated pairs of a comment body for key and copy its
 * value, decoded, into out.  Returns false if key is absent or its value
 * is empty.  The value may still be invalid in the database encoding; the
 * caller checks.
 */
static bool
read_pair_value(const char *body, int body_len, const char *key,
				char *out, int outsize)
{
	const char *p = body;
	const char *end = body + body_len;
	int			keylen = strlen(key);

	while (p < end)
	{
		char		name[MAX_KEY_LEN + 1];
		int			namelen = 0;
		bool		name_ok = true;
		bool		quoted;
		bool		matched;
		int			outlen = 0;

		while (p < end && (is_sql_space(*p) || *p == ','))
			p++;
		if (p >= end)
			break;

		/* the key, URL-decoded, up to '=' (sqlcommenter) or ':' (marginalia) */
		while (p < end && *p != '=' && *p != ':' && *p != ',')
		{
			char		c = *p++;

			if (c == '%' && end - p >= 2 &&
				hex_value(p[0]) >= 0 && hex_value(p[1]) >= 0)
			{
				c = (char) (hex_value(p[0]) * 16 + hex_value(p[1]));
				p += 2;
			}
			if (is_sql_space(c) && namelen == 0)
				continue;
			if (namelen < MAX_KEY_LEN)
				name[namelen++] = c;
			else
				name_ok = false;
		}
		while (namelen > 0 && is_sql_space(name[namelen - 1]))
			namelen--;
		if (p >= end || *p == ',')
			continue;			/* a bare word: not a pair */

		quoted = (*p == '=');
		p++;
		matched = name_ok && namelen == keylen &&
			memcmp(name, key, keylen) == 0;

		while (p < end && is_sql_space(*p))
			p++;

		if (quoted && p < end && *p == '\'')
		{
			/* sqlcommenter: '...' with \' escapes, URL-encoded inside */
			p++;
			while (p < end && *p != '\'')
			{
				char		c = *p++;

				if (c == '\\' && p < end)
					c = *p++;
				else if (c == '%' && end - p >= 2 &&
						 hex_value(p[0]) >= 0 && hex_value(p[1]) >= 0)
				{
					c = (char) (hex_value(p[0]) * 16 + hex_value(p[1]));
					p += 2;
				}
				if (matched && outlen < outsize - 1)
					out[outlen++] = c;
			}
			if (p < end)
				p++;			/* closing quote */
			while (p < end && *p != ',')
				p++;
		}
		else
		{
			/* marginalia, or an unquoted value: up to the next comma */
			const char *value_end;

			value_end = p;
			while (value_end < end && *value_end != ',')
				value_end++;
			while (value_end > p && is_sql_space(value_end[-1]))
				value_end--;
			if (matched)
			{
				outlen = Min(value_end - p, outsize - 1);
				memcpy(out, p, outlen);
			}
			p = value_end;
		}

		if (matched)
		{
			out[outlen] = '\0';
			return outlen > 0;
		}
	}
	return false;
}

/*
 * Read the tag named key from a comment that opens or closes the statement
 * at [location, location + length) of text (length 0: to the end; location
 * -1: the whole text).  On success, out holds the value, valid in the
 * database encoding, cut at a character boundary to fit outsize bytes with
 * its terminator.  Returns false, leaving out undefined, otherwise.
 */
bool
pgxt_comment_tag(const char *text, int location, int length,
				 const char *key, char *out, int outsize)
{
	const char *body;
	int			body_len;
	char		value[4 * PGXT_TAG_LEN];
	int			value_len;
	int			ascii_len;
	int			clipped;

	if (text == NULL || key == NULL || key[0] == '\0' || outsize < 2)
		return false;
	if (location < 0)
	{
		location = 0;
		length = 0;
	}
	text += location;
	if (length <= 0)
		length = strlen(text);

	if (!find_comment(text, length, &body, &body_len))
		return false;
	if (!read_pair_value(body, body_len, key, value, sizeof(value)))
		return false;

	/* a decoded NUL ends the value; it ends before any invalid byte */
	value_len = strlen(value);
	for (ascii_len = 0; ascii_len < value_len; ascii_len++)
	{
		if (IS_HIGHBIT_SET(value[ascii_len]))
			break;
	}
	if (ascii_len == value_len)
		clipped = Min(value_len, outsize - 1);	/* ASCII: any cut is valid */
	else
	{
		value_len = pgxt_encoding_verifymbstr(GetDatabaseEncoding(), value,
											  value_len);
		if (value_len <= 0)
			return false;
		clipped = pg_mbcliplen(value, value_len, outsize - 1);
	}
	memcpy(out, value, clipped);
	out[clipped] = '\0';
	return clipped > 0;
}

/*
 * GUC check hook of postgres_extension.tag: at most PGXT_TAG_LEN - 1 bytes.
 */
bool
pgxt_tag_check_hook(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && strlen(*newval) >= PGXT_TAG_LEN)
	{
		GUC_check_errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION);
		GUC_check_errmsg("tag is too long (%d bytes)", (int) strlen(*newval));
		GUC_check_errdetail("A tag is at most %d bytes.", PGXT_TAG_LEN - 1);
		return false;
	}
	return true;
}

/*
 * GUC check hook of postgres_extension.tag_comment_key: empty (comments
 * are not read) or a short word of letters, digits, '_', '-' and '.'.
 */
bool
pgxt_tag_comment_key_check_hook(char **newval, void **extra, GucSource source)
{
	const char *p;

	if (*newval == NULL)
		return true;
	if (strlen(*newval) > MAX_KEY_LEN)
	{
		GUC_check_errdetail("The key is at most %d bytes.", MAX_KEY_LEN);
		return false;
	}
	for (p = *newval; *p; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
		{
			GUC_check_errdetail("The key may hold only letters, digits, \"_\", \"-\" and \".\".");
			return false;
		}
	}
	return true;
}

/*-------------------------------------------------------------------------
 *
 * tag.c
 *		Tags of transactions: reading a tag out of the comments around a
 *		statement, the tag_comment_key setting, and the stored form of a
 *		tag, which every database can read.
 *
 * Where comments are read.  The text between the end of the statement
 * before (its ';') or the string's start and the statement's first token
 * is its leading run; the text after its last token, up to its ';' or, for
 * the last statement of the string, to the string's end, is its trailing
 * run.  Block comments nest as in PostgreSQL's lexer.  A run is read only
 * when it opens (leading) or closes (trailing) with a block comment, and
 * then each of its block comments is tried in order, the leading run's
 * first.  Comments inside the statement, inside strings and inside line
 * comments are never read.  The first comment that gives a value wins.
 *
 * The body of a comment (between its outer delimiters) is a list of pairs
 * separated by commas, whitespace allowed around them:
 *	 key='value'	sqlcommenter: inside the quotes, \ takes the next
 *					character literally; the value is then decoded: %% is
 *					read as % (Django doubles them), and % with two hex
 *					digits is that byte; any other % stays
 *	 key:value		marginalia and Rails' legacy format: the value runs to
 *					the next comma, without surrounding whitespace, as is
 * A key is letters, digits, '_', '.', '-', '~' and %XX escapes (decoded).
 * Anything else (a value in double quotes, a quote left open, a nested
 * comment, a comma with no pair after it) makes the whole comment ignored.
 * The first pair of a key counts; an empty value is no value; a value that
 * is not valid in the database encoding (or holds a NUL) is no value,
 * except in a SQL_ASCII database, where such bytes are written %XX.
 *
 * tag_comment_key is a list of alternatives separated by commas, each one
 * key or several joined by one of # / : @ +; the first alternative whose
 * keys all have a value gives the tag, the values joined the same way:
 * 'controller#action, job' gives "posts#index", or the job's name.
 *
 * Stored form: see tag.h.  pgxt_tag_cstring gives a reader the stored tag as
 * it is in a UTF-8 (or SQL_ASCII) database, with non-ASCII bytes written
 * %XX in any other.
 *
 * Nothing here takes a lock or touches shared memory; nothing raises an
 * error for the application's statement.  The conversion to UTF-8 of a
 * database that is neither UTF-8 nor SQL_ASCII is looked up in the
 * catalogs once per backend, by pgxt_tag_backend_init.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/tag.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "compat.h"
#include "store.h"
#include "tag.h"

/* A key is at most this many bytes. */
#define MAX_KEY_LEN		63

/* tag_comment_key names at most this many keys, alternatives included. */
#define MAX_KEYS		8

/* "~" and 8 hex digits end a tag that was cut. */
#define HASH_SUFFIX_LEN 9

/* Characters that may join two keys of one alternative. */
#define KEY_JOINERS		"#/:@+"

/* The parsed tag_comment_key: its alternatives, each a run of keys. */
typedef struct TagSpec
{
	int			nkeys;
	int			nalts;
	int			alt_first[MAX_KEYS];	/* index of an alternative's first key */
	int			alt_nkeys[MAX_KEYS];
	char		joiner[MAX_KEYS];	/* before key i; '\0' at an alternative's
									 * start */
	int			key_len[MAX_KEYS];
	char		key[MAX_KEYS][MAX_KEY_LEN + 1];
} TagSpec;

/* Elements of SQL text, as the lexer cuts it. */
typedef enum LexKind
{
	LEX_END,					/* the end of the range */
	LEX_SPACE,
	LEX_SEMICOLON,
	LEX_BLOCK_COMMENT,
	LEX_LINE_COMMENT,
	LEX_TOKEN,					/* anything else: words, strings, operators */
	LEX_ERROR					/* an unterminated comment, string or quote */
} LexKind;

/* A value's place in a comment body. */
typedef struct ValueSpan
{
	const char *start;
	const char *end;
	bool		quoted;
	bool		found;
} ValueSpan;

/* A block comment's place in the text. */
typedef struct CommentSpan
{
	const char *start;
	const char *end;
} CommentSpan;

/* Reads a value's bytes: quoted ones unescaped and decoded. */
typedef struct ValueReader
{
	const char *p;
	const char *end;
	bool		quoted;
} ValueReader;

/* Where the stored form of a tag is built. */
typedef struct TagSink
{
	char		buf[PGXT_TAG_LEN];
	int			max;			/* bytes allowed, below the caller's outsize */
	int			len;			/* whole units kept in buf */
	int			cut;			/* longest whole-unit prefix that leaves room
								 * for the suffix */
	int64		total;			/* bytes of the whole stored form */
	uint32		hash;			/* FNV-1a of the whole stored form */
	bool		full;			/* a unit did not fit: the tag is cut */
} TagSink;

/* The tag_comment_key setting in force, and its parsed form. */
static const char *active_key_value = NULL;
static const TagSpec *active_spec = NULL;

/* The conversion from the database encoding to UTF-8, once looked up. */
typedef enum ConversionState
{
	CONVERSION_UNKNOWN,
	CONVERSION_READY,
	CONVERSION_NONE
} ConversionState;
static ConversionState to_utf8_state = CONVERSION_UNKNOWN;
static FmgrInfo to_utf8_proc;

/* Character classes of the lexer. */
#define CH_PLAIN	0			/* nothing special */
#define CH_SPACE	1
#define CH_SPECIAL	2			/* ; ' " $ / - NUL: may start another element */
static unsigned char char_class[256];
static bool key_char[256];		/* may appear in a key, unescaped */
static bool char_class_ready = false;

static bool parse_key_spec(const char *value, TagSpec *spec, char *error,
						   int errorsize);

/*
 * Whitespace as PostgreSQL's lexer sees it.
 */
static inline bool
is_sql_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

/*
 * A character that continues an identifier ($ included), which no dollar
 * quote may follow.
 */
static inline bool
is_ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

/*
 * Value of a hexadecimal digit, or -1.
 */
static inline int
hex_value(int c)
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
 * Fill char_class and key_char once.
 */
static void
init_char_class(void)
{
	const char *special = ";'\"$/-";
	int			c;

	memset(char_class, CH_PLAIN, sizeof(char_class));
	char_class[' '] = char_class['\t'] = char_class['\n'] = CH_SPACE;
	char_class['\r'] = char_class['\f'] = char_class['\v'] = CH_SPACE;
	for (; *special; special++)
		char_class[(unsigned char) *special] = CH_SPECIAL;
	char_class[0] = CH_SPECIAL;	/* stops every run at the string's end */
	for (c = 0; c < 256; c++)
		key_char[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
			c == '~';
	char_class_ready = true;
}

/*
 * If *p (inside [base, end)) opens a dollar quote, return the length of
 * its delimiter ("$$", "$tag$"), else 0.  One that follows an identifier's
 * character belongs to that identifier.
 */
static int
dollar_delimiter(const char *base, const char *p, const char *end)
{
	const unsigned char *q = (const unsigned char *) p + 1;
	const unsigned char *e = (const unsigned char *) end;

	if (p > base && is_ident_char((unsigned char) p[-1]))
		return 0;
	if (q < e && *q != '$')
	{
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			  *q == '_' || *q >= 0x80))
			return 0;
		while (q < e && *q != '$' && is_ident_char(*q))
			q++;
	}
	if (q >= e || *q != '$')
		return 0;
	return (int) ((const char *) q - p) + 1;
}

/*
 * Past the block comment at p ("/" "*"), nested ones included, no further
 * than end; NULL if it is not closed there.
 */
static pg_noinline const char *
skip_block_comment(const char *p, const char *end)
{
	int			depth = 1;

	p += 2;
	while (p + 1 < end)
	{
		if (p[0] == '*' && p[1] == '/')
		{
			p += 2;
			if (--depth == 0)
				return p;
		}
		else if (p[0] == '/' && p[1] == '*')
		{
			p += 2;
			depth++;
		}
		else
			p++;
	}
	return NULL;
}

/*
 * Past the quoted string, quoted identifier or dollar-quoted string at p
 * (its delimiter dollar_len bytes long, 0 for quotes), no further than
 * end; NULL if it is not closed there.  Strings follow
 * standard_conforming_strings; E'' strings (the E starting a word) take
 * backslash escapes.
 */
static pg_noinline const char *
skip_quoted(const char *base, const char *p, const char *end, int dollar_len)
{
	const char *q;

	if (dollar_len > 0)
	{
		for (q = p + dollar_len; end - q >= dollar_len; q++)
		{
			if (*q == '$' && memcmp(q, p, dollar_len) == 0)
				return q + dollar_len;
		}
		return NULL;
	}
	if (*p == '\'')
	{
		bool		backslash = !standard_conforming_strings ||
			(p > base && (p[-1] == 'E' || p[-1] == 'e') &&
			 (p - 1 == base || !is_ident_char((unsigned char) p[-2])));

		for (q = p + 1; q < end;)
		{
			char		d = *q++;

			if (d == '\\' && backslash)
			{
				if (q < end)
					q++;
			}
			else if (d == '\'')
			{
				if (q < end && *q == '\'')
					q++;
				else
					return q;
			}
		}
		return NULL;
	}
	/* a quoted identifier */
	for (q = p + 1; q < end;)
	{
		if (*q++ == '"')
		{
			if (q < end && *q == '"')
				q++;
			else
				return q;
		}
	}
	return NULL;
}

/*
 * Cut the next element of SQL text at *pp, no further than end, and move
 * *pp past it.  base is the start of the whole string (the lexer looks one
 * or two bytes back for the prefix of a string or a dollar quote).
 */
static LexKind
lex_next(const char *base, const char **pp, const char *end)
{
	const char *p = *pp;
	unsigned char c;
	int			dollar_len = 0;

	if (p >= end)
		return LEX_END;
	c = (unsigned char) *p;

	if (char_class[c] == CH_SPACE)
	{
		while (p < end && char_class[(unsigned char) *p] == CH_SPACE)
			p++;
		*pp = p;
		return LEX_SPACE;
	}
	if (c == ';')
	{
		*pp = p + 1;
		return LEX_SEMICOLON;
	}
	if (c == '/' && p + 1 < end && p[1] == '*')
	{
		p = skip_block_comment(p, end);
		*pp = p ? p : end;
		return p ? LEX_BLOCK_COMMENT : LEX_ERROR;
	}
	if (c == '-' && p + 1 < end && p[1] == '-')
	{
		while (p < end && *p != '\n' && *p != '\r')
			p++;
		*pp = p;
		return LEX_LINE_COMMENT;
	}
	if (c == '\'' || c == '"' ||
		(c == '$' && (dollar_len = dollar_delimiter(base, p, end)) > 0))
	{
		p = skip_quoted(base, p, end, dollar_len);
		*pp = p ? p : end;
		return p ? LEX_TOKEN : LEX_ERROR;
	}

	/* a word, a number, an operator: up to what may start another element */
	p++;
	while (p < end)
	{
		c = (unsigned char) *p;
		if (char_class[c] == CH_PLAIN)
		{
			p++;
			continue;
		}
		if (char_class[c] == CH_SPACE || c == ';' || c == '\'' || c == '"')
			break;
		if (c == '/' && p + 1 < end && p[1] == '*')
			break;
		if (c == '-' && p + 1 < end && p[1] == '-')
			break;
		if (c == '$' && dollar_delimiter(base, p, end) > 0)
			break;
		p++;
	}
	*pp = p;
	return LEX_TOKEN;
}

/*
 * True if [from, to) holds only whitespace and comments.  *line_comment
 * tells whether one of them was a line comment.
 */
static bool
only_comments(const char *base, const char *from, const char *to,
			  bool *line_comment)
{
	const char *p = from;

	*line_comment = false;
	for (;;)
	{
		switch (lex_next(base, &p, to))
		{
			case LEX_END:
				return true;
			case LEX_SPACE:
			case LEX_BLOCK_COMMENT:
				break;
			case LEX_LINE_COMMENT:
				*line_comment = true;
				break;
			default:
				return false;
		}
	}
}

/*
 * Scan a statement's text from p (its first token) to end, for its
 * trailing run: set *trail_start to the end of its last token (a ';' is
 * not one), *closes to whether the last comment after that is a block
 * comment, *first to where the first block comment after that token lies
 * (start NULL if none).  Returns NULL, or where an unterminated comment,
 * string or quote starts.
 *
 * This is lex_next's work in one loop, for speed: it runs over the whole
 * text of every statement that closes with a comment.  strcspn (vectorized
 * in the C library) skips what lies between bytes that may start a
 * comment, a string or a quote; it stops at the string's terminating NUL
 * at the latest, and what it skips past end is cut back.
 */
static const char *
scan_to_end(const char *base, const char *p, const char *end,
			const char **trail_start, bool *closes, CommentSpan *first)
{
	const unsigned char *s = (const unsigned char *) p;
	const unsigned char *e = (const unsigned char *) end;
	const unsigned char *last = s;
	bool		block = false;

	first->start = NULL;

	while (s < e)
	{
		const unsigned char *stop;
		unsigned char c;
		const char *q;
		int			dollar_len;

		/* words, numbers, operators and whitespace, up to a special byte */
		stop = s + strcspn((const char *) s, "'\"$/-;");
		if (stop > e)
			stop = e;
		if (stop > s)
		{
			const unsigned char *t = stop;

			while (t > s && char_class[t[-1]] == CH_SPACE)
				t--;
			if (t > s)
			{
				last = t;		/* a token ends there */
				block = false;
				first->start = NULL;
			}
			s = stop;
			if (s >= e)
				break;
		}
		c = *s;
		switch (c)
		{
			case ';':
				s++;
				continue;
			case '/':
				if (s + 1 < e && s[1] == '*')
				{
					q = skip_block_comment((const char *) s, end);
					if (q == NULL)
						return (const char *) s;
					if (first->start == NULL)
					{
						first->start = (const char *) s;
						first->end = q;
					}
					s = (const unsigned char *) q;
					block = true;
					continue;
				}
				break;
			case '-':
				if (s + 1 < e && s[1] == '-')
				{
					while (s < e && *s != '\n' && *s != '\r')
						s++;
					block = false;
					continue;
				}
				break;
			case '\'':
			case '"':
			case '$':
				dollar_len = c == '$' ?
					dollar_delimiter(base, (const char *) s, end) : 0;
				if (c != '$' || dollar_len > 0)
				{
					q = skip_quoted(base, (const char *) s, end, dollar_len);
					if (q == NULL)
						return (const char *) s;
					s = last = (const unsigned char *) q;
					block = false;
					first->start = NULL;
					continue;
				}
				break;
			default:
				break;
		}
		/* '/', '-' or '$' as an operator or in a word */
		s++;
		last = s;
		block = false;
		first->start = NULL;
	}
	*trail_start = (const char *) last;
	*closes = block;
	return NULL;
}

/*
 * True if the line holding position p of the string starting at base has
 * "--" before p.
 */
static bool
line_has_dashes(const char *base, const char *p)
{
	const char *q;

	for (q = p; q > base + 1 && q[-1] != '\n' && q[-1] != '\r'; q--)
	{
		if (q[-1] == '-' && q[-2] == '-')
			return true;
	}
	return false;
}

/*
 * The quick test (pgxt_comment_possible, tag.h) in full: may the statement
 * at [location, location + length) of text (length 0: to the end) have a comment that
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
bool
pgxt_comment_possible_full(const char *text, int location, int length)
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
			 (newline && line_has_dashes(text, (const char *) p - 1))))
			return true;
	}
	return false;
}


/*
 * Start of the leading run of the statement whose text begins at stmt:
 * just after the ';' or the token before it, or the string's start.  From
 * 18 on stmt is the statement's first token and comments before it lie
 * outside its range; before 18 stmt is just after the ';' already.
 *
 * The text between that point and stmt holds only whitespace and comments.
 * Candidates are tried from the nearest ';' back: one inside a block
 * comment cannot be followed by comments only (what closes its comment is
 * left over), and one inside a line comment has "--" before it on its
 * line; when a line comment makes that test unsure, the string is lexed
 * from its start instead.
 */
static const char *
leading_run_start(const char *base, const char *stmt)
{
	const char *p = stmt;
	const char *candidate;
	const char *mark;
	bool		line_comment;
	bool		newline = false;

	while (p > base && is_sql_space((unsigned char) p[-1]))
	{
		p--;
		newline |= (*p == '\n' || *p == '\r');
	}
	/* a ';' on the statement's line cannot be inside a line comment */
	if (p == base ||
		(p[-1] == ';' && !(newline && line_has_dashes(base, p - 1))))
		return p;

	for (candidate = stmt; candidate > base; candidate--)
	{
		if (candidate[-1] != ';')
			continue;
		if (only_comments(base, candidate, stmt, &line_comment))
		{
			if (!line_comment && !line_has_dashes(base, candidate - 1))
				return candidate;
			break;
		}
	}
	if (candidate == base && only_comments(base, base, stmt, &line_comment))
		return base;

	/* lex from the start: the run begins after the last ';' or token */
	p = base;
	mark = base;
	for (;;)
	{
		switch (lex_next(base, &p, stmt))
		{
			case LEX_END:
				return mark;
			case LEX_SEMICOLON:
			case LEX_TOKEN:
				mark = p;
				break;
			case LEX_ERROR:
				return stmt;
			default:
				break;
		}
	}
}

/*
 * Parse the tag_comment_key value into spec.  Returns false, with a
 * message in error, if it is malformed.
 */
static bool
parse_key_spec(const char *value, TagSpec *spec, char *error, int errorsize)
{
	const char *p = value;

	memset(spec, 0, sizeof(TagSpec));
	while (is_sql_space((unsigned char) *p))
		p++;
	if (*p == '\0')
		return true;			/* comments are not read */

	for (;;)
	{
		char		joiner = '\0';

		/* one alternative: keys and joiners */
		spec->alt_first[spec->nalts] = spec->nkeys;
		for (;;)
		{
			const char *start = p;
			int			len;

			while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				   (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
				   *p == '.' || *p == '~')
				p++;
			len = p - start;
			if (len == 0)
			{
				if (*p == '\0')
					snprintf(error, errorsize, "A key is missing at the end.");
				else
					snprintf(error, errorsize,
							 "A key is missing before \"%c\" (byte %d): keys are made of letters, digits, \"_\", \"-\", \".\" and \"~\".",
							 *p, (int) (p - value) + 1);
				return false;
			}
			if (len > MAX_KEY_LEN)
			{
				snprintf(error, errorsize,
						 "Key \"%.20s...\" is longer than %d bytes.",
						 start, MAX_KEY_LEN);
				return false;
			}
			if (spec->nkeys == MAX_KEYS)
			{
				snprintf(error, errorsize, "At most %d keys.", MAX_KEYS);
				return false;
			}
			memcpy(spec->key[spec->nkeys], start, len);
			spec->key[spec->nkeys][len] = '\0';
			spec->key_len[spec->nkeys] = len;
			spec->joiner[spec->nkeys] = joiner;
			spec->nkeys++;
			spec->alt_nkeys[spec->nalts]++;

			if (*p == '\0' || strchr(KEY_JOINERS, *p) == NULL)
				break;
			joiner = *p++;
		}
		spec->nalts++;

		while (is_sql_space((unsigned char) *p))
			p++;
		if (*p == '\0')
			return true;
		if (*p != ',')
		{
			snprintf(error, errorsize,
					 "Unexpected \"%c\" (byte %d): alternatives are separated by commas, keys joined by one of \"%s\".",
					 *p, (int) (p - value) + 1, KEY_JOINERS);
			return false;
		}
		p++;
		while (is_sql_space((unsigned char) *p))
			p++;
	}
}

/*
 * Parse a comment body [p, end) and note, in values, the first value of
 * each key of spec.  Returns false if the body is not a list of pairs.
 */
static bool
parse_body(const char *p, const char *end, const TagSpec *spec,
		   ValueSpan *values)
{
	memset(values, 0, sizeof(ValueSpan) * spec->nkeys);

	for (;;)
	{
		char		name[MAX_KEY_LEN + 1];
		int			namelen = 0;
		bool		name_fits = true;
		const char *vstart;
		const char *vend;
		bool		quoted;
		int			i;

		while (p < end && is_sql_space((unsigned char) *p))
			p++;

		/* the key */
		while (p < end)
		{
			int			c = (unsigned char) *p;

			if (c == '%')
			{
				if (end - p < 3 || hex_value(p[1]) < 0 || hex_value(p[2]) < 0)
					return false;
				c = hex_value(p[1]) * 16 + hex_value(p[2]);
				p += 3;
			}
			else if (key_char[c])
				p++;
			else
				break;
			if (namelen < MAX_KEY_LEN)
				name[namelen++] = (char) c;
			else
				name_fits = false;
		}
		if (namelen == 0)
			return false;
		while (p < end && is_sql_space((unsigned char) *p))
			p++;
		if (p >= end || (*p != '=' && *p != ':'))
			return false;
		quoted = (*p++ == '=');
		while (p < end && is_sql_space((unsigned char) *p))
			p++;

		if (quoted)
		{
			if (p >= end || *p != '\'')
				return false;
			vstart = ++p;
			while (p < end && *p != '\'')
				p += (*p == '\\' && p + 1 < end) ? 2 : 1;
			if (p >= end)
				return false;	/* unterminated */
			vend = p++;
			while (p < end && is_sql_space((unsigned char) *p))
				p++;
		}
		else
		{
			vstart = p;
			while (p < end && *p != ',')
				p++;
			vend = p;
			while (vend > vstart && is_sql_space((unsigned char) vend[-1]))
				vend--;
		}

		for (i = 0; i < spec->nkeys && name_fits; i++)
		{
			if (!values[i].found && spec->key_len[i] == namelen &&
				spec->key[i][0] == name[0] &&
				memcmp(spec->key[i], name, namelen) == 0)
			{
				values[i].start = vstart;
				values[i].end = vend;
				values[i].quoted = quoted;
				values[i].found = true;
			}
		}

		if (p >= end)
			return true;
		if (*p != ',')
			return false;
		p++;
	}
}

/*
 * Next byte of a quoted value with its backslash escapes undone, or -1.
 */
static inline int
unescaped_next(ValueReader *r)
{
	if (r->p >= r->end)
		return -1;
	if (*r->p == '\\' && r->p + 1 < r->end)
		r->p++;
	return (unsigned char) *r->p++;
}

/*
 * Next unescaped byte with "%%" read as "%", or -1.
 */
static inline int
undoubled_next(ValueReader *r)
{
	int			c = unescaped_next(r);

	if (c == '%')
	{
		ValueReader save = *r;

		if (unescaped_next(r) != '%')
			*r = save;
	}
	return c;
}

/*
 * Next byte of a value: a bare value's bytes as they are; a quoted value's
 * unescaped, undoubled and percent-decoded.  -1 at its end.
 */
static int
value_next(ValueReader *r)
{
	int			c;

	if (!r->quoted)
		return r->p < r->end ? (unsigned char) *r->p++ : -1;
	c = undoubled_next(r);
	if (c == '%')
	{
		ValueReader save = *r;
		int			high = hex_value(undoubled_next(r));
		int			low = hex_value(undoubled_next(r));

		if (high >= 0 && low >= 0)
			return high * 16 + low;
		*r = save;
	}
	return c;
}

/*
 * Start building a stored tag of at most max bytes.
 */
static void
sink_init(TagSink *sink, int max)
{
	sink->max = Min(max, PGXT_TAG_LEN - 1);
	sink->len = 0;
	sink->cut = 0;
	sink->total = 0;
	sink->hash = 2166136261u;
	sink->full = false;
}

/*
 * Append one unit (a character, or a %XX escape) of n bytes; a cut falls
 * only between units.
 */
static void
sink_unit(TagSink *sink, const char *bytes, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		sink->hash = (sink->hash ^ (unsigned char) bytes[i]) * 16777619u;
	sink->total += n;
	if (sink->full)
		return;
	if (sink->len + n > sink->max)
	{
		sink->full = true;
		return;
	}
	memcpy(sink->buf + sink->len, bytes, n);
	sink->len += n;
	if (sink->len <= sink->max - HASH_SUFFIX_LEN)
		sink->cut = sink->len;
}

/*
 * Append n ASCII bytes, each a unit of its own.
 */
static void
sink_ascii(TagSink *sink, const char *bytes, int n)
{
	uint32		hash = sink->hash;
	int			before = sink->len;
	int			room;
	int			i;

	for (i = 0; i < n; i++)
		hash = (hash ^ (unsigned char) bytes[i]) * 16777619u;
	sink->hash = hash;
	sink->total += n;
	if (sink->full)
		return;
	room = sink->max - sink->len;
	if (n > room)
	{
		memcpy(sink->buf + sink->len, bytes, room);
		sink->len += room;
		sink->full = true;
	}
	else
	{
		memcpy(sink->buf + sink->len, bytes, n);
		sink->len += n;
	}
	if (before <= sink->max - HASH_SUFFIX_LEN)
		sink->cut = Min(sink->len, sink->max - HASH_SUFFIX_LEN);
}

/*
 * Append a byte as %XX.
 */
static void
sink_escape(TagSink *sink, unsigned char byte)
{
	char		esc[3];

	esc[0] = '%';
	esc[1] = "0123456789ABCDEF"[byte >> 4];
	esc[2] = "0123456789ABCDEF"[byte & 15];
	sink_unit(sink, esc, 3);
}

/*
 * Write the stored tag into out (room for sink->max bytes and a NUL): all
 * of it, or its cut prefix and the hash suffix.  Returns false if empty.
 */
static bool
sink_finish(const TagSink *sink, char *out)
{
	if (sink->total == 0)
	{
		out[0] = '\0';
		return false;
	}
	if (!sink->full)
	{
		memcpy(out, sink->buf, sink->len);
		out[sink->len] = '\0';
	}
	else
	{
		memcpy(out, sink->buf, sink->cut);
		snprintf(out + sink->cut, HASH_SUFFIX_LEN + 1, "~%08x", sink->hash);
	}
	return true;
}

/*
 * Look the conversion from the database encoding to UTF-8 up, once per
 * backend, when the database encoding needs one.  The caller runs inside a
 * transaction (catalog access) and outside error handling; the hooks call
 * this when a backend starts being tracked, so that tags are never
 * converted one way in some contexts and another in others.
 */
void
pgxt_tag_backend_init(void)
{
	int			encoding = GetDatabaseEncoding();
	Oid			proc;

	if (to_utf8_state != CONVERSION_UNKNOWN)
		return;
	to_utf8_state = CONVERSION_NONE;
	if (encoding == PG_UTF8 || encoding == PG_SQL_ASCII ||
		!IsTransactionState())
		return;
	proc = FindDefaultConversionProc(encoding, PG_UTF8);
	if (OidIsValid(proc))
	{
		fmgr_info_cxt(proc, &to_utf8_proc, TopMemoryContext);
		to_utf8_state = CONVERSION_READY;
	}
}

/*
 * Whether the conversion to UTF-8 is ready (see pgxt_tag_backend_init).
 */
static inline bool
to_utf8_ready(void)
{
	return to_utf8_state == CONVERSION_READY;
}

#if PG_VERSION_NUM >= 140000
/*
 * Convert one valid character of len bytes, NUL-terminated, from the
 * database encoding to UTF-8 into dst (4 * len + 1 bytes).  Returns the
 * length of the result, or -1 if the character has no UTF-8 form.  The
 * conversion must be ready.
 */
static int
char_to_utf8(const char *src, int len, char *dst)
{
	int			done;

	done = DatumGetInt32(FunctionCall6(&to_utf8_proc,
									   Int32GetDatum(GetDatabaseEncoding()),
									   Int32GetDatum(PG_UTF8),
									   CStringGetDatum(src),
									   CStringGetDatum(dst),
									   Int32GetDatum(len),
									   BoolGetDatum(true)));
	return done == len ? (int) strlen(dst) : -1;
}
#else
/*
 * Before 14 a conversion function has no "noError" argument: a character
 * without a UTF-8 form would raise an error, which must not happen here
 * (this may run while an error is being reported).  Characters are not
 * converted there: their bytes are written %XX.
 */
static int
char_to_utf8(const char *src, int len, char *dst)
{
	return -1;
}
#endif

/*
 * Append a value's characters to sink, in UTF-8.  next gives the value's
 * bytes (-1 at its end).  A NUL, or a character that is not valid in the
 * database encoding, makes the value invalid (returns false) unless
 * escape_invalid, or in a SQL_ASCII database, where its first byte is
 * written %XX and the bytes after it are read again.  A SQL_ASCII
 * database's bytes count as UTF-8 when they are valid UTF-8.  Without a
 * conversion to UTF-8 (none for the encoding, or not looked up: see
 * pgxt_tag_backend_init), a character's bytes are written %XX.
 */
static bool
sink_value(TagSink *sink, ValueReader *reader, int (*next) (ValueReader *),
		   bool escape_invalid)
{
	int			encoding = GetDatabaseEncoding();
	int			verify_as = encoding == PG_SQL_ASCII ? PG_UTF8 : encoding;
	unsigned char pending[MAX_MULTIBYTE_CHAR_LEN];
	int			npending = 0;

	if (encoding == PG_SQL_ASCII)
		escape_invalid = true;

	for (;;)
	{
		char		ch[MAX_MULTIBYTE_CHAR_LEN + 1];
		int			c;
		int			len;
		int			have;

		if (npending > 0)
		{
			c = pending[0];
			memmove(pending, pending + 1, --npending);
		}
		else
			c = next(reader);
		if (c < 0)
			return true;
		if (c == 0)
		{
			if (!escape_invalid)
				return false;
			sink_escape(sink, 0);
			continue;
		}
		if (c < 0x80)
		{
			ch[0] = (char) c;
			sink_unit(sink, ch, 1);
			continue;
		}

		/* a multibyte character: its bytes, then check them */
		memset(ch, 0, sizeof(ch));
		ch[0] = (char) c;
		len = pg_encoding_mblen(verify_as, ch);
		if (len < 1 || len > MAX_MULTIBYTE_CHAR_LEN)
			len = 1;
		for (have = 1; have < len; have++)
		{
			int			d;

			if (npending > 0)
			{
				d = pending[0];
				memmove(pending, pending + 1, --npending);
			}
			else
				d = next(reader);
			if (d < 0)
				break;
			ch[have] = (char) d;
		}
		if (have == len &&
			pgxt_encoding_verifymbstr(verify_as, ch, len) == len)
		{
			char		utf8[4 * MAX_MULTIBYTE_CHAR_LEN + 1];
			int			ulen;
			int			i;

			if (verify_as == PG_UTF8)
			{
				sink_unit(sink, ch, len);
				continue;
			}
			ulen = to_utf8_ready() ? char_to_utf8(ch, len, utf8) : -1;
			if (ulen > 0)
			{
				sink_unit(sink, utf8, ulen);
				continue;
			}
			for (i = 0; i < len; i++)
				sink_escape(sink, (unsigned char) ch[i]);
			continue;
		}
		if (!escape_invalid)
			return false;
		sink_escape(sink, (unsigned char) ch[0]);
		/* read the bytes after the first again */
		memmove(pending + (have - 1), pending, npending);
		memcpy(pending, ch + 1, have - 1);
		npending += have - 1;
	}
}

/*
 * True if a value's bytes are all ASCII and stand for themselves (no
 * escape or '%' in a quoted value): the common case, appended in bulk.
 */
static inline bool
plain_ascii(const ValueReader *reader)
{
	const char *p;

	for (p = reader->p; p < reader->end; p++)
	{
		if (IS_HIGHBIT_SET(*p) ||
			(reader->quoted && (*p == '\\' || *p == '%')))
			return false;
	}
	return true;
}

/*
 * Build the tag of one alternative of spec from the values of a comment,
 * into out.  Returns false if a key has no value, or a value is empty or
 * invalid.
 */
static bool
alternative_tag(const TagSpec *spec, int alt, const ValueSpan *values,
				char *out, int outsize)
{
	TagSink		sink;
	int			first = spec->alt_first[alt];
	int			i;

	sink_init(&sink, outsize - 1);
	for (i = first; i < first + spec->alt_nkeys[alt]; i++)
	{
		ValueReader reader;
		int64		before;

		if (!values[i].found)
			return false;
		if (i > first)
			sink_unit(&sink, &spec->joiner[i], 1);
		reader.p = values[i].start;
		reader.end = values[i].end;
		reader.quoted = values[i].quoted;
		before = sink.total;
		if (plain_ascii(&reader))
			sink_ascii(&sink, reader.p, reader.end - reader.p);
		else if (!sink_value(&sink, &reader, value_next, false))
			return false;
		if (sink.total == before)
			return false;
	}
	return sink_finish(&sink, out);
}

/*
 * Try the block comment at [comment, comment_end): the first alternative
 * of spec that it gives a tag for.
 */
static bool
comment_tag(const char *comment, const char *comment_end,
			const TagSpec *spec, char *out, int outsize)
{
	ValueSpan	values[MAX_KEYS];
	const char *body = comment + 2;
	const char *body_end = comment_end - 2;
	const char *p;
	int			alt;

	/* a nested comment is not a list of pairs */
	for (p = body; p + 1 < body_end; p++)
	{
		if (p[0] == '/' && p[1] == '*')
			return false;
	}
	if (!parse_body(body, body_end, spec, values))
		return false;
	for (alt = 0; alt < spec->nalts; alt++)
	{
		if (alternative_tag(spec, alt, values, out, outsize))
			return true;
	}
	return false;
}

/*
 * Try the block comments of a run [from, to) of whitespace, comments and
 * semicolons, in order.  known, if not NULL, is one of them, already
 * skipped once.
 */
static bool
run_tag(const char *from, const char *to, const CommentSpan *known,
		const TagSpec *spec, char *out, int outsize)
{
	const char *p = from;

	while (p < to)
	{
		if (p[0] == '/' && p + 1 < to && p[1] == '*')
		{
			const char *comment = p;

			if (known != NULL && p == known->start)
				p = known->end;
			else
				p = skip_block_comment(p, to);
			if (p == NULL)
				return false;
			if (comment_tag(comment, p, spec, out, outsize))
				return true;
		}
		else if (p[0] == '-' && p + 1 < to && p[1] == '-')
		{
			while (p < to && *p != '\n' && *p != '\r')
				p++;
		}
		else
			p++;				/* whitespace or ';' */
	}
	return false;
}

/*
 * Read the tag from the comments around the statement at [location,
 * location + length) of text (length 0: to the end; location -1: the
 * whole text), as the file's header describes.  key is the setting
 * tag_comment_key: its parsed form is used when it is the setting in force,
 * else it is parsed here.  On success, out (outsize bytes, at least 16)
 * holds the stored form of the tag; returns false otherwise.
 */
bool
pgxt_comment_tag(const char *text, int location, int length,
				 const char *key, char *out, int outsize)
{
	TagSpec		local_spec;
	const TagSpec *spec;
	const char *stmt;
	const char *end;
	const char *lead_start;
	const char *lead_end = NULL;
	const char *trail_start = NULL;
	const char *trail_end;
	const char *p;
	const char *error;
	CommentSpan first_trailing;
	bool		lead_opens = false;
	bool		trail_closes = false;
	bool		seen_nonspace = false;

	if (text == NULL || key == NULL || outsize < 16)
		return false;
	if (key == active_key_value && active_spec != NULL)
		spec = active_spec;
	else
	{
		char		message[256];

		if (!parse_key_spec(key, &local_spec, message, sizeof(message)))
			return false;
		spec = &local_spec;
	}
	if (spec->nalts == 0)
		return false;
	if (unlikely(!char_class_ready))
		init_char_class();

	if (location < 0)
	{
		location = 0;
		length = 0;
	}
	stmt = text + location;
	end = length > 0 ? stmt + length : stmt + strlen(stmt);

	/* the leading run, up to the first token */
	lead_start = leading_run_start(text, stmt);
	p = lead_start;
	for (;;)
	{
		unsigned char c;

		while (p < end && char_class[(unsigned char) *p] == CH_SPACE)
			p++;
		if (p >= end)
			return false;		/* no statement */
		c = (unsigned char) *p;
		if (c == ';')
		{
			lead_start = ++p;
			lead_opens = false;
			seen_nonspace = false;
		}
		else if (c == '/' && p + 1 < end && p[1] == '*')
		{
			if (!seen_nonspace)
				lead_opens = true;
			seen_nonspace = true;
			p = skip_block_comment(p, end);
			if (p == NULL)
				return false;
		}
		else if (c == '-' && p + 1 < end && p[1] == '-')
		{
			seen_nonspace = true;
			while (p < end && *p != '\n' && *p != '\r')
				p++;
		}
		else
			break;				/* the first token */
	}
	lead_end = p;

	/* the trailing run: after the last token, closing with a comment */
	error = scan_to_end(text, p, end, &trail_start, &trail_closes,
						&first_trailing);
	if (error == lead_end)
		return false;			/* no statement: its first token is broken */
	if (error != NULL)
		trail_start = NULL;
	trail_end = end;
	if (trail_start != NULL && *end != '\0')
	{
		/* the last statement's run goes on past its ';' */
		bool		last = true;
		bool		closes = trail_closes;

		p = end;
		while (*p == ';' || char_class[(unsigned char) *p] == CH_SPACE)
			p++;
		if (*p != '\0')
		{
			const char *string_end = p + strlen(p);

			while (last)
			{
				LexKind		kind = lex_next(text, &p, string_end);

				if (kind == LEX_END)
					break;
				if (kind == LEX_TOKEN || kind == LEX_ERROR)
					last = false;
				else if (kind == LEX_BLOCK_COMMENT ||
						 kind == LEX_LINE_COMMENT)
					closes = (kind == LEX_BLOCK_COMMENT);
			}
		}
		if (last)
		{
			trail_end = p;
			trail_closes = closes;
		}
	}

	if (lead_opens &&
		run_tag(lead_start, lead_end, NULL, spec, out, outsize))
		return true;
	if (trail_start != NULL && trail_closes &&
		run_tag(trail_start, trail_end, &first_trailing, spec, out, outsize))
		return true;
	return false;
}

/*
 * Next byte of a setting's value, a C string, or -1.
 */
static int
cstring_next(ValueReader *r)
{
	if (r->p >= r->end)
		return -1;
	return (unsigned char) *r->p++;
}

/*
 * Stored form of the value of the tag setting, into out (outsize bytes,
 * at least 16): converted to UTF-8, invalid bytes written %XX, cut with a
 * hash suffix if too long (see tag.h).  The caller calls this only when
 * the setting changed.
 */
void
pgxt_tag_from_setting(const char *value, char *out, int outsize)
{
	TagSink		sink;
	ValueReader reader;

	out[0] = '\0';
	if (value == NULL || value[0] == '\0' || outsize < 16)
		return;
	reader.p = value;
	reader.end = value + strlen(value);
	reader.quoted = false;
	sink_init(&sink, outsize - 1);
	(void) sink_value(&sink, &reader, cstring_next, true);
	(void) sink_finish(&sink, out);
}

/*
 * A stored tag for the database reading it: as it is in a UTF-8 or
 * SQL_ASCII database, with its non-ASCII bytes written %XX in any other
 * (and, whatever the database, any byte that is not valid UTF-8, which a
 * tag stored by an older version may hold).  Returns tag itself or a
 * string allocated in the current memory context.  For a tag sent in a
 * message, too.
 */
const char *
pgxt_tag_cstring(const char *tag)
{
	int			encoding = GetDatabaseEncoding();
	int			len = strlen(tag);
	const char *p;
	char	   *buf;
	int			n = 0;

	for (p = tag; *p; p++)
	{
		if (IS_HIGHBIT_SET(*p))
			break;
	}
	if (*p == '\0' || encoding == PG_SQL_ASCII ||
		(encoding == PG_UTF8 &&
		 pgxt_encoding_verifymbstr(PG_UTF8, tag, len) == len))
		return tag;

	buf = palloc(3 * len + 1);
	p = tag;
	while (*p)
	{
		int			clen = 0;

		if (!IS_HIGHBIT_SET(*p))
			clen = 1;
		else if (encoding == PG_UTF8)
		{
			clen = pg_utf_mblen((const unsigned char *) p);
			if (clen > len - (p - tag) ||
				pgxt_encoding_verifymbstr(PG_UTF8, p, clen) != clen)
				clen = 0;
		}
		if (clen > 0)
		{
			memcpy(buf + n, p, clen);
			n += clen;
			p += clen;
		}
		else
		{
			buf[n++] = '%';
			buf[n++] = "0123456789ABCDEF"[(unsigned char) *p >> 4];
			buf[n++] = "0123456789ABCDEF"[(unsigned char) *p & 15];
			p++;
		}
	}
	buf[n] = '\0';
	return buf;
}

/*
 * pgxt_tag_cstring as a text Datum, for a view's tag column.  Allocates in
 * the current memory context.
 */
Datum
pgxt_tag_datum(const char *tag)
{
	return CStringGetTextDatum(pgxt_tag_cstring(tag));
}

/*
 * GUC check hook of postgres_extension.tag: any value is accepted; it is
 * converted and cut when a transaction takes it (pgxt_tag_from_setting).
 */
bool
pgxt_tag_check_hook(char **newval, void **extra, GucSource source)
{
	return true;
}

/*
 * GUC check hook of postgres_extension.tag_comment_key: parse the value
 * into *extra (see the file's header for its syntax), or reject it.
 */
bool
pgxt_tag_comment_key_check_hook(char **newval, void **extra, GucSource source)
{
	TagSpec		spec;
	char		error[256];
	void	   *copy;

	if (!parse_key_spec(*newval ? *newval : "", &spec, error, sizeof(error)))
	{
		GUC_check_errdetail("%s", error);
		GUC_check_errhint("For example 'tag', 'route' or 'controller#action, job'.");
		return false;
	}
	copy = pgxt_guc_extra_alloc(sizeof(TagSpec));
	if (copy == NULL)
		return false;
	memcpy(copy, &spec, sizeof(TagSpec));
	*extra = copy;
	return true;
}

/*
 * GUC assign hook of postgres_extension.tag_comment_key: remember the
 * value in force and its parsed form, for pgxt_comment_tag.
 */
void
pgxt_tag_comment_key_assign_hook(const char *newval, void *extra)
{
	active_key_value = newval;
	active_spec = (const TagSpec *) extra;
}

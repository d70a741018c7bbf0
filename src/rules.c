/*-------------------------------------------------------------------------
 *
 * rules.c
 *		Parser and evaluator for postgres_extension.timeout_rules, the rule
 *		language that tells the idle-in-transaction watchdog which limits
 *		apply to a session.
 *
 * A rule list looks like
 *
 *		app=slack-* idle=2s; tag=report.* xact=10min; role=etl idle=off
 *
 * Rules are separated by ';' (empty rules are skipped) and the items of a
 * rule by whitespace.  The matchers app=, tag=, role= and db= take a glob in
 * which '*' matches any run of bytes and every other byte matches itself.
 * A value may be written in double quotes to hold spaces or ';', with ""
 * standing for one double quote.  The limits idle= and xact= take "off" or
 * a non-negative integer with unit ms, s, min or h (a bare number is ms, and
 * 0 is off).  For each limit separately, the first rule whose matchers all
 * match and that names the limit decides it.
 *
 * This file owns the parsing into a PgxtRuleSet, the glob matcher and the
 * evaluation.  It throws no error and allocates only the parsed set, in
 * the memory a GUC check hook's extra must live in, so that it can run in
 * a check hook; the GUC hooks themselves live elsewhere.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/rules.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "compat.h"
#include "rules.h"

/* Longest item or value quoted back in an error message, in bytes. */
#define QUOTED_ITEM_MAX 64

/*
 * One whitespace-separated item of a rule, as found by scan_item: "key",
 * "key=value" or "key="quoted value"".  The pointers point into the source
 * string.
 */
typedef struct RuleItem
{
	const char *start;			/* first byte of the item */
	const char *end;			/* one past its last byte */
	const char *key_end;		/* the '=', or end if there is none */
	bool		has_equals;
	const char *value_start;	/* after the '=' or the opening quote */
	const char *value_end;		/* before the closing quote, if any */
	bool		quoted;
	bool		unterminated;	/* quoted value without a closing quote */
	bool		junk_after_quote;	/* bytes follow the closing quote */
} RuleItem;

/* The keys an item may have. */
typedef enum RuleKey
{
	RULE_KEY_UNKNOWN,
	RULE_KEY_APP,
	RULE_KEY_TAG,
	RULE_KEY_ROLE,
	RULE_KEY_DB,
	RULE_KEY_IDLE,
	RULE_KEY_XACT
} RuleKey;

/* Outcome of parsing the value of idle= or xact=. */
typedef enum LimitParseResult
{
	LIMIT_OK,
	LIMIT_INVALID,
	LIMIT_OUT_OF_RANGE
} LimitParseResult;

/* The rule being parsed, and where to report what is wrong with it. */
typedef struct RuleParseState
{
	int			ruleno;			/* 1-based, counting non-empty rules */
	const char *text_start;		/* trimmed source text of the rule */
	const char *text_end;
	char	   *errbuf;
	size_t		errbuflen;
} RuleParseState;

static void report_rule_error(const RuleParseState *state,
							  const char *fmt,...) pg_attribute_printf(2, 3);

/*
 * Return true for the bytes that separate items.  Deliberately not
 * isspace(), whose answer depends on the locale.
 */
static bool
is_rule_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\f' || c == '\v';
}

/*
 * Return how many of the len bytes at s to keep so that at most max bytes
 * remain and no UTF-8 character is cut in half.
 */
static int
clip_utf8(const char *s, int len, int max)
{
	int			keep;

	if (len <= max)
		return len;
	keep = max;
	while (keep > 0 && ((unsigned char) s[keep] & 0xC0) == 0x80)
		keep--;
	return keep;
}

/*
 * If a message was truncated to fit its buffer, drop the UTF-8 character
 * that the truncation cut in half at its end, if any.
 */
static void
drop_cut_utf8_tail(char *buf)
{
	size_t		len = strlen(buf);
	size_t		lead = len;
	unsigned char lead_byte;
	size_t		char_len;

	while (lead > 0 && len - lead < 4 &&
		   ((unsigned char) buf[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0)
		return;
	lead_byte = (unsigned char) buf[lead - 1];
	if (lead_byte >= 0xF0)
		char_len = 4;
	else if (lead_byte >= 0xE0)
		char_len = 3;
	else if (lead_byte >= 0xC0)
		char_len = 2;
	else
		return;
	if (len - (lead - 1) < char_len)
		buf[lead - 1] = '\0';
}

/*
 * Write a message that does not concern one rule into errbuf.
 */
static void
report_error(char *errbuf, size_t errbuflen, const char *message)
{
	if (errbuf == NULL || errbuflen == 0)
		return;
	strlcpy(errbuf, message, errbuflen);
}

/*
 * Write "rule N ("text"): " followed by the formatted message into the
 * state's errbuf.  The rule text is clipped like the copy kept in PgxtRule,
 * with "..." added when something was cut off.
 */
static void
report_rule_error(const RuleParseState *state, const char *fmt,...)
{
	int			text_len = (int) (state->text_end - state->text_start);
	int			shown_len = clip_utf8(state->text_start, text_len,
									  PGXT_RULE_TEXT_MAX - 1);
	int			prefix_len;
	int			message_len;
	va_list		args;

	if (state->errbuf == NULL || state->errbuflen == 0)
		return;

	prefix_len = snprintf(state->errbuf, state->errbuflen,
						  "rule %d (\"%.*s%s\"): ",
						  state->ruleno, shown_len, state->text_start,
						  shown_len < text_len ? "..." : "");
	if (prefix_len < 0 || (size_t) prefix_len >= state->errbuflen)
	{
		drop_cut_utf8_tail(state->errbuf);
		return;
	}

	va_start(args, fmt);
	message_len = vsnprintf(state->errbuf + prefix_len,
							state->errbuflen - prefix_len, fmt, args);
	va_end(args);
	if (message_len < 0 ||
		(size_t) message_len >= state->errbuflen - prefix_len)
		drop_cut_utf8_tail(state->errbuf);
}

/*
 * Scan the item that starts at p, which must not be whitespace, ';' or the
 * end of the string, and describe it in *item.
 *
 * The key runs up to the first '='.  A value that starts with a double
 * quote runs to the matching closing quote, "" standing for a quote inside
 * it; any other value runs to the next whitespace, ';' or end of string.
 * An unterminated quote makes the item run to the end of the string.
 */
static void
scan_item(const char *p, RuleItem *item)
{
	memset(item, 0, sizeof(RuleItem));
	item->start = p;

	while (*p != '\0' && *p != ';' && *p != '=' && !is_rule_space(*p))
		p++;
	item->key_end = p;

	if (*p != '=')
	{
		item->value_start = item->value_end = item->end = p;
		return;
	}
	item->has_equals = true;
	p++;

	if (*p != '"')
	{
		item->value_start = p;
		while (*p != '\0' && *p != ';' && !is_rule_space(*p))
			p++;
		item->value_end = item->end = p;
		return;
	}

	item->quoted = true;
	p++;
	item->value_start = p;
	for (;;)
	{
		if (*p == '\0')
		{
			item->unterminated = true;
			item->value_end = item->end = p;
			return;
		}
		if (*p == '"')
		{
			if (p[1] != '"')
				break;
			p++;
		}
		p++;
	}
	item->value_end = p;
	p++;						/* the closing quote */

	if (*p != '\0' && *p != ';' && !is_rule_space(*p))
	{
		item->junk_after_quote = true;
		while (*p != '\0' && *p != ';' && !is_rule_space(*p))
			p++;
	}
	item->end = p;
}

/*
 * Find the extent of the rule that starts at p.  Sets *text_start and
 * *text_end to its text without surrounding whitespace (equal when the rule
 * is empty) and returns a pointer to the ';' or the NUL that ends it.
 */
static const char *
find_rule_end(const char *p, const char **text_start, const char **text_end)
{
	while (is_rule_space(*p))
		p++;
	*text_start = p;
	*text_end = p;

	while (*p != '\0' && *p != ';')
	{
		if (is_rule_space(*p))
			p++;
		else
		{
			RuleItem	item;

			scan_item(p, &item);
			p = item.end;
			*text_end = p;
		}
	}
	return p;
}

/*
 * Return the key of an item from the bytes before its '='.
 */
static RuleKey
lookup_key(const char *key, int key_len)
{
	static const struct
	{
		const char *name;
		RuleKey		key;
	}			keys[] =
	{
		{"app", RULE_KEY_APP},
		{"tag", RULE_KEY_TAG},
		{"role", RULE_KEY_ROLE},
		{"db", RULE_KEY_DB},
		{"idle", RULE_KEY_IDLE},
		{"xact", RULE_KEY_XACT},
	};
	size_t		i;

	for (i = 0; i < lengthof(keys); i++)
	{
		if (strlen(keys[i].name) == (size_t) key_len &&
			memcmp(keys[i].name, key, key_len) == 0)
			return keys[i].key;
	}
	return RULE_KEY_UNKNOWN;
}

/*
 * Copy the value of a matcher item into glob, which holds
 * PGXT_RULE_GLOB_MAX bytes, turning "" into " in a quoted value.  Returns
 * the length of the whole value, which may be more than what fitted.
 */
static int
decode_glob(const RuleItem *item, char *glob)
{
	const char *p = item->value_start;
	int			len = 0;

	while (p < item->value_end)
	{
		if (item->quoted && *p == '"')
			p++;				/* first quote of a "" pair */
		if (len < PGXT_RULE_GLOB_MAX - 1)
			glob[len] = *p;
		len++;
		p++;
	}
	glob[Min(len, PGXT_RULE_GLOB_MAX - 1)] = '\0';
	return len;
}

/*
 * Parse the value of idle= or xact=: "off" in any case, or a non-negative
 * integer followed by ms, s, min or h, or by nothing for ms.  On success
 * stores the limit in ms (0 = off) into *limit_ms.
 */
static LimitParseResult
parse_limit(const char *value, int len, int *limit_ms)
{
	static const struct
	{
		const char *name;
		int64		ms;
	}			units[] =
	{
		{"", 1},
		{"ms", 1},
		{"s", 1000},
		{"min", 60 * 1000},
		{"h", 60 * 60 * 1000},
	};
	int64		number = 0;
	bool		too_big = false;
	int			ndigits = 0;
	size_t		i;

	if (len == 3 && pg_strncasecmp(value, "off", 3) == 0)
	{
		*limit_ms = 0;
		return LIMIT_OK;
	}

	while (ndigits < len && value[ndigits] >= '0' && value[ndigits] <= '9')
	{
		if (!too_big)
		{
			number = number * 10 + (value[ndigits] - '0');
			too_big = number > INT_MAX;
		}
		ndigits++;
	}
	if (ndigits == 0)
		return LIMIT_INVALID;

	for (i = 0; i < lengthof(units); i++)
	{
		if (strlen(units[i].name) == (size_t) (len - ndigits) &&
			memcmp(units[i].name, value + ndigits, len - ndigits) == 0)
		{
			if (too_big || number * units[i].ms > INT_MAX)
				return LIMIT_OUT_OF_RANGE;
			*limit_ms = (int) (number * units[i].ms);
			return LIMIT_OK;
		}
	}
	return LIMIT_INVALID;
}

/*
 * Apply one item to *rule.  Returns false after reporting the error if the
 * item is invalid or repeats a key.
 */
static bool
apply_item(const RuleParseState *state, const RuleItem *item, PgxtRule *rule)
{
	int			item_len = (int) (item->end - item->start);
	int			value_len = (int) (item->value_end - item->value_start);
	int			key_len = (int) (item->key_end - item->start);
	RuleKey		key = RULE_KEY_UNKNOWN;
	char	   *glob = NULL;
	bool	   *has_glob = NULL;
	int		   *limit_ms = NULL;

	if (item->has_equals)
		key = lookup_key(item->start, key_len);

	switch (key)
	{
		case RULE_KEY_UNKNOWN:
			{
				int			shown_len = clip_utf8(item->start, item_len,
												  QUOTED_ITEM_MAX);

				report_rule_error(state,
								  "unknown item \"%.*s%s\": expected app=, tag=, role=, db=, idle= or xact=",
								  shown_len, item->start,
								  shown_len < item_len ? "..." : "");
				return false;
			}
		case RULE_KEY_APP:
			glob = rule->app;
			has_glob = &rule->has_app;
			break;
		case RULE_KEY_TAG:
			glob = rule->tag;
			has_glob = &rule->has_tag;
			break;
		case RULE_KEY_ROLE:
			glob = rule->role;
			has_glob = &rule->has_role;
			break;
		case RULE_KEY_DB:
			glob = rule->db;
			has_glob = &rule->has_db;
			break;
		case RULE_KEY_IDLE:
			limit_ms = &rule->idle_ms;
			break;
		case RULE_KEY_XACT:
			limit_ms = &rule->xact_ms;
			break;
	}

	/* From here on, the key is known: it is the key_len bytes at start. */
	if (item->unterminated)
	{
		report_rule_error(state, "unterminated quoted value for %.*s: add a closing \"",
						  key_len, item->start);
		return false;
	}
	if (item->junk_after_quote)
	{
		report_rule_error(state, "unexpected text after the closing quote of the value for %.*s",
						  key_len, item->start);
		return false;
	}
	if ((has_glob != NULL && *has_glob) || (limit_ms != NULL && *limit_ms >= 0))
	{
		report_rule_error(state, "%.*s given twice", key_len, item->start);
		return false;
	}

	if (has_glob != NULL)
	{
		int			glob_len = decode_glob(item, glob);

		if (glob_len == 0)
		{
			report_rule_error(state, "empty value for %.*s: use %.*s=* to match anything",
							  key_len, item->start,
							  key_len, item->start);
			return false;
		}
		if (glob_len > PGXT_RULE_GLOB_MAX - 1)
		{
			report_rule_error(state, "value for %.*s is too long: %d bytes, at most %d",
							  key_len, item->start,
							  glob_len, PGXT_RULE_GLOB_MAX - 1);
			return false;
		}
		*has_glob = true;
	}
	else
	{
		LimitParseResult result = parse_limit(item->value_start, value_len,
											  limit_ms);

		if (result != LIMIT_OK)
		{
			int			shown_len = clip_utf8(item->value_start, value_len,
											  QUOTED_ITEM_MAX);

			if (result == LIMIT_OUT_OF_RANGE)
				report_rule_error(state,
								  "value \"%.*s%s\" for %.*s is out of range: at most %d ms (about %d h)",
								  shown_len, item->value_start,
								  shown_len < value_len ? "..." : "",
								  key_len, item->start,
								  INT_MAX, INT_MAX / (60 * 60 * 1000));
			else
				report_rule_error(state,
								  "invalid value \"%.*s%s\" for %.*s: expected off or a number with unit ms, s, min or h",
								  shown_len, item->value_start,
								  shown_len < value_len ? "..." : "",
								  key_len, item->start);
			return false;
		}
	}
	return true;
}

/*
 * Parse the non-empty rule whose trimmed text the state points at into
 * *rule.  Returns false after reporting the error if the rule is invalid.
 */
static bool
parse_rule(const RuleParseState *state, PgxtRule *rule)
{
	const char *p = state->text_start;
	int			text_len = clip_utf8(state->text_start,
									 (int) (state->text_end - state->text_start),
									 PGXT_RULE_TEXT_MAX - 1);

	memset(rule, 0, sizeof(PgxtRule));
	rule->idle_ms = -1;
	rule->xact_ms = -1;
	memcpy(rule->text, state->text_start, text_len);
	rule->text[text_len] = '\0';

	while (p < state->text_end)
	{
		if (is_rule_space(*p))
			p++;
		else
		{
			RuleItem	item;

			scan_item(p, &item);
			if (!apply_item(state, &item, rule))
				return false;
			p = item.end;
		}
	}

	if (rule->idle_ms < 0 && rule->xact_ms < 0)
	{
		report_rule_error(state, "no limit: add idle= or xact=");
		return false;
	}
	return true;
}

/*
 * Parse a timeout_rules string.  On success returns the rules in one block
 * of pgxt_guc_extra_alloc, fit to be a GUC check hook's extra (released
 * with pgxt_guc_extra_free when kept by nobody), and leaves errbuf empty; NULL
 * or an empty string gives a set without rules.  On failure returns NULL
 * and describes the first error in errbuf.
 */
PgxtRuleSet *
pgxt_rules_parse(const char *src, char *errbuf, size_t errbuflen)
{
	const char *p;
	const char *text_start;
	const char *text_end;
	int			nrules = 0;
	PgxtRuleSet *set;

	if (errbuf != NULL && errbuflen > 0)
		errbuf[0] = '\0';
	if (src == NULL)
		src = "";

	/* First pass: count the non-empty rules, to allocate the set at once. */
	p = src;
	for (;;)
	{
		p = find_rule_end(p, &text_start, &text_end);
		if (text_end > text_start)
			nrules++;
		if (*p == '\0')
			break;
		p++;
	}

	if (nrules > PGXT_RULES_MAX)
	{
		char		message[64];

		snprintf(message, sizeof(message), "too many rules (%d); at most %d",
				 nrules, PGXT_RULES_MAX);
		report_error(errbuf, errbuflen, message);
		return NULL;
	}
	set = pgxt_guc_extra_alloc(offsetof(PgxtRuleSet, rules) +
							   nrules * sizeof(PgxtRule));
	if (set == NULL)
	{
		report_error(errbuf, errbuflen, "out of memory");
		return NULL;
	}
	set->nrules = 0;

	/* Second pass: parse each non-empty rule. */
	p = src;
	for (;;)
	{
		p = find_rule_end(p, &text_start, &text_end);
		if (text_end > text_start)
		{
			RuleParseState state;

			state.ruleno = set->nrules + 1;
			state.text_start = text_start;
			state.text_end = text_end;
			state.errbuf = errbuf;
			state.errbuflen = errbuflen;
			if (!parse_rule(&state, &set->rules[set->nrules]))
			{
				pgxt_guc_extra_free(set);
				return NULL;
			}
			set->nrules++;
		}
		if (*p == '\0')
			break;
		p++;
	}
	return set;
}

/*
 * Return whether s matches pattern, in which '*' matches any run of bytes
 * and every other byte matches itself.  A NULL s is treated as "".
 *
 * Greedy matching that remembers only the last '*' seen: when a literal
 * fails to match, the last '*' is made to swallow one more byte and
 * matching resumes after it.  Backtracking to earlier stars is never
 * needed, so the time is O(len(pattern) * len(s)) at worst.
 */
static bool
glob_match(const char *pattern, const char *s)
{
	const char *after_star = NULL;	/* pattern just after the last '*' */
	const char *star_match_end = NULL;	/* end of what that '*' swallows */

	if (s == NULL)
		s = "";

	while (*s != '\0')
	{
		if (*pattern == '*')
		{
			after_star = ++pattern;
			star_match_end = s;
		}
		else if (*pattern == *s)
		{
			pattern++;
			s++;
		}
		else if (after_star != NULL)
		{
			pattern = after_star;
			s = ++star_match_end;
		}
		else
			return false;
	}

	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

/*
 * Return whether every matcher of rule matches the session.
 */
static bool
rule_matches(const PgxtRule *rule, const char *app, const char *tag,
			 const char *role, const char *db)
{
	return (!rule->has_app || glob_match(rule->app, app)) &&
		(!rule->has_tag || glob_match(rule->tag, tag)) &&
		(!rule->has_role || glob_match(rule->role, role)) &&
		(!rule->has_db || glob_match(rule->db, db));
}

/*
 * Work out the idle and xact limits of a session from its application
 * name, tag, role and database (NULL counts as "").  For each limit, the
 * first matching rule that names it decides; if none does, the default
 * applies.  set may be NULL, meaning no rules.
 */
void
pgxt_rules_match(const PgxtRuleSet *set, const char *app, const char *tag,
				 const char *role, const char *db,
				 int default_idle_ms, int default_xact_ms, PgxtLimits *out)
{
	int			i;

	out->idle_ms = default_idle_ms;
	out->xact_ms = default_xact_ms;
	out->idle_rule = -1;
	out->xact_rule = -1;

	if (set == NULL)
		return;

	for (i = 0; i < set->nrules; i++)
	{
		const PgxtRule *rule = &set->rules[i];

		if (out->idle_rule >= 0 && out->xact_rule >= 0)
			break;
		if (!rule_matches(rule, app, tag, role, db))
			continue;
		if (out->idle_rule < 0 && rule->idle_ms >= 0)
		{
			out->idle_ms = rule->idle_ms;
			out->idle_rule = i;
		}
		if (out->xact_rule < 0 && rule->xact_ms >= 0)
		{
			out->xact_ms = rule->xact_ms;
			out->xact_rule = i;
		}
	}
}

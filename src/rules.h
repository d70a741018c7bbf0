/*-------------------------------------------------------------------------
 *
 * rules.h
 *		Parsed form of postgres_extension.timeout_rules and the functions
 *		that parse it and pick the limits that apply to a session.
 *
 * The functions throw no error and allocate nothing but the parsed set
 * (see compat.h's pgxt_guc_extra_alloc), so they can be called from a GUC
 * check hook.
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		src/rules.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_RULES_H
#define PGXT_RULES_H

#include "postgres_extension.h"

#define PGXT_RULE_TEXT_MAX 128
#define PGXT_RULE_GLOB_MAX 64	/* globs longer than 63 bytes: error */

/*
 * Most rules a setting may hold.  A session's limits are matched against
 * them whenever its names change (each transaction, when tags vary), so
 * their number bounds that cost.
 */
#define PGXT_RULES_MAX 100

typedef struct PgxtRule
{
	char		app[PGXT_RULE_GLOB_MAX];	/* "" = not given */
	char		tag[PGXT_RULE_GLOB_MAX];
	char		role[PGXT_RULE_GLOB_MAX];
	char		db[PGXT_RULE_GLOB_MAX];
	bool		has_app,
				has_tag,
				has_role,
				has_db;
	int			idle_ms;		/* -1 = not named by this rule, 0 = off, > 0 =
								 * limit */
	int			xact_ms;		/* likewise */
	char		text[PGXT_RULE_TEXT_MAX];
} PgxtRule;

typedef struct PgxtRuleSet
{
	int			nrules;
	PgxtRule	rules[FLEXIBLE_ARRAY_MEMBER];
} PgxtRuleSet;

typedef struct PgxtLimits
{
	int			idle_ms;		/* 0 = off */
	int			xact_ms;
	int			idle_rule;		/* index of deciding rule, -1 = default */
	int			xact_rule;
} PgxtLimits;

PGXT_BEGIN_INTERNAL

/*
 * Parse src. On success returns a set from pgxt_guc_extra_alloc (compat.h)
 * and leaves an empty string in errbuf. On failure returns NULL and writes
 * a message into errbuf (errbuflen bytes). Throws no error.
 */
extern PgxtRuleSet *pgxt_rules_parse(const char *src, char *errbuf, size_t errbuflen);
extern void pgxt_rules_match(const PgxtRuleSet *set, const char *app, const char *tag,
							 const char *role, const char *db,
							 int default_idle_ms, int default_xact_ms, PgxtLimits *out);

PGXT_END_INTERNAL

#endif							/* PGXT_RULES_H */

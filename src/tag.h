/*-------------------------------------------------------------------------
 *
 * tag.h
 *		Tags: validation of the postgres_extension.tag and tag_comment_key
 *		settings, and extraction of a tag from a sqlcommenter or marginalia
 *		comment in a statement's text.
 *
 * IDENTIFICATION
 *		src/tag.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGXT_TAG_H
#define PGXT_TAG_H

#include "utils/guc.h"

extern bool pgxt_comment_tag(const char *text, int location, int length,
							 const char *key, char *out, int outsize);
extern bool pgxt_tag_check_hook(char **newval, void **extra, GucSource source);
extern bool pgxt_tag_comment_key_check_hook(char **newval, void **extra,
											GucSource source);

#endif							/* PGXT_TAG_H */

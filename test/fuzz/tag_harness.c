/*-------------------------------------------------------------------------
 *
 * tag_harness.c
 *		Runs src/tag.c outside the server, for the fuzzer (tag_fuzz.pl):
 *		reads one command per line on stdin, answers one line on stdout.
 *
 * It includes tag.c itself (to reset its per-backend cache between
 * encodings) and stands in for the few server functions tag.c calls: the
 * database encoding, the transaction state, and a conversion to UTF-8 for
 * LATIN1 (each byte is its code point).  The multibyte routines come from
 * libpgcommon.  Strings are hex-encoded, "-" for an empty one.
 *
 *	 C enc scs tx loc len spec text	  pgxt_comment_possible and
 *									  pgxt_comment_tag: "P T", P 0 or 1,
 *									  T the tag or "-" for none
 *	 S enc tx value					  pgxt_tag_from_setting
 *	 R enc tag						  pgxt_tag_datum
 *	 K spec							  parse of tag_comment_key: "ok" or
 *									  "error" and the message (hex)
 *	 V								  PG_VERSION_NUM (before 14, no
 *									  conversion to UTF-8: escaped)
 * enc is UTF8, SQL_ASCII, LATIN1 or EUC_JP (no conversion: escaped), scs
 * is standard_conforming_strings (0 or 1), tx whether the conversion to
 * UTF-8 was looked up (pgxt_tag_backend_init; 0: not, bytes are escaped).
 *
 * Copyright (c) 2026, the postgres_extension developers
 *
 * IDENTIFICATION
 *		test/fuzz/tag_harness.c
 *
 *-------------------------------------------------------------------------
 */
#include "../../src/tag.c"

#include <stdio.h>
#include <stdlib.h>

#define LATIN1_CONVERSION_OID 1

bool		standard_conforming_strings = true;
MemoryContext TopMemoryContext = NULL;
char	   *GUC_check_errdetail_string = NULL;
char	   *GUC_check_errhint_string = NULL;
#if PG_VERSION_NUM < 140000
/* PG_TRY's variables (the conversion stub never raises) */
sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;
MemoryContext CurrentMemoryContext = NULL;

void
FlushErrorState(void)
{
}
#endif
static int	harness_encoding = PG_UTF8;
static bool harness_in_transaction = true;

int
GetDatabaseEncoding(void)
{
	return harness_encoding;
}

bool
IsTransactionState(void)
{
	return harness_in_transaction;
}

Oid
FindDefaultConversionProc(int32 for_encoding, int32 to_encoding)
{
	if (for_encoding == PG_LATIN1 && to_encoding == PG_UTF8)
		return LATIN1_CONVERSION_OID;
	return InvalidOid;
}

void
fmgr_info_cxt(Oid functionId, FmgrInfo *finfo, MemoryContext mcxt)
{
	memset(finfo, 0, sizeof(FmgrInfo));
	finfo->fn_oid = functionId;
}

/*
 * LATIN1 to UTF-8: each byte is its own code point.
 */
static int
latin1_to_utf8(const unsigned char *src, unsigned char *dst, int len)
{
	int			i;

	for (i = 0; i < len; i++)
	{
		if (src[i] < 0x80)
			*dst++ = src[i];
		else
		{
			*dst++ = 0xC0 | (src[i] >> 6);
			*dst++ = 0x80 | (src[i] & 0x3F);
		}
	}
	*dst = '\0';
	return len;
}

#if PG_VERSION_NUM >= 140000
Datum
FunctionCall6Coll(FmgrInfo *flinfo, Oid collation, Datum arg1, Datum arg2,
				  Datum arg3, Datum arg4, Datum arg5, Datum arg6)
{
	return Int32GetDatum(latin1_to_utf8((const unsigned char *) DatumGetPointer(arg3),
										(unsigned char *) DatumGetPointer(arg4),
										DatumGetInt32(arg5)));
}
#else
Datum
FunctionCall5Coll(FmgrInfo *flinfo, Oid collation, Datum arg1, Datum arg2,
				  Datum arg3, Datum arg4, Datum arg5)
{
	(void) latin1_to_utf8((const unsigned char *) DatumGetPointer(arg3),
						  (unsigned char *) DatumGetPointer(arg4),
						  DatumGetInt32(arg5));
	return (Datum) 0;
}
#endif

void
pre_format_elog_string(int errnumber, const char *domain)
{
}

char *
format_elog_string(const char *fmt,...)
{
	return NULL;
}

#if PG_VERSION_NUM >= 160000
void *
guc_malloc(int elevel, size_t size)
{
	return malloc(size);
}
#endif

text *
cstring_to_text_with_len(const char *s, int len)
{
	text	   *t = malloc(len + VARHDRSZ);

	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return t;
}

text *
cstring_to_text(const char *s)
{
	return cstring_to_text_with_len(s, strlen(s));
}

/*
 * Decode a hex field ("-": empty) into a malloc'd buffer; *len its length.
 */
static char *
unhex(const char *field, int *len)
{
	int			n = strlen(field);
	char	   *out = malloc(n / 2 + 1);
	int			i;

	*len = 0;
	if (strcmp(field, "-") != 0)
	{
		for (i = 0; i + 1 < n; i += 2)
			out[(*len)++] = (char) (hex_value(field[i]) * 16 +
									hex_value(field[i + 1]));
	}
	out[*len] = '\0';
	return out;
}

/*
 * Print bytes as hex, "-" when there are none.
 */
static void
print_hex(const char *s, int len)
{
	int			i;

	if (len == 0)
		fputs("-", stdout);
	for (i = 0; i < len; i++)
		printf("%02x", (unsigned char) s[i]);
}

/*
 * Set the database encoding and the transaction state; a new encoding
 * forgets the conversion looked up for the old one.
 */
static void
set_database(const char *name, int in_transaction)
{
	int			encoding = pg_char_to_encoding(name);

	if (encoding < 0)
	{
		fprintf(stderr, "unknown encoding %s\n", name);
		exit(2);
	}
	if (encoding != harness_encoding || !in_transaction)
		to_utf8_state = CONVERSION_UNKNOWN;
	harness_encoding = encoding;
	harness_in_transaction = in_transaction != 0;
	if (in_transaction)
		pgxt_tag_backend_init();
}

int
main(void)
{
	static char line[1 << 20];

	while (fgets(line, sizeof(line), stdin) != NULL)
	{
		char	   *field[8];
		int			nfields = 0;
		char	   *save = NULL;
		char	   *tok;

		for (tok = strtok_r(line, " \n", &save); tok && nfields < 8;
			 tok = strtok_r(NULL, " \n", &save))
			field[nfields++] = tok;
		if (nfields == 0)
			continue;

		if (field[0][0] == 'C' && nfields == 8)
		{
			int			speclen,
						textlen;
			char	   *spec = unhex(field[6], &speclen);
			char	   *text = unhex(field[7], &textlen);
			char		out[PGXT_TAG_LEN];
			int			loc = atoi(field[4]);
			int			len = atoi(field[5]);
			bool		possible;

			set_database(field[1], atoi(field[3]));
			standard_conforming_strings = atoi(field[2]) != 0;
			possible = pgxt_comment_possible(text, loc, len);
			printf("%d ", possible ? 1 : 0);
			if (pgxt_comment_tag(text, loc, len, spec, out, sizeof(out)))
				print_hex(out, strlen(out));
			else
				fputs("-", stdout);
			free(spec);
			free(text);
		}
		else if (field[0][0] == 'S' && nfields == 4)
		{
			int			vlen;
			char	   *value = unhex(field[3], &vlen);
			char		out[PGXT_TAG_LEN];

			set_database(field[1], atoi(field[2]));
			pgxt_tag_from_setting(value, out, sizeof(out));
			print_hex(out, strlen(out));
			free(value);
		}
		else if (field[0][0] == 'R' && nfields == 3)
		{
			int			tlen;
			char	   *tag = unhex(field[2], &tlen);
			text	   *t;

			set_database(field[1], 1);
			t = (text *) DatumGetPointer(pgxt_tag_datum(tag));
			print_hex(VARDATA(t), VARSIZE(t) - VARHDRSZ);
			free(tag);
		}
		else if (field[0][0] == 'V' && nfields == 1)
			printf("%d", PG_VERSION_NUM);
		else if (field[0][0] == 'K' && nfields == 2)
		{
			int			slen;
			char	   *spec = unhex(field[1], &slen);
			TagSpec		parsed;
			char		error[256];

			if (parse_key_spec(spec, &parsed, error, sizeof(error)))
				printf("ok %d", parsed.nalts);
			else
			{
				fputs("error ", stdout);
				print_hex(error, strlen(error));
			}
			free(spec);
		}
		else
		{
			fprintf(stderr, "bad command: %s\n", field[0]);
			return 2;
		}
		putchar('\n');
	}
	return 0;
}

--
-- Tags: the postgres_extension.tag setting (SET, SET LOCAL) and comments
-- in the sqlcommenter and marginalia forms.
--
SET application_name = 't_tags';
SET postgres_extension.tag = 'guc';
SELECT 1;
BEGIN;
SET LOCAL postgres_extension.tag = 'local';
SELECT 1;
COMMIT;
SELECT 'back to guc';
RESET postgres_extension.tag;
SELECT 'untagged';

-- a comment at the end or the start, URL-encoded
SELECT 1 /* tag='comment' */;
/* tag='lead%20ing' */ SELECT 1;
SELECT 1 /*application='x',tag='a%2Fb%27c',route='y'*/;
SELECT 1 /*tag='esc\'aped'*/;
-- marginalia
SELECT 1 /*application:app,controller:posts,tag:marginal*/;
-- the last non-empty tag of a transaction wins, from either source
BEGIN;
SELECT 1 /* tag='first' */;
SET LOCAL postgres_extension.tag = 'second';
SELECT 1 /* tag='third' */;
SELECT 1;
COMMIT;
-- another key
SET postgres_extension.tag_comment_key = 'route';
SELECT 1 /*route='%2Fcheckout',tag='ignored'*/;
SELECT 1 /*controller:posts,route:marg-route*/;
RESET postgres_extension.tag_comment_key;

-- long values are cut at 63 bytes on a character boundary
SELECT 1 /* tag='01234567890123456789012345678901234567890123456789012345678901é' */;
SELECT 1 /* tag='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' */;
-- garbage is ignored: invalid UTF-8, empty values, unterminated, no pairs
SELECT 1 /* tag='%FF%FE' */;
SELECT 1 /* tag='' */;
SELECT 1 /* tag= */;
SELECT 1 /* tag */;
SELECT 1 /* ,,,=,:,'' */;
SELECT 1 /* tag='%zz%4' */;
SELECT 1 /* not a pair at all */;
SELECT '/* tag=''inside a string'' */';
-- a comment in the middle does not count
SELECT 1 /* tag='middle' */ + 1;
-- statements of one query string: each one's own text counts, with the
-- whitespace and semicolons around it
-- (psql before 15 shows only the last result of a \; line: so do all)
\set SHOW_ALL_RESULTS off
BEGIN \; SELECT 1 /* tag='in%20string' */	\; COMMIT;
SELECT 1 \; ;;;
;;
\set SHOW_ALL_RESULTS on

-- a tag setting is at most 63 bytes
SET postgres_extension.tag = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
SET postgres_extension.tag = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
SELECT 'long guc';
RESET postgres_extension.tag;
-- the comment key is checked
SET postgres_extension.tag_comment_key = 'bad key';

SET application_name = 'reader';
SELECT tag, octet_length(tag) AS bytes, xacts, statements
  FROM pg_stat_transactions
 WHERE application_name = 't_tags'
 ORDER BY tag COLLATE "C";

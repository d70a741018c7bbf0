--
-- Tags: the postgres_extension.tag setting (SET, SET LOCAL) and comments
-- in the sqlcommenter and marginalia forms, where they are read and the
-- grammar of their bodies.  (tag_keys: several keys, long tags.)
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
SELECT 1 /* tag : spaced out ,x:y */;
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

-- several statements in one query string
-- (psql before 15 shows only the last result of a \; line: so do all)
\set SHOW_ALL_RESULTS off
-- after the statement's ';' (knex's sqlcommenter writes raw queries so)
SELECT 1 \; /*tag='after%20semicolon'*/ \g
SELECT 1 /*tag='before'*/ \; ; /*tag='after'*/ \g
-- each statement's own comments, in a block
BEGIN \; SELECT 1 /* tag='in%20string' */	\; COMMIT;
BEGIN \; SELECT 1 \; /*tag='second%20statement'*/ SELECT 2 \; COMMIT;
SELECT 1 \; ;;;
;;
\set SHOW_ALL_RESULTS on
-- several comments: each is tried in order; a hint is not a list of pairs
/*+ SeqScan(t) */ /* tag='after%20hint' */ SELECT 1;
SELECT 1 /*no pairs*/ /*route='r'*/ /*tag='last'*/;
/*route='r'*/ SELECT 1 /*tag='trailing'*/;
/*tag='leading%20wins'*/ SELECT 1 /*tag='trailing'*/;
-- line comments around a statement's comment (sent by \gexec as they
-- are: psql before 15 strips line comments)
SELECT E'SELECT 1 -- before\n/*tag=''after%20line%20comment''*/' \gexec
-- a line comment closing the statement hides a comment before it
SELECT E'SELECT 1 /*tag=''hidden''*/ -- note\n' \gexec

-- nothing read: not a comment that opens or closes the statement, not in
-- the grammar, invalid, empty
SELECT 1 /* tag='middle' */ + 1;
SELECT '/* tag=''inside a string'' */';
SELECT E'SELECT 1 -- /*tag=''line''*/\n' \gexec
SELECT 1 /*tag="double quoted"*/;
SELECT 1 /*tag='unterminated*/;
SELECT 1 /*tag=unquoted*/;
SELECT 1 /* tag='%FF%FE' */;
SELECT 1 /* tag='ok%FF' */;
SELECT 1 /* tag='nul%00' */;
SELECT 1 /* tag='' */;
SELECT 1 /* tag= */;
SELECT 1 /* tag */;
SELECT 1 /* tag='x', */;
SELECT 1 /* ,tag='x' */;
SELECT 1 /* ,,,=,:,'' */;
SELECT 1 /* not a pair at all */;
SELECT 1 /* /*tag='nested'*/ */;
/* /*tag='nested'*/ */ SELECT 1;
SELECT 1 /* tag='x' /* inner */ */;
SELECT 1 /* ta g='x' */;
-- kept as they are: a '%' that is not an escape
SELECT 1 /* tag='%zz%4' */;
SELECT 1 /* tag='50%' */;
-- keys may be URL-encoded too
SELECT 1 /* %74ag='encoded%20key' */;

-- the comment key is checked
SET postgres_extension.tag_comment_key = 'bad key';

SET application_name = 'reader';
SELECT tag, octet_length(tag) AS bytes, xacts, statements
  FROM pg_stat_transactions
 WHERE application_name = 't_tags'
 ORDER BY tag COLLATE "C";

--
-- Tags from several comment keys (tag_comment_key lists), Django's
-- doubled '%', and long tags (cut on a character boundary, with a hash of
-- the whole value so that long tags stay distinct).
--
SET application_name = 't_tag_keys';

-- Rails: controller#action, or the job of a background job
SET postgres_extension.tag_comment_key = 'controller#action, job';
SHOW postgres_extension.tag_comment_key;
SELECT 1 /*application:shop,controller:posts,action:index*/;
SELECT 1 /*action='show',controller='posts'*/;
SELECT 1 /*application:shop,job:ImportJob*/;
-- controller alone is not enough; an empty action neither
SELECT 1 /*application:shop,controller:orphan*/;
SELECT 1 /*controller='empty',action=''*/;
-- both alternatives present: the first wins
SELECT 1 /*job='j',controller='c',action='a'*/;
SET postgres_extension.tag_comment_key = 'framework/route,db_driver';
SELECT 1 /*db_driver='knex%3A3.3.0',framework='express',route='%2Fraw'*/;
SELECT 1 \; /*db_driver='knex%3A3.3.0',route='%2Fraw-semicolon'*/ \g
SELECT 1 /*db_driver='psycopg'*/;

-- Django's sqlcommenter doubles '%' when a query has no parameters: the
-- same route either way
SET postgres_extension.tag_comment_key = 'route';
SELECT 1 /*controller='incidents',route='incidents/%%3Cint%%3Apk%%3E'*/;
SELECT 1 /*controller='incidents',route='incidents/%3Cint%3Apk%3E'*/;
SELECT 1 /*route='100%%'*/;
RESET postgres_extension.tag_comment_key;

-- malformed lists are rejected, with the reason
SET postgres_extension.tag_comment_key = 'controller##action';
SET postgres_extension.tag_comment_key = 'controller#';
SET postgres_extension.tag_comment_key = 'a,,b';
SET postgres_extension.tag_comment_key = 'a b';
SET postgres_extension.tag_comment_key = 'route=x';
SET postgres_extension.tag_comment_key = 'a,b,c,d,e,f,g,h,i';
SET postgres_extension.tag_comment_key = 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk';
SHOW postgres_extension.tag_comment_key;
-- empty: comments are not read
SET postgres_extension.tag_comment_key = '';
SELECT 1 /*tag='not read'*/;
RESET postgres_extension.tag_comment_key;

-- long tags: no error, a cut with a hash suffix; two long values with the
-- same first bytes are two tags, the same value is one
BEGIN;
SET LOCAL postgres_extension.tag = 'GET /api/v2/organizations/:organization_id/projects/:project_id/incidents/:id';
SELECT 1;
COMMIT;
BEGIN;
SET LOCAL postgres_extension.tag = 'GET /api/v2/organizations/:organization_id/projects/:project_id/incidents/:id/events';
SELECT 1;
COMMIT;
SELECT 1 /*tag='GET /api/v2/organizations/:organization_id/projects/:project_id/incidents/:id'*/;
-- 63 bytes fit as they are, 64 do not
SET postgres_extension.tag = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
SELECT 63;
SET postgres_extension.tag = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
SELECT 64;
RESET postgres_extension.tag;
SELECT 1 /* tag='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' */;

SET application_name = 'reader';
SELECT tag, octet_length(tag) AS bytes, xacts, statements
  FROM pg_stat_transactions
 WHERE application_name = 't_tag_keys'
 ORDER BY tag COLLATE "C";

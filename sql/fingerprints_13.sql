--
-- Transaction fingerprints on PostgreSQL 13, which computes no query ids
-- itself: those of pg_stat_statements (planned statements only) make the
-- steps, and pg_stat_transactions_info says so.  Run instead of
-- fingerprints there (see the Makefile).
--
SELECT fingerprints FROM pg_stat_transactions_info;
CREATE TABLE f_t (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO f_t SELECT g, 0 FROM generate_series(1, 10) g;
CREATE FUNCTION f_qid(text) RETURNS bigint LANGUAGE sql AS
  $$ SELECT queryid FROM pg_stat_statements WHERE query = $1 $$;

-- the same statements with other values are one fingerprint; in another
-- order, another; a statement repeated is one step; utility statements
-- (no query id on 13) are no step
SET application_name = 'f_13';
BEGIN;
SELECT v FROM f_t WHERE id = 1;
UPDATE f_t SET v = v + 1 WHERE id = 1;
UPDATE f_t SET v = v + 1 WHERE id = 2;
COMMIT;
BEGIN;
SELECT v FROM f_t WHERE id = 2;
LOCK TABLE f_t;
UPDATE f_t SET v = v + 1 WHERE id = 2;
COMMIT;
BEGIN;
UPDATE f_t SET v = v + 1 WHERE id = 3;
SELECT v FROM f_t WHERE id = 3;
COMMIT;
SELECT fingerprint IS NOT NULL AS has_fingerprint, steps
  FROM pg_stat_transactions_activity WHERE pid = pg_backend_pid();

SET application_name = 'reader';
SELECT xacts, commits,
       queryids = ARRAY[f_qid('SELECT v FROM f_t WHERE id = $1'),
                        f_qid('UPDATE f_t SET v = v + $1 WHERE id = $2')] AS select_update,
       queryids = ARRAY[f_qid('UPDATE f_t SET v = v + $1 WHERE id = $2'),
                        f_qid('SELECT v FROM f_t WHERE id = $1')] AS update_select
  FROM pg_stat_transactions_fingerprints
 WHERE application_name = 'f_13'
   AND cardinality(queryids) = 2
 ORDER BY xacts DESC;

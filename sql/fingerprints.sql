--
-- Transaction fingerprints: the ordered query ids of a transaction's
-- statements (a statement repeated is one step), and the idle time after
-- each step.  Each scenario runs under its own application_name (prefix
-- f_); query ids are compared with pg_stat_statements', by query text.
--
CREATE TABLE f_t (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO f_t SELECT g, 0 FROM generate_series(1, 10) g;
-- The query id of a statement text, as pg_stat_statements has it.
CREATE FUNCTION f_qid(text) RETURNS bigint LANGUAGE sql AS
  $$ SELECT queryid FROM pg_stat_statements WHERE query = $1 AND toplevel $$;
CREATE VIEW f_rows AS
  SELECT application_name AS app, xacts, commits, rollbacks, explicit_xacts AS expl,
         cardinality(queryids) AS steps, steps_truncated AS trunc, last_tag
    FROM pg_stat_transactions_fingerprints
   WHERE application_name LIKE 'f\_%'
   ORDER BY application_name COLLATE "C", xacts DESC, fingerprint;
SELECT fingerprints FROM pg_stat_transactions_info;

-- the same statements with other values are one fingerprint; in another
-- order, another
SET application_name = 'f_order';
BEGIN;
SELECT v FROM f_t WHERE id = 1;
UPDATE f_t SET v = v + 1 WHERE id = 1;
COMMIT;
BEGIN;
SELECT v FROM f_t WHERE id = 2;
UPDATE f_t SET v = v + 1 WHERE id = 2;
COMMIT;
BEGIN;
UPDATE f_t SET v = v + 1 WHERE id = 3;
SELECT v FROM f_t WHERE id = 3;
COMMIT;

-- a statement repeated is one step: three INSERTs, then a SELECT, then
-- two more INSERTs
SET application_name = 'f_loop';
BEGIN;
INSERT INTO f_t VALUES (100, 0);
INSERT INTO f_t VALUES (101, 0);
INSERT INTO f_t VALUES (102, 0);
SELECT count(*) FROM f_t;
INSERT INTO f_t VALUES (103, 0);
INSERT INTO f_t VALUES (104, 0);
COMMIT;

-- the idle time after each step, and before the first
SET application_name = 'f_idle';
BEGIN;
\! sleep 0.1
SELECT v FROM f_t WHERE id = 4;
\! sleep 0.3
UPDATE f_t SET v = v + 1 WHERE id = 4;
\! sleep 0.2
COMMIT;

-- a savepoint and a failed statement: transaction control is not a step,
-- a statement that fails while it runs is one, a statement that fails
-- before it runs (parse analysis) is none
SET application_name = 'f_savepoint';
BEGIN;
SELECT v FROM f_t WHERE id = 5;
SAVEPOINT s;
SELECT 1 / (v - v) FROM f_t WHERE id = 5;
ROLLBACK TO s;
SELECT * FROM f_no_such_table;
ROLLBACK;

-- autocommit: one step, no idle; a tag is the last seen
SET application_name = 'f_auto';
SELECT v FROM f_t WHERE id = 6 /*tag='first'*/;
SELECT v FROM f_t WHERE id = 7 /*tag='second'*/;

SET application_name = 'reader';
SELECT * FROM f_rows;

-- the query ids, step by step
SELECT application_name AS app, queryids = ARRAY[f_qid('SELECT v FROM f_t WHERE id = $1'),
                             f_qid('UPDATE f_t SET v = v + $1 WHERE id = $2')] AS select_update,
       queryids = ARRAY[f_qid('UPDATE f_t SET v = v + $1 WHERE id = $2'),
                        f_qid('SELECT v FROM f_t WHERE id = $1')] AS update_select
  FROM pg_stat_transactions_fingerprints WHERE application_name IN ('f_order', 'f_idle')
 ORDER BY application_name COLLATE "C", xacts DESC, fingerprint;
SELECT queryids = ARRAY[f_qid('INSERT INTO f_t VALUES ($1, $2)'),
                        f_qid('SELECT count(*) FROM f_t'),
                        f_qid('INSERT INTO f_t VALUES ($1, $2)')] AS insert_select_insert
  FROM pg_stat_transactions_fingerprints WHERE application_name = 'f_loop';
-- (pg_stat_statements keeps no failed statement: its step is only not null)
SELECT queryids[1] = f_qid('SELECT v FROM f_t WHERE id = $1') AS select_first,
       queryids[2] IS NOT NULL AND queryids[2] <> queryids[1] AS failed_second
  FROM pg_stat_transactions_fingerprints WHERE application_name = 'f_savepoint';

-- idle: at least what the client slept, each gap in its place
SELECT idle_before_first_time >= 100 AS before_first,
       idle_after_times[1] >= 300 AS after_select,
       idle_after_times[2] >= 200 AS after_update,
       total_idle_time >= idle_before_first_time + idle_after_times[1] + idle_after_times[2] - 0.001 AS sums_up
  FROM pg_stat_transactions_fingerprints WHERE application_name = 'f_idle';
SELECT idle_after_times = ARRAY[0::float8] AS no_idle, total_idle_time = 0 AS none
  FROM pg_stat_transactions_fingerprints WHERE application_name = 'f_auto';

-- the fingerprints join the main view's keys: same transactions
SELECT f.app, f.xacts = s.xacts AS same_xacts
  FROM (SELECT application_name AS app, sum(xacts) AS xacts
          FROM pg_stat_transactions_fingerprints
         WHERE application_name LIKE 'f\_%' GROUP BY 1) f
  JOIN (SELECT application_name AS app, sum(xacts) AS xacts
          FROM pg_stat_transactions
         WHERE application_name LIKE 'f\_%' GROUP BY 1) s USING (app)
 ORDER BY f.app COLLATE "C";

-- an open transaction shows its fingerprint so far
BEGIN;
SELECT v FROM f_t WHERE id = 8;
SELECT a.steps, a.fingerprint IS NOT NULL AS has_fingerprint
  FROM pg_stat_transactions_activity a WHERE a.pid = pg_backend_pid();
COMMIT;

-- without query ids, no fingerprint, and the view says why
SET compute_query_id = off;
SELECT fingerprints LIKE 'off: query ids are not computed%' AS says_why
  FROM pg_stat_transactions_info;
SELECT count(*) >= 0 AS reads FROM pg_stat_transactions_fingerprints;
RESET compute_query_id;

-- a reset empties the fingerprints too
SELECT pg_stat_transactions_reset();
SELECT count(*) AS after_reset FROM pg_stat_transactions_fingerprints
 WHERE application_name LIKE 'f\_%';

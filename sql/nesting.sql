--
-- Statement nesting after errors, application_name changes inside a
-- transaction, and tracking switched on inside a block: each scenario runs
-- under its own application_name (prefix n_) and its counters are exact.
--
CREATE FUNCTION n_catch() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  BEGIN
    PERFORM 1 / 0;
  EXCEPTION WHEN division_by_zero THEN
    NULL;
  END;
  PERFORM count(*) FROM acct;
  FOR r IN SELECT id FROM acct LOOP
  END LOOP;
  RETURN 1;
END $$;
CREATE TABLE n_t (id int);
CREATE FUNCTION n_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM n_catch();
  PERFORM count(*) FROM acct;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER n_trig AFTER INSERT ON n_t
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION n_trig();
CREATE TABLE n_dc (id int UNIQUE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE n_parted (k int) PARTITION BY LIST (k);
CREATE TABLE n_parted1 PARTITION OF n_parted FOR VALUES IN (1);
CREATE TABLE n_parted2 PARTITION OF n_parted FOR VALUES IN (2);
CREATE FUNCTION n_key(int) RETURNS int STABLE LANGUAGE plpgsql AS $$
BEGIN
  PERFORM count(*) FROM acct;
  RETURN $1;
END $$;
CREATE VIEW n_counts AS
  SELECT application_name AS app, xacts, commits, rollbacks, statements,
         explicit_xacts AS expl
    FROM pg_stat_transactions
   WHERE application_name LIKE 'n\_%'
   ORDER BY application_name COLLATE "C";

-- an error caught inside a statement leaves it nested: the function's
-- later queries are not statements; an error that leaves a statement in a
-- client's savepoint ends its nesting: the next statements count
SET application_name = 'n_savepoint';
BEGIN;
SAVEPOINT s;
SELECT n_catch();
SELECT 1 / (id - id) FROM acct WHERE id = 1;
ROLLBACK TO s;
SELECT n_catch();
SELECT 2;
COMMIT;
SELECT 3;

-- a function that the start of a plan runs (initial partition pruning)
-- belongs to the statement
SET application_name = 'n_prune';
SELECT count(*) FROM n_parted WHERE k = n_key(1);
EXPLAIN (COSTS OFF) SELECT count(*) FROM n_parted WHERE k = n_key(1);

-- application_name set twice inside a transaction: the key is the last
-- value, for this transaction and the next ones
SET application_name = 'n_app0';
BEGIN;
SET application_name = 'n_app1';
SELECT set_config('application_name', 'n_app2', false) IS NOT NULL AS a2,
       set_config('application_name', 'n_app3', false) IS NOT NULL AS a3;
COMMIT;
SELECT 5;
SELECT 6;

-- tracking switched on inside a block whose BEGIN was not tracked: the
-- block is still explicit, its client-side pause idle
SET application_name = 'n_track';
SET postgres_extension.track = 'none';
BEGIN;
SET postgres_extension.track = 'all';
SELECT 7;
\! sleep 0.3
SELECT 8;
COMMIT;

-- a block that was not tracked leaves no mark on a later transaction: an
-- implicit block of two statements that fails is a rollback, not a failed
-- explicit block
SET application_name = 'n_stale';
SET postgres_extension.track = 'none';
BEGIN;
SELECT 0;
COMMIT;
SET postgres_extension.track = 'all';
-- (psql before 15 shows only the last result of a \; line: so do all)
\set SHOW_ALL_RESULTS off
SELECT 1 \; SELECT 1 / 0;
\set SHOW_ALL_RESULTS on
SELECT 2;

-- a chain from a block whose BEGIN was not tracked is explicit too, and
-- the autocommit statement after it is not
SET application_name = 'n_chain';
SET postgres_extension.track = 'none';
BEGIN;
SET postgres_extension.track = 'all';
SELECT 9;
COMMIT AND CHAIN;
SELECT 10;
COMMIT;
SELECT 11;

-- a commit that fails starts no chained transaction: the next statement
-- is an autocommit one
SET application_name = 'n_failchain';
BEGIN;
INSERT INTO n_dc VALUES (1), (1);
COMMIT AND CHAIN;
SELECT 12;

-- cursors that are not the client's open portals of their own at the top
-- level: a FOR loop directly in a deferred trigger fired at commit, and in
-- an IMMUTABLE function folded at plan time.  Their queries are not
-- statements.
SET application_name = 'reader';
CREATE TABLE n_cur (id int);
CREATE FUNCTION n_cur_trig() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT id FROM acct LOOP
  END LOOP;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER n_cur_trig AFTER INSERT ON n_cur
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION n_cur_trig();
CREATE FUNCTION n_folded() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
DECLARE
  r record;
  n int := 0;
BEGIN
  FOR r IN SELECT id FROM acct LOOP
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;
SET application_name = 'n_cursor';
INSERT INTO n_cur VALUES (1);
BEGIN;
INSERT INTO n_cur VALUES (2), (3), (4);
COMMIT;
SELECT n_folded() AS folded;
SELECT count(*) FROM acct WHERE id < n_folded();

SET application_name = 'reader';
SELECT * FROM n_counts;
SELECT application_name AS app, total_idle_time >= 300 AS idle_300ms,
       total_active_time < 100 AS active_below_100ms
  FROM pg_stat_transactions WHERE application_name = 'n_track' AND explicit_xacts = 1;

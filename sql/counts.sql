--
-- Counting: transactions, commits, rollbacks, statements, explicit and
-- read-only transactions, for deterministic workloads.  Each scenario runs
-- under its own application_name; "SET application_name" belongs to the
-- application it sets (the key is taken at the transaction's end).
--
CREATE EXTENSION postgres_extension;
CREATE EXTENSION pg_stat_statements;
CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL);
INSERT INTO acct SELECT g, 100 FROM generate_series(1, 10) g;
CREATE VIEW counts AS
  SELECT application_name AS app, tag, xacts, commits, rollbacks, statements,
         explicit_xacts AS expl, readonly_xacts AS ro
    FROM pg_stat_transactions
   WHERE application_name LIKE 't\_%' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   ORDER BY application_name COLLATE "C", tag COLLATE "C";

SET application_name = 'reader';
SELECT pg_stat_transactions_reset();
SELECT count(*) AS rows_after_reset FROM counts;
-- The client counts, in rolled_back (one x each), the transactions it saw
-- end without a commit: a statement whose error ended its transaction
-- (psql's ERROR), and the ROLLBACK of a block that had not failed.
\set rolled_back ''

-- implicit transactions: SET, two reads, one write
SET application_name = 't_implicit';
SELECT count(*) FROM acct;
SELECT balance FROM acct WHERE id = 1;
UPDATE acct SET balance = balance + 1 WHERE id = 1;

-- explicit blocks: a write, a rollback, a read-only one, an empty one
SET application_name = 't_explicit';
BEGIN;
SELECT 1;
UPDATE acct SET balance = balance - 1 WHERE id = 2;
COMMIT;
BEGIN;
SELECT 1;
ROLLBACK;
\set rolled_back :rolled_back x
BEGIN READ ONLY;
SELECT 1;
SELECT 2;
COMMIT;
START TRANSACTION;
COMMIT;

-- errors: implicit ones, a failed block closed by ROLLBACK, another
-- closed by COMMIT (which rolls back); a statement refused in a failed
-- block is not counted
SET application_name = 't_errors';
SELECT 1 / (id - id) FROM acct WHERE id = 1;
\if :ERROR \set rolled_back :rolled_back x \endif
-- failing in the parser or the planner: a rollback without statements
SELECT * FROM no_such_table;
\if :ERROR \set rolled_back :rolled_back x \endif
SELECT 1 / 0;
\if :ERROR \set rolled_back :rolled_back x \endif
BEGIN;
SELECT 1;
SELECT 1 / (id - id) FROM acct WHERE id = 1;
\if :ERROR \set rolled_back :rolled_back x \endif
SELECT 2;
ROLLBACK;
BEGIN;
UPDATE acct SET balance = balance + 1 WHERE id = 3;
SELECT 1 / (id - id) FROM acct WHERE id = 1;
\if :ERROR \set rolled_back :rolled_back x \endif
COMMIT;

-- savepoints belong to their transaction and are not statements
SET application_name = 't_savepoint';
BEGIN;
SAVEPOINT a;
SELECT 1;
SELECT 1 / (id - id) FROM acct WHERE id = 1;
ROLLBACK TO a;
SELECT 2;
RELEASE a;
COMMIT;

-- several statements in one query string: one implicit transaction
SET application_name = 't_multi';
-- (psql before 15 shows only the last result of a \; line: so do all)
\set SHOW_ALL_RESULTS off
SELECT 1 \; SELECT 2 \; SELECT 3;
SELECT 1 \; SELECT 1 / (id - id) FROM acct WHERE id = 1 \; SELECT 3;
\if :ERROR \set rolled_back :rolled_back x \endif
\set SHOW_ALL_RESULTS on

-- statements inside functions belong to their caller
CREATE FUNCTION count_acct() RETURNS bigint LANGUAGE plpgsql AS
$$ DECLARE n bigint; BEGIN SELECT count(*) INTO n FROM acct; PERFORM 1; RETURN n; END $$;
SET application_name = 't_function';
SELECT count_acct();
SELECT count_acct() FROM acct WHERE id < 4;

-- a procedure that commits: two transactions, one statement
CREATE PROCEDURE touch_two() LANGUAGE plpgsql AS
$$ BEGIN UPDATE acct SET balance = balance WHERE id = 4; COMMIT;
        UPDATE acct SET balance = balance WHERE id = 5; END $$;
SET application_name = 't_procedure';
CALL touch_two();

-- COMMIT AND CHAIN: the chained transaction is explicit too
SET application_name = 't_chain';
BEGIN;
SELECT 1;
COMMIT AND CHAIN;
SELECT 2;
COMMIT;

-- a COMMIT AND CHAIN that fails starts no chained block: the next
-- implicit transaction that fails is not a failed block
CREATE TABLE defer_t (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED);
SET application_name = 't_chain_failed';
BEGIN;
INSERT INTO defer_t VALUES (1), (1);
COMMIT AND CHAIN;
\if :ERROR \set rolled_back :rolled_back x \endif
SELECT 1 / (id - id) FROM acct WHERE id = 1;
\if :ERROR \set rolled_back :rolled_back x \endif
SELECT 1;

-- a ROLLBACK AND CHAIN refused as a statement (in an implicit block)
-- chains nothing: the next transaction is not explicit
SET application_name = 't_chain_refused';
UPDATE acct SET balance = balance WHERE false \; ROLLBACK AND CHAIN;
\if :ERROR \set rolled_back :rolled_back x \endif
SELECT 1;

SET application_name = 'reader';
SELECT * FROM counts;

-- the server's rollbacks are the ones the client saw
SELECT sum(rollbacks) AS server_rollbacks, length(:'rolled_back') AS client_rollbacks
  FROM counts;
SELECT bool_and(explicit_xacts <= xacts AND readonly_xacts <= xacts) AS subsets
  FROM pg_stat_transactions;

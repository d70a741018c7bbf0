--
-- The SQL interface by version: 1.0's objects, the update to 1.1, and what
-- 1.1 adds (pg_stat_transactions_info.housekeeping_xacts, the autocommit
-- transactions made only of SET, RESET, DISCARD, SHOW or DEALLOCATE, which
-- pg_stat_transactions does not count).
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS postgres_extension CASCADE;
RESET client_min_messages;
CREATE EXTENSION postgres_extension VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'postgres_extension';
SELECT attname FROM pg_attribute
 WHERE attrelid = 'pg_stat_transactions_info'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT dealloc >= 0 AS reads FROM pg_stat_transactions_info;
ALTER EXTENSION postgres_extension UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'postgres_extension';
SELECT attname FROM pg_attribute
 WHERE attrelid = 'pg_stat_transactions_info'::regclass AND attnum > 0
 ORDER BY attnum;

-- housekeeping: counted apart, exactly
SET application_name = 'hk_reader';
SELECT housekeeping_xacts AS hk0 FROM pg_stat_transactions_info \gset
SET application_name = 'hk';
SET search_path = public;
RESET search_path;
SHOW search_path;
DISCARD TEMP;
SET statement_timeout = 0 \; SHOW statement_timeout;
-- not housekeeping: an explicit block, and a string mixing in a query
BEGIN;
SET LOCAL statement_timeout = 0;
COMMIT;
SET statement_timeout = 0 \; SELECT 1;
SET application_name = 'hk_reader';
SELECT housekeeping_xacts - :hk0 AS housekeeping FROM pg_stat_transactions_info;
SELECT xacts, statements, explicit_xacts FROM pg_stat_transactions
 WHERE application_name = 'hk';

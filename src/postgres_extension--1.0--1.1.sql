/* src/postgres_extension--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION postgres_extension UPDATE TO '1.1'" to load this file. \quit

-- pg_stat_transactions_info: housekeeping_xacts, the autocommit
-- transactions made only of SET, RESET, DISCARD, SHOW or DEALLOCATE (what
-- poolers and drivers send when a client takes a connection), which
-- pg_stat_transactions does not count.
ALTER EXTENSION postgres_extension DROP VIEW pg_stat_transactions_info;
ALTER EXTENSION postgres_extension DROP FUNCTION pg_stat_transactions_info();
DROP VIEW pg_stat_transactions_info;
DROP FUNCTION pg_stat_transactions_info();

CREATE FUNCTION pg_stat_transactions_info(
    OUT dealloc bigint,
    OUT stats_reset timestamp with time zone,
    OUT housekeeping_xacts bigint
)
RETURNS record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_info_1_1'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions_info AS
  SELECT * FROM pg_stat_transactions_info();

GRANT SELECT ON pg_stat_transactions_info TO PUBLIC;

/* src/postgres_extension--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION postgres_extension UPDATE TO '1.1'" to load this file. \quit

-- pg_stat_transactions_info: housekeeping_xacts, the autocommit
-- transactions made only of SET, RESET, DISCARD, SHOW or DEALLOCATE (what
-- poolers and drivers send when a client takes a connection), which
-- pg_stat_transactions does not count; fingerprint_dealloc, the
-- fingerprints evicted; fingerprints, whether they are recorded (and why
-- not).
ALTER EXTENSION postgres_extension DROP VIEW pg_stat_transactions_info;
ALTER EXTENSION postgres_extension DROP FUNCTION pg_stat_transactions_info();
DROP VIEW pg_stat_transactions_info;
DROP FUNCTION pg_stat_transactions_info();

CREATE FUNCTION pg_stat_transactions_info(
    OUT dealloc bigint,
    OUT stats_reset timestamp with time zone,
    OUT housekeeping_xacts bigint,
    OUT fingerprint_dealloc bigint,
    OUT fingerprints text
)
RETURNS record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_info_1_1'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions_info AS
  SELECT * FROM pg_stat_transactions_info();

GRANT SELECT ON pg_stat_transactions_info TO PUBLIC;

-- pg_stat_transactions_activity: the fingerprint so far of each open
-- transaction, and its number of steps (the step it runs, or is idle after).
ALTER EXTENSION postgres_extension DROP VIEW pg_stat_transactions_activity;
ALTER EXTENSION postgres_extension DROP FUNCTION pg_stat_transactions_activity();
DROP VIEW pg_stat_transactions_activity;
DROP FUNCTION pg_stat_transactions_activity();

CREATE FUNCTION pg_stat_transactions_activity(
    OUT pid integer,
    OUT datid oid,
    OUT usesysid oid,
    OUT application_name text,
    OUT tag text,
    OUT xact_start timestamp with time zone,
    OUT state text,
    OUT hold_time double precision,
    OUT active_time double precision,
    OUT idle_time double precision,
    OUT statements bigint,
    OUT queryid bigint,
    OUT fingerprint bigint,
    OUT steps integer
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_activity_1_1'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions_activity AS
  SELECT * FROM pg_stat_transactions_activity();

GRANT SELECT ON pg_stat_transactions_activity TO PUBLIC;

-- Transaction fingerprints: one row per (dbid, userid, application_name,
-- fingerprint), the fingerprint hashing the ordered query ids of the
-- transaction's statements (a statement repeated is one step).  queryids
-- join pg_stat_statements.queryid; idle_after_times (parallel to queryids)
-- is the idle time that followed each step, the last one up to the end of
-- the transaction.  Times in milliseconds.
CREATE FUNCTION pg_stat_transactions_fingerprints(
    OUT userid oid,
    OUT dbid oid,
    OUT application_name text,
    OUT fingerprint bigint,
    OUT queryids bigint[],
    OUT steps_truncated boolean,
    OUT xacts bigint,
    OUT commits bigint,
    OUT rollbacks bigint,
    OUT explicit_xacts bigint,
    OUT readonly_xacts bigint,
    OUT total_hold_time double precision,
    OUT min_hold_time double precision,
    OUT max_hold_time double precision,
    OUT mean_hold_time double precision,
    OUT stddev_hold_time double precision,
    OUT p50_hold_time double precision,
    OUT p95_hold_time double precision,
    OUT p99_hold_time double precision,
    OUT total_active_time double precision,
    OUT total_idle_time double precision,
    OUT idle_before_first_time double precision,
    OUT idle_after_times double precision[],
    OUT timeouts bigint,
    OUT last_tag text,
    OUT stats_since timestamp with time zone,
    OUT last_seen timestamp with time zone
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_fingerprints_1_1'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions_fingerprints AS
  SELECT * FROM pg_stat_transactions_fingerprints();

GRANT SELECT ON pg_stat_transactions_fingerprints TO PUBLIC;

/* src/postgres_extension--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION postgres_extension" to load this file. \quit

-- Cumulative statistics, one row per (dbid, userid, application_name, tag).
-- Times are in milliseconds.
CREATE FUNCTION pg_stat_transactions(
    OUT userid oid,
    OUT dbid oid,
    OUT application_name text,
    OUT tag text,
    OUT xacts bigint,
    OUT commits bigint,
    OUT rollbacks bigint,
    OUT total_hold_time double precision,
    OUT min_hold_time double precision,
    OUT max_hold_time double precision,
    OUT mean_hold_time double precision,
    OUT stddev_hold_time double precision,
    OUT total_active_time double precision,
    OUT total_idle_time double precision,
    OUT max_idle_time double precision,
    OUT statements bigint,
    OUT explicit_xacts bigint,
    OUT readonly_xacts bigint,
    OUT p50_hold_time double precision,
    OUT p95_hold_time double precision,
    OUT p99_hold_time double precision,
    OUT timeouts bigint,
    OUT stats_since timestamp with time zone,
    OUT last_seen timestamp with time zone
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_1_0'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions AS
  SELECT * FROM pg_stat_transactions();

GRANT SELECT ON pg_stat_transactions TO PUBLIC;

-- Sessions inside a transaction right now.
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
    OUT queryid bigint
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_activity_1_0'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions_activity AS
  SELECT * FROM pg_stat_transactions_activity();

GRANT SELECT ON pg_stat_transactions_activity TO PUBLIC;

-- Entries evicted since the last reset, and the time of that reset.
CREATE FUNCTION pg_stat_transactions_info(
    OUT dealloc bigint,
    OUT stats_reset timestamp with time zone
)
RETURNS record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_info_1_0'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions_info AS
  SELECT * FROM pg_stat_transactions_info();

GRANT SELECT ON pg_stat_transactions_info TO PUBLIC;

-- Hold-time histogram of one key, for plotting: non-empty buckets, in ms.
CREATE FUNCTION pg_stat_transactions_histogram(
    IN userid oid,
    IN dbid oid,
    IN application_name text,
    IN tag text,
    OUT lower_bound double precision,
    OUT upper_bound double precision,
    OUT xacts bigint
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_histogram_1_0'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Time buckets: per bucket and key, the transactions that ended in it and
-- the time they held (ms).  Keys beyond history_keys in a bucket are summed
-- in one row whose userid, dbid, application_name and tag are NULL.  The
-- open bucket is included; its bucket_end is its planned end.
CREATE FUNCTION pg_stat_transactions_history(
    OUT bucket_start timestamp with time zone,
    OUT bucket_end timestamp with time zone,
    OUT userid oid,
    OUT dbid oid,
    OUT application_name text,
    OUT tag text,
    OUT xacts bigint,
    OUT rollbacks bigint,
    OUT total_hold_time double precision,
    OUT total_active_time double precision,
    OUT total_idle_time double precision,
    OUT max_hold_time double precision,
    OUT timeouts bigint
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_history_1_0'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions_history AS
  SELECT * FROM pg_stat_transactions_history();

GRANT SELECT ON pg_stat_transactions_history TO PUBLIC;

-- The watchdog's most recent decisions (a ring of 256 in shared memory).
CREATE FUNCTION pg_stat_transactions_timeouts(
    OUT event_time timestamp with time zone,
    OUT pid integer,
    OUT userid oid,
    OUT dbid oid,
    OUT application_name text,
    OUT tag text,
    OUT kind text,
    OUT limit_ms double precision,
    OUT elapsed_ms double precision,
    OUT action text,
    OUT rule text,
    OUT seq bigint
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_stat_transactions_timeouts_1_0'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pg_stat_transactions_timeouts AS
  SELECT * FROM pg_stat_transactions_timeouts();

GRANT SELECT ON pg_stat_transactions_timeouts TO PUBLIC;

-- Discard all statistics, the history and the watchdog's events.
CREATE FUNCTION pg_stat_transactions_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'pg_stat_transactions_reset_1_0'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

REVOKE ALL ON FUNCTION pg_stat_transactions_reset() FROM PUBLIC;

--
-- Privileges, the activity view, the info view, and coexistence with
-- pg_stat_statements.
--
CREATE ROLE pgxt_reader;
GRANT SELECT ON acct TO pgxt_reader;
SET ROLE pgxt_reader;
SET application_name = 't_own';
SELECT count(*) FROM acct;
-- reset is not for PUBLIC
SELECT pg_stat_transactions_reset();
-- other roles' application_name and tag are hidden, one's own are not
SELECT bool_and(application_name = '<insufficient privilege>' AND tag = '<insufficient privilege>') AS others_hidden
  FROM pg_stat_transactions WHERE userid <> 'pgxt_reader'::regrole;
SELECT application_name, xacts FROM pg_stat_transactions
 WHERE userid = 'pgxt_reader'::regrole AND application_name = 't_own';
SELECT count(*) AS histogram_of_others FROM pg_stat_transactions_histogram(10, 0, 'x', 'y');
RESET ROLE;
-- the activity view shows another role's session as pg_stat_activity
-- does: pid, database and role, but not its names, state, start, times,
-- statements or queryid.  A function running as pgxt_reader reads this
-- session, whose transaction belongs to the superuser.
CREATE FUNCTION activity_seen_by_reader(OUT visible_ids boolean, OUT app text, OUT tag text,
    OUT state text, OUT xact_start_null boolean, OUT times_null boolean,
    OUT statements bigint, OUT queryid_null boolean, OUT core_state text)
  LANGUAGE sql SECURITY DEFINER AS $$
  SELECT a.pid = pg_backend_pid() AND a.usesysid = session_user::regrole
           AND a.datid = (SELECT oid FROM pg_database WHERE datname = current_database()),
         a.application_name, a.tag, a.state, a.xact_start IS NULL,
         a.hold_time IS NULL AND a.active_time IS NULL AND a.idle_time IS NULL,
         a.statements, a.queryid IS NULL,
         (SELECT s.state FROM pg_stat_activity s WHERE s.pid = pg_backend_pid())
    FROM pg_stat_transactions_activity a WHERE a.pid = pg_backend_pid() $$;
ALTER FUNCTION activity_seen_by_reader() OWNER TO pgxt_reader;
SET application_name = 't_seen';
SELECT * FROM activity_seen_by_reader();
GRANT pg_read_all_stats TO pgxt_reader;
SET ROLE pgxt_reader;
SELECT bool_or(application_name = 't_implicit') AS sees_all
  FROM pg_stat_transactions;
RESET ROLE;
-- with pg_read_all_stats, every detail shows
SELECT * FROM activity_seen_by_reader();
DROP OWNED BY pgxt_reader;
DROP ROLE pgxt_reader;

-- the activity view shows this session inside its transaction
SET application_name = 't_activity';
BEGIN;
SET LOCAL postgres_extension.tag = 'now';
SELECT 1;
SELECT state, application_name, tag, statements, hold_time >= active_time AS consistent,
       queryid IS NOT NULL AS has_queryid
  FROM pg_stat_transactions_activity WHERE pid = pg_backend_pid();
COMMIT;
-- its queryid joins pg_stat_statements
SELECT count(*) AS joined FROM pg_stat_transactions_activity a
  JOIN pg_stat_statements s USING (queryid) WHERE a.pid = pg_backend_pid();
SELECT count(*) AS joined FROM pg_stat_transactions_activity a
  JOIN pg_stat_statements s USING (queryid) WHERE a.pid = pg_backend_pid();

-- pg_stat_statements still counts (its reset returns a timestamp from 17 on)
SELECT pg_stat_statements_reset() IS NOT NULL AS pgss_reset;
SELECT balance FROM acct WHERE id = 7;
SELECT balance FROM acct WHERE id = 8;
SELECT calls, rows FROM pg_stat_statements WHERE query = 'SELECT balance FROM acct WHERE id = $1';

-- histogram of one key adds up to its transactions
SELECT sum(h.xacts) = s.xacts AS histogram_adds_up, bool_and(h.lower_bound < h.upper_bound) AS bounds_ordered
  FROM pg_stat_transactions s, pg_stat_transactions_histogram(s.userid, s.dbid, s.application_name, s.tag) h
 WHERE s.application_name = 't_explicit' GROUP BY s.xacts;

-- the info view and reset
SELECT dealloc, stats_reset <= now() AS reset_in_past FROM pg_stat_transactions_info;
SELECT pg_stat_transactions_reset();
-- only the reset's own transaction is left
SELECT application_name, xacts, statements FROM pg_stat_transactions WHERE application_name LIKE 't\_%';
SELECT stats_reset > now() - interval '1 minute' AS reset_recent FROM pg_stat_transactions_info;

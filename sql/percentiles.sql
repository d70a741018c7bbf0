--
-- Percentiles and the hold-time histogram, for a workload of known
-- distribution: 90 transactions of 10 ms and 10 of 300 ms.
--
-- The workload runs in a session of its own, connected with
-- application_name t_percentiles and tracking off, so that neither the
-- session's setup nor its cold start (loading PL/pgSQL, compiling the
-- procedure, filling the caches) lands in the key: a warm-up call and the
-- SET that turns tracking on are not tracked.  Then one CALL yields
-- exactly 100 transactions: each of the 99 COMMITs inside the procedure
-- ends one, and the last sleep ends with the CALL itself (its implicit
-- transaction commits when the statement returns, having held the
-- connection since the last COMMIT).
--
CREATE PROCEDURE pctl_workload(run boolean) LANGUAGE plpgsql AS
$$
BEGIN
  IF NOT run THEN
    PERFORM pg_sleep(0);
    RETURN;
  END IF;
  FOR i IN 1..90 LOOP
    PERFORM pg_sleep(0.01);
    COMMIT;
  END LOOP;
  FOR i IN 1..9 LOOP
    PERFORM pg_sleep(0.3);
    COMMIT;
  END LOOP;
  PERFORM pg_sleep(0.3);
END
$$;
\c "dbname=contrib_regression application_name=t_percentiles options='-c postgres_extension.track=none'"
CALL pctl_workload(false);
SET postgres_extension.track = 'all';
CALL pctl_workload(true);
SET application_name = 'reader';

-- Exact counts: 100 transactions, all committed, one statement (the CALL);
-- nothing of the untracked warm-up.
SELECT xacts, commits, rollbacks, statements
  FROM pg_stat_transactions WHERE application_name = 't_percentiles';

-- pg_sleep never returns early: every transaction holds at least its
-- sleep.  Sleeps overshoot by well under a millisecond on an idle machine;
-- the bounds below leave 3 ms (short) and 40 ms (long) for a loaded one.
SELECT min_hold_time >= 10 AS min_at_least_10ms,
       min_hold_time < 13 AS min_below_13ms,
       max_hold_time >= 300 AS max_at_least_300ms,
       max_hold_time < 340 AS max_below_340ms,
       total_hold_time BETWEEN 90 * 10 + 10 * 300 AND 90 * 13 + 10 * 340 AS total_in_range
  FROM pg_stat_transactions WHERE application_name = 't_percentiles';

-- Percentiles.  The histogram has 8 buckets per power of two, so a bucket
-- is at most 1/8 of its lower bound wide: 10 ms falls in [9.216, 10.24)
-- or the next bucket, 300 ms in [294.912, 327.68).  A percentile is
-- interpolated inside its bucket and clamped to [min, max], so it can be
-- off by at most one bucket width (12.5%, 6.25% from a bucket midpoint)
-- from the true value, and never below the shortest sleep or above the
-- longest hold.
-- p50 (rank 50 of 100) is inside the 90 short ones: true value 10 ms plus
-- overshoot; 9.5 is 5% below 10 (the clamp to min keeps it >= 10 anyway)
-- and 13 allows 12.5% of bucket width plus 1.7 ms overshoot.
-- p95 (rank 95) and p99 (rank 99) are inside the 10 long ones: true value
-- 300 ms plus overshoot; 280 is 6.7% below 300 and 340 is 300 + 12.5%
-- (one bucket width above 300 would be 337.5) plus overshoot.  Neither
-- may come from the short group, which a wrong rank or bucket walk would
-- give.
SELECT p50_hold_time BETWEEN 9.5 AND 13 AS p50_near_10ms,
       p95_hold_time BETWEEN 280 AND 340 AS p95_near_300ms,
       p99_hold_time BETWEEN 280 AND 340 AS p99_near_300ms,
       p50_hold_time >= min_hold_time AND p99_hold_time <= max_hold_time AS clamped,
       p50_hold_time <= p95_hold_time AND p95_hold_time <= p99_hold_time AS ordered
  FROM pg_stat_transactions WHERE application_name = 't_percentiles';

-- The histogram of the key: its buckets add up to the transactions, each
-- bucket is ordered and at most 12.5% of its lower bound wide, and the
-- buckets cover the shortest and longest hold.  The short ones all lie in
-- buckets from 9 ms up (none below their sleep) and the long ones in
-- buckets from 262 ms up; the upper limits (50 and 400 ms) only leave room
-- for a loaded machine's late wake-ups (a few ms are common at load 4 on
-- 2 cores) while keeping the two groups apart.
SELECT sum(h.xacts) AS hist_xacts,
       sum(h.xacts) = s.xacts AS histogram_adds_up,
       bool_and(h.lower_bound < h.upper_bound) AS bounds_ordered,
       bool_and((h.upper_bound - h.lower_bound) / h.lower_bound <= 0.125) AS width_at_most_12_5pct,
       sum(h.xacts) FILTER (WHERE h.lower_bound >= 9 AND h.upper_bound <= 50) AS short_xacts,
       sum(h.xacts) FILTER (WHERE h.lower_bound >= 262 AND h.upper_bound <= 400) AS long_xacts,
       min(h.lower_bound) <= s.min_hold_time AS covers_min,
       max(h.upper_bound) > s.max_hold_time AS covers_max
  FROM pg_stat_transactions s,
       pg_stat_transactions_histogram(s.userid, s.dbid, s.application_name, s.tag) h
 WHERE s.application_name = 't_percentiles'
 GROUP BY s.xacts, s.min_hold_time, s.max_hold_time;

-- the p50 lies in a bucket that holds short transactions, the p95 and p99
-- in one that holds long ones
SELECT bool_or(s.p50_hold_time >= h.lower_bound AND s.p50_hold_time <= h.upper_bound
               AND h.upper_bound <= 50) AS p50_in_short_bucket,
       bool_or(s.p95_hold_time >= h.lower_bound AND s.p95_hold_time <= h.upper_bound
               AND h.lower_bound >= 262) AS p95_in_long_bucket,
       bool_or(s.p99_hold_time >= h.lower_bound AND s.p99_hold_time <= h.upper_bound
               AND h.lower_bound >= 262) AS p99_in_long_bucket
  FROM pg_stat_transactions s,
       pg_stat_transactions_histogram(s.userid, s.dbid, s.application_name, s.tag) h
 WHERE s.application_name = 't_percentiles';

DROP PROCEDURE pctl_workload(boolean);

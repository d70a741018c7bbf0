--
-- Time: a server-side sleep is active time, a client-side pause between
-- statements is idle time.  The client reads the clock (date +%s%N, in ns)
-- around its pauses and its transactions: idle time covers each pause it
-- measured, and hold time lies within the span it measured.
--
SET application_name = 't_active';
BEGIN;
SELECT pg_sleep(0.2);
COMMIT;
SELECT pg_sleep(0.1);

SET application_name = 't_idle';
\set idle_span_start `date +%s%N`
BEGIN;
SELECT 1;
\set idle_pause_start `date +%s%N`
\! sleep 0.3
\set idle_pause_end `date +%s%N`
SELECT 2;
COMMIT;
\set idle_span_end `date +%s%N`

SET application_name = 't_failed_idle';
\set failed_span_start `date +%s%N`
BEGIN;
SELECT 1 / (id - id) FROM acct WHERE id = 1;
\set failed_pause_start `date +%s%N`
\! sleep 0.2
\set failed_pause_end `date +%s%N`
ROLLBACK;
\set failed_span_end `date +%s%N`

SET application_name = 'reader';
SELECT application_name AS app, xacts,
       total_active_time >= 300 AS active_300ms,
       total_active_time < 1000 AS active_below_1s,
       max_hold_time >= 200 AS hold_200ms,
       total_idle_time < 100 AS idle_below_100ms
  FROM pg_stat_transactions WHERE application_name = 't_active';
SELECT application_name AS app, xacts,
       total_idle_time >= 300 AS idle_300ms,
       total_idle_time >= (:idle_pause_end - :idle_pause_start) / 1e6 AS idle_covers_pause,
       max_idle_time >= (:idle_pause_end - :idle_pause_start) / 1e6 AS max_gap_covers_pause,
       total_hold_time >= 300 AS hold_300ms,
       total_hold_time <= (:idle_span_end - :idle_span_start) / 1e6 AS hold_within_span,
       total_active_time < 100 AS active_below_100ms
  FROM pg_stat_transactions WHERE application_name = 't_idle';
-- a failed block holds its connection until ROLLBACK
SELECT application_name AS app, xacts, rollbacks,
       max_hold_time >= 200 AS hold_until_rollback,
       total_idle_time >= (:failed_pause_end - :failed_pause_start) / 1e6 AS idle_after_error_covers_pause,
       total_hold_time <= (:failed_span_end - :failed_span_start) / 1e6 AS hold_within_span
  FROM pg_stat_transactions WHERE application_name = 't_failed_idle';

-- Mean and standard deviation (of the population, as pg_stat_statements
-- reports it), on keys of two and three transactions.  The mean of a pair
-- is checked against what the client measured; the deviation exactly,
-- from the values the view fully determines (min, max, and total - min -
-- max for the third).  A backend folds its pending transactions into the key's entry in
-- batches; a statement under another tag ends a batch, so the keys split
-- their transactions 2 (unless a reader drains the list in between), 1+1,
-- 2+1 and 1+2, and the merge of a batch into an entry is checked with
-- different weights on both sides.  A key with one transaction deviates by
-- 0.
\set pob_start `date +%s%N`
SELECT 1 /* tag='pair_one_batch' */;
SELECT pg_sleep(0.2) /* tag='pair_one_batch' */;
\set pob_end `date +%s%N`
\set p11_start `date +%s%N`
SELECT 1 /* tag='pair_1_1' */;
SELECT 2 /* tag='between' */;
SELECT pg_sleep(0.2) /* tag='pair_1_1' */;
\set p11_end `date +%s%N`
SELECT 1 /* tag='trio_2_1' */;
SELECT pg_sleep(0.1) /* tag='trio_2_1' */;
SELECT 2 /* tag='between' */;
SELECT pg_sleep(0.2) /* tag='trio_2_1' */;
SELECT 1 /* tag='trio_1_2' */;
SELECT 2 /* tag='between' */;
SELECT pg_sleep(0.1) /* tag='trio_1_2' */;
SELECT pg_sleep(0.2) /* tag='trio_1_2' */;
SELECT 3 /* tag='single' */;
-- The mean of a pair, by hand: its transactions held at least 0 and 200 ms
-- and, together, at most the span the client measured around them.
SELECT tag, xacts, max_hold_time - min_hold_time >= 150 AS far_apart,
       mean_hold_time >= (0 + 200) / 2.0
         AND mean_hold_time <= CASE tag WHEN 'pair_one_batch' THEN :pob_end - :pob_start
                                        ELSE :p11_end - :p11_start END / 1e6 / 2 AS mean_by_hand,
       abs(stddev_hold_time - (max_hold_time - min_hold_time) / 2) < 1e-6 AS stddev_half_difference
  FROM pg_stat_transactions WHERE tag LIKE 'pair%' ORDER BY tag;
SELECT tag, xacts, max_hold_time - min_hold_time >= 150 AS far_apart,
       abs(stddev_hold_time -
           sqrt((power(min_hold_time - mean_hold_time, 2) +
                 power(total_hold_time - min_hold_time - max_hold_time - mean_hold_time, 2) +
                 power(max_hold_time - mean_hold_time, 2)) / 3)) < 1e-6 AS stddev_exact
  FROM pg_stat_transactions WHERE tag LIKE 'trio%' ORDER BY tag;
SELECT tag, xacts, stddev_hold_time
  FROM pg_stat_transactions WHERE tag = 'single';

SELECT count(*) > 0 AS has_rows,
       bool_and(total_active_time <= total_hold_time) AS active_within_hold,
       bool_and(min_hold_time <= mean_hold_time AND mean_hold_time <= max_hold_time) AS mean_between,
       bool_and(p50_hold_time <= p95_hold_time AND p95_hold_time <= p99_hold_time) AS percentiles_ordered,
       bool_and(max_idle_time <= total_idle_time + 0.001) AS max_gap_within_idle,
       bool_and(stats_since <= last_seen) AS since_before_seen
  FROM pg_stat_transactions;

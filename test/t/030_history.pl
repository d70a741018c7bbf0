# History buckets, with history_interval = 1s, history_size = 5 and
# history_keys = 3.  Under a rate-limited pgbench workload of 8 keys (two
# application_names, tags by comment), spread over 3 s:
# - the xacts of all buckets (the open one included) add up exactly to
#   those of pg_stat_transactions, read in one statement;
# - a bucket has at most history_keys + 1 rows, the extra one with NULL
#   key columns, and buckets with more keys than that have it;
# - buckets are 1 s long and aligned on the second, consecutive, except the
#   first, which starts at the reset;
# - the heaviest key, always in the top, has per-bucket sums that add up to
#   its cumulative counters.
# Then one bucket holding a known set of 6 keys (one transaction each, of
# distinct lengths) keeps the 3 longest holders by name and folds the 3
# others into the NULL row, with exact totals.  After more than 5 s of
# further activity the ring has wrapped: at most 5 closed buckets plus the
# open one, the oldest no longer the first.  pg_stat_transactions_reset()
# clears the history too.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PgxtTest;

my $node = pgxt_node('history',
	"postgres_extension.history_interval = '1s'",
	"postgres_extension.history_size = 5",
	"postgres_extension.history_keys = 3");

# Every read below runs as application_name "reader".  Its transactions
# are recorded like any other (each one after its own read), on both sides
# of the comparisons, so they are counted, not excluded: a reader's row may
# be folded into a bucket's NULL row, where it could not be told apart.
my $reader = $node->connstr('postgres') . ' application_name=reader';

sub query
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-d', $reader ]);
}

# pgbench scripts: "heavy" sleeps 10 ms, t1..t5 are instant.
my $dir = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$dir/heavy.sql",
	"SELECT pg_sleep(0.01) /* tag='heavy' */;\n");
for my $i (1 .. 5)
{
	PostgreSQL::Test::Utils::append_to_file("$dir/t$i.sql",
		"SELECT $i /* tag='t$i' */;\n");
}

# Start pgbench under application_name $app for $secs seconds, limited to
# $rate transactions per second over 2 clients, on the given scripts
# (file@weight).
sub bench_start
{
	my ($app, $secs, $rate, @scripts) = @_;
	my ($stdout, $stderr) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', 2, '-T', $secs, '-R', $rate,
			(map { ('-f', "$dir/$_") } @scripts),
			"dbname=postgres application_name=$app"
		],
		'>', \$stdout, '2>', \$stderr);
	return { h => $h, app => $app, out => \$stdout, err => \$stderr };
}

sub bench_finish
{
	my ($b) = @_;
	ok($b->{h}->finish, "pgbench $b->{app} ran") or diag(${ $b->{err} });
	pgxt_pgbench_no_failure(${ $b->{out} }, "pgbench $b->{app}: no transaction failed");
}

# The whole workload: application h_a runs heavy (weight 3) and t1..t5,
# application h_b runs t1 and t2.  With the reader, 9 keys in all; every
# full second has more than 3 of them.
sub workload
{
	my ($secs) = @_;
	my @b = (
		bench_start('h_a', $secs, 80,
			'heavy.sql@3', map { "t$_.sql\@1" } 1 .. 5),
		bench_start('h_b', $secs, 30, 't1.sql@1', 't2.sql@1'));
	bench_finish($_) for @b;
}

# The distinct buckets, oldest first, each with its rows, its rows with
# NULL key columns and its length, as arrays
# [start, end, rows, null_rows, length_s, end_aligned, start_aligned,
# follows_previous].
my $buckets_sql = q{
	SELECT bucket_start, bucket_end, count(*),
	       count(*) FILTER (WHERE userid IS NULL AND dbid IS NULL
	                          AND application_name IS NULL AND tag IS NULL),
	       extract(epoch FROM bucket_end - bucket_start),
	       date_trunc('second', bucket_end) = bucket_end,
	       date_trunc('second', bucket_start) = bucket_start,
	       coalesce(lag(bucket_end) OVER (ORDER BY bucket_start) = bucket_start, true)
	  FROM pg_stat_transactions_history
	 GROUP BY bucket_start, bucket_end
	 ORDER BY bucket_start};

sub buckets
{
	return map { [ split /\|/ ] } split /\n/, query($buckets_sql);
}

# 1. Reset, noting the time around it: the first bucket starts then.
my ($reset_before, undef, $reset_after) = split /\|/,
  query('SELECT clock_timestamp(), pg_stat_transactions_reset(), clock_timestamp()');
my $t_reset = time();

workload(3);
my $elapsed = time() - $t_reset;
note(sprintf('workload of phase 1 took %.2f s since the reset', $elapsed));

# No more than 4 boundaries have passed (we are under 5 s after the reset),
# so nothing has left the ring yet: the first bucket is still there.
cmp_ok($elapsed, '<', 4.8, 'phase 1 ended before the ring could wrap');

# One statement reads both sides: nothing commits in between (pgbench is
# done, the reader's earlier transactions are on both sides, its current
# one on neither).
my ($hist_xacts, $cum_xacts, $hist_hold, $cum_hold, $hist_first, $other_xacts) =
  split /\|/, query(qq{
	SELECT (SELECT sum(xacts) FROM pg_stat_transactions_history),
	       (SELECT sum(xacts) FROM pg_stat_transactions),
	       (SELECT sum(round(total_hold_time * 1000)) FROM pg_stat_transactions_history),
	       (SELECT sum(round(total_hold_time * 1000)) FROM pg_stat_transactions),
	       (SELECT min(bucket_start) BETWEEN '$reset_before' AND '$reset_after'
	          FROM pg_stat_transactions_history),
	       (SELECT sum(xacts) FROM pg_stat_transactions_history WHERE application_name IS NULL)});
is($hist_first, 't', 'the oldest bucket starts at the reset');
cmp_ok($cum_xacts, '>', 200, "the workload ran ($cum_xacts transactions)");
is($hist_xacts, $cum_xacts,
	'xacts of all buckets add up to those of pg_stat_transactions');
is($hist_hold, $cum_hold,
	'hold time (us) of all buckets adds up to that of pg_stat_transactions');
cmp_ok($other_xacts, '>', 0,
	"keys beyond history_keys are folded into NULL rows ($other_xacts xacts)");

my @b = buckets();
cmp_ok(scalar(@b), '>=', 3, 'at least 3 buckets (' . scalar(@b) . ')');
cmp_ok(scalar(@b), '<=', 6, 'at most 6 buckets');
my @too_many = grep { $_->[2] > 4 || $_->[3] > 1 } @b;
is_deeply(\@too_many, [],
	'no bucket has more than history_keys + 1 rows or two NULL rows');
my @full = grep { $_->[2] == 4 && $_->[3] == 1 } @b;
cmp_ok(scalar(@full), '>=', 2,
	'buckets of the workload have 3 named rows and the NULL row');
# the first bucket starts at the reset and ends at a whole second
ok($b[0][4] > 0 && $b[0][4] <= 1,
	"the first bucket lasts at most 1 s ($b[0][4])");
is($b[0][5], 't', 'the first bucket ends on a whole second');
my @bad_len = grep { $_->[4] != 1 || $_->[5] ne 't' || $_->[6] ne 't' } @b[ 1 .. $#b ];
is_deeply(\@bad_len, [], 'the other buckets last 1 s and are aligned on the second');
my @gaps = grep { $_->[7] ne 't' } @b;
is_deeply(\@gaps, [], 'each bucket starts where the previous one ended');

# the heaviest key is in the top of every bucket: its rows add up to its
# cumulative counters, and it is in every bucket but maybe the first and
# the last (pgbench starting and stopping)
my ($heavy_hist, $heavy_cum, $heavy_hold_hist, $heavy_hold_cum,
	$heavy_buckets) = split /\|/, query(q{
	SELECT (SELECT sum(xacts) FROM pg_stat_transactions_history
	         WHERE application_name = 'h_a' AND tag = 'heavy'),
	       (SELECT xacts FROM pg_stat_transactions
	         WHERE application_name = 'h_a' AND tag = 'heavy'),
	       (SELECT sum(round(total_hold_time * 1000)) FROM pg_stat_transactions_history
	         WHERE application_name = 'h_a' AND tag = 'heavy'),
	       (SELECT round(total_hold_time * 1000) FROM pg_stat_transactions
	         WHERE application_name = 'h_a' AND tag = 'heavy'),
	       (SELECT count(*) FROM pg_stat_transactions_history
	         WHERE application_name = 'h_a' AND tag = 'heavy')});
cmp_ok($heavy_cum, '>', 50, "heavy ran ($heavy_cum transactions)");
is($heavy_hist, $heavy_cum,
	'the heaviest key: xacts of its bucket rows add up to its counter');
is($heavy_hold_hist, $heavy_hold_cum,
	'the heaviest key: hold time of its bucket rows adds up to its counter');
cmp_ok($heavy_buckets, '>=', scalar(@b) - 2,
	"the heaviest key has a row in the workload's buckets ($heavy_buckets of "
	  . scalar(@b) . ')');

# 2. One bucket with a known content: 6 keys, one transaction each,
# holding 60, 50, 40, 30, 20 and 10 ms, run at the start of a second so
# that they all end in one bucket, and read after that bucket closed.  The
# 3 longest are kept by name, the 3 others make the NULL row: 3 xacts,
# their hold summed, the longest of them (k4, 30 ms) as its max.
my $block = join('',
	map { sprintf("SELECT pg_sleep(0.0%d) /* tag='k%d' */;\n", 7 - $_, $_) }
	  1 .. 6);
my $block_ok = 0;
for my $attempt (1 .. 3)
{
	# wait for the next second, plus 50 ms
	my $now = time();
	usleep(int((int($now) + 1.05 - $now) * 1_000_000));
	my $t0 = time();
	$node->safe_psql('postgres', $block,
		extra_params => [ '-d', $node->connstr('postgres') . ' application_name=h_blk' ]);
	my $t1 = time();
	# let the bucket close: the watchdog ticks at the boundary
	usleep(int((int($t1) + 1.3 - time()) * 1_000_000));
	if (int($t0) == int($t1))
	{
		$block_ok = 1;
		last;
	}
	note("attempt $attempt: the block crossed a boundary, retrying");
	query('SELECT pg_stat_transactions_reset()');
}
ok($block_ok, 'the block of 6 keys ran within one second');

my $rows = query(q{
	WITH b AS (SELECT bucket_start FROM pg_stat_transactions_history
	            WHERE application_name = 'h_blk' AND tag = 'k1')
	SELECT coalesce(application_name, '-'), coalesce(tag, '-'), xacts,
	       rollbacks, total_hold_time >= 10 * (CASE tag WHEN 'k1' THEN 6
	                                              WHEN 'k2' THEN 5
	                                              WHEN 'k3' THEN 4
	                                              ELSE 3 + 2 + 1 END),
	       bucket_end - bucket_start = interval '1 s',
	       bucket_end <= clock_timestamp()
	  FROM pg_stat_transactions_history
	 WHERE bucket_start = (SELECT bucket_start FROM b)
	 ORDER BY application_name IS NULL, total_hold_time DESC});
is( $rows,
	join("\n",
		'h_blk|k1|1|0|t|t|t', 'h_blk|k2|1|0|t|t|t',
		'h_blk|k3|1|0|t|t|t', '-|-|3|0|t|t|t'),
	'the closed bucket keeps k1, k2, k3 and folds k4, k5, k6 into the NULL row');
my ($other_max, $other_hold) = split /\|/, query(q{
	WITH b AS (SELECT bucket_start FROM pg_stat_transactions_history
	            WHERE application_name = 'h_blk' AND tag = 'k1')
	SELECT max_hold_time >= 30 AND max_hold_time < 40,
	       total_hold_time < 3 * 40
	  FROM pg_stat_transactions_history
	 WHERE bucket_start = (SELECT bucket_start FROM b) AND tag IS NULL});
is($other_max, 't', 'the NULL row keeps the longest folded transaction as its max');
is($other_hold, 't', 'the NULL row holds the folded transactions only');

# A bucket's max is its own longest transaction: k1 again, instant, in a
# later bucket (the block's has closed).  That bucket's row holds one
# transaction, so its max is its total (the key's 60 ms would be more),
# while the cumulative max keeps the 60 ms.
$node->safe_psql('postgres', "SELECT 1 /* tag='k1' */;",
	extra_params => [ '-d', $node->connstr('postgres') . ' application_name=h_blk' ]);
is( query(q{
	SELECT count(*),
	       bool_or(xacts = 1 AND max_hold_time = total_hold_time
	               AND bucket_start > (SELECT min(bucket_start)
	                                     FROM pg_stat_transactions_history
	                                    WHERE application_name = 'h_blk'
	                                      AND tag = 'k1')),
	       max(max_hold_time) >= 60,
	       (SELECT max_hold_time >= 60 FROM pg_stat_transactions
	         WHERE application_name = 'h_blk' AND tag = 'k1')
	  FROM pg_stat_transactions_history
	 WHERE application_name = 'h_blk' AND tag = 'k1'}),
	'2|t|t|t',
	"a later bucket's max is its own longest transaction, not the key's");

# 3. More than 5 s of further activity: the ring wraps.
workload(6);
my ($hist_all, $cum_all, $oldest_after_reset) = split /\|/, query(qq{
	SELECT (SELECT sum(xacts) FROM pg_stat_transactions_history),
	       (SELECT sum(xacts) FROM pg_stat_transactions),
	       (SELECT min(bucket_start) > '$reset_after' FROM pg_stat_transactions_history)});
@b = buckets();
cmp_ok(scalar(@b), '<=', 6, 'after the wrap: at most 5 closed buckets and the open one ('
	  . scalar(@b) . ')');
cmp_ok(scalar(@b), '>=', 5, 'after the wrap: the ring is full');
is($oldest_after_reset, 't', 'the oldest bucket is no longer the first one');
@bad_len = grep { $_->[4] != 1 || $_->[5] ne 't' || $_->[6] ne 't' || $_->[7] ne 't' } @b;
is_deeply(\@bad_len, [], 'all buckets last 1 s, aligned and consecutive');
ok(($b[-1][0] cmp $b[0][0]) > 0, 'buckets are in order');
cmp_ok($hist_all, '<', $cum_all,
	"buckets that left the ring no longer count ($hist_all < $cum_all)");
@too_many = grep { $_->[2] > 4 || $_->[3] > 1 } @b;
is_deeply(\@too_many, [], 'still at most history_keys + 1 rows per bucket');

# the oldest bucket moves forward with time
my $oldest = $b[0][0];
usleep(1_200_000);
query('SELECT 1');
usleep(1_200_000);
is(query(qq{SELECT min(bucket_start) > '$oldest' FROM pg_stat_transactions_history}),
	't', 'the oldest bucket moves forward');

# 4. Reset clears the history: left are the reset's own transaction and
# nothing before it.
my ($before2) = query('SELECT clock_timestamp()');
query('SELECT pg_stat_transactions_reset()');
is( query(qq{
	SELECT count(*), sum(xacts), bool_and(application_name = 'reader'),
	       bool_and(bucket_start >= '$before2')
	  FROM pg_stat_transactions_history}),
	'1|1|t|t',
	'after a reset the history holds only the reset transaction');

my @errors = pgxt_log_errors($node);
is_deeply(\@errors, [], 'no error in the server log');

$node->stop;
done_testing();

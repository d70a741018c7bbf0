# Parallel query: the workers of a parallel plan run the executor hooks too,
# but their work belongs to the leader's transaction.  A query that
# EXPLAIN ANALYZE shows launching two workers is counted once, with one
# statement; so is an explicit block of two parallel queries, and a
# parallel query that fails.  While a parallel query runs, the activity
# view shows the leader only.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgxtTest;

my $node = pgxt_node('parallel', 'max_worker_processes = 8',
	'max_parallel_workers = 8');
$node->safe_psql('postgres', q{
	CREATE TABLE big (id int NOT NULL, pad text NOT NULL);
	INSERT INTO big SELECT g, repeat('x', 20) FROM generate_series(1, 100000) g;
	VACUUM ANALYZE big;
});

# Connection string of a session under application_name $app whose plans
# go parallel whenever they can, with two workers per Gather.
sub parallel_connstr
{
	my ($app) = @_;
	my $opts = join(' ', map { "-c $_" }
		  qw(parallel_setup_cost=0 parallel_tuple_cost=0
		  min_parallel_table_scan_size=0 max_parallel_workers_per_gather=2));
	return $node->connstr('postgres') . " application_name=$app options='$opts'";
}

# Run $sql (one psql call, no other statement) under application_name $app.
sub run_as
{
	my ($app, $sql, %params) = @_;
	return $node->psql('postgres', $sql, extra_params => [ '-d', parallel_connstr($app) ],
		%params);
}

my $query = 'SELECT count(*) FROM big WHERE pad <> id::text';
my $failing = 'SELECT count(*) FROM big WHERE 1 / (id - 77777) > 0';

# every query below has a parallel plan (checked under another name)
for my $q ($query, 'SELECT max(id) FROM big', $failing)
{
	like($node->safe_psql('postgres', "EXPLAIN (COSTS OFF) $q",
			extra_params => [ '-d', parallel_connstr('par_plans') ]),
		qr/Gather\b.*Workers Planned: 2/s, "parallel plan: $q");
}

# EXPLAIN ANALYZE: a Gather that launched two workers, one transaction
my ($ret, $out, $err) =
  run_as('par_explain', "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $query");
is($ret, 0, 'EXPLAIN ANALYZE ran') or diag($err);
like($out, qr/Gather/, 'the plan has a Gather');
like($out, qr/Workers Launched: 2\b/, 'two workers were launched');
my $s = pgxt_stats($node, 'par_explain')->{''} // {};
is($s->{xacts}, 1, 'EXPLAIN ANALYZE: one transaction');
is($s->{commits}, 1, 'EXPLAIN ANALYZE: one commit');
is($s->{statements}, 1, 'EXPLAIN ANALYZE: one statement');

# the same query, plain: counted once, one statement, read-only
($ret, $out, $err) = run_as('par_select', $query);
is($ret, 0, 'parallel SELECT ran') or diag($err);
is($out, '100000', 'parallel SELECT counted all rows');
$s = pgxt_stats($node, 'par_select')->{''} // {};
is($s->{xacts}, 1, 'parallel SELECT: one transaction');
is($s->{commits}, 1, 'parallel SELECT: one commit');
is($s->{statements}, 1, 'parallel SELECT: one statement');
is($s->{readonly_xacts}, 1, 'parallel SELECT: read-only');
is($s->{explicit_xacts}, 0, 'parallel SELECT: implicit');

# two parallel queries in one block: one transaction, two statements
($ret, $out, $err) =
  run_as('par_block', "BEGIN; $query; SELECT max(id) FROM big; COMMIT;");
is($ret, 0, 'block of parallel queries ran') or diag($err);
$s = pgxt_stats($node, 'par_block')->{''} // {};
is($s->{xacts}, 1, 'parallel block: one transaction');
is($s->{commits}, 1, 'parallel block: one commit');
is($s->{statements}, 2, 'parallel block: two statements');
is($s->{explicit_xacts}, 1, 'parallel block: explicit');

# a parallel query failing (in a worker or the leader): one rollback
($ret, $out, $err) = run_as('par_error', $failing);
isnt($ret, 0, 'failing parallel query failed');
like($err, qr/division by zero/, 'with division by zero');
$s = pgxt_stats($node, 'par_error')->{''} // {};
is($s->{xacts}, 1, 'failed parallel query: one transaction');
is($s->{rollbacks}, 1, 'failed parallel query: one rollback');
is($s->{statements}, 1, 'failed parallel query: one statement');

# while a slow parallel query runs, its workers are up, and the activity
# view has one row for it: the leader's
my $bg = $node->background_psql('postgres',
	extra_params => [ '-d', parallel_connstr('par_slow') ]);
$bg->query_until(qr/started/, q{
\echo started
SELECT count(pg_sleep(0.2)) FROM big WHERE id % 4000 = 0;
});
my $leader = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE application_name = 'par_slow' AND backend_type = 'client backend'");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM pg_stat_activity WHERE leader_pid = $leader AND backend_type = 'parallel worker'"),
	'the slow query runs with two workers');
is($node->safe_psql('postgres',
	"SELECT string_agg(pid || ' ' || state || ' ' || statements, ',') FROM pg_stat_transactions_activity WHERE application_name = 'par_slow'"),
	"$leader active 1", 'activity view: only the leader, active, one statement');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_transactions_activity a JOIN pg_stat_activity s USING (pid) WHERE s.backend_type <> 'client backend'"),
	'0', 'activity view: no parallel worker anywhere');
$bg->quit;
$s = pgxt_stats($node, 'par_slow')->{''} // {};
is($s->{xacts}, 1, 'slow parallel query: one transaction');
is($s->{statements}, 1, 'slow parallel query: one statement');
# 25 sleeps of 0.2 s shared by the leader and two workers: 5 s / 3
cmp_ok($s->{total_active_time}, '>=', 1600, 'slow parallel query: active for its run time');

# (the failing query: its error makes the leader stop the other workers,
# and a worker starting late finds the query's shared memory gone: its
# segment, or the area in it, depending on how late; 13 words a stopped
# worker's message as a connection's)
is_deeply(
	[
		pgxt_log_errors($node, qr/division by zero/,
			qr/terminating background worker "parallel worker" due to administrator command/,
			qr/could not map dynamic shared memory segment/,
			qr/could not attach to dynamic shared area/,
			pgxt_server_version($node) < 140000
			? qr/FATAL:  terminating connection due to administrator command/
			: ())
	],
	[],
	'no unexpected error in the server log');

$node->stop;
done_testing();

# Concurrency: pgbench with 8 clients runs three weighted custom scripts,
# each tagging its transactions differently (SET LOCAL in a block, a
# sqlcommenter comment on an autocommit statement, a comment in a block
# that rolls back).  pgbench's per-transaction log says how many
# transactions each script ran; the per-tag counters must equal them
# exactly (commits, rollbacks, statements, explicit and read-only
# transactions derived from each script's shape), under the simple, the
# extended and the prepared protocol alike, each run under its own
# application_name (PGAPPNAME).  Times are checked against the client's:
# per tag, the hold time is at most the sum of pgbench's latencies, and
# for the script that pauses (\sleep) inside its block, the idle time
# covers the pauses and the active time leaves room for them.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgxtTest;

my $clients = 8;
my $per_client = 400;    # -t: transactions per client
my $pause_ms = 1;        # script a's client-side pause inside its block
# pgbench's latencies and the server's times are truncated to 1 us
my $granularity_ms = 0.002;

my $node = pgxt_node('concurrency');
$node->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
	INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g;
});

# The scripts, with the counters one transaction of each adds to its tag:
# statements are the top-level statements other than transaction control.
# Each ends with a meta-command, so that pgbench reads the clock for the
# transaction's end after the last result (see 040_accuracy.pl).
my %scripts = (
	a => {
		weight => 3,
		sql => qq{\\set id random(1, 100)
BEGIN;
SET LOCAL postgres_extension.tag = 'a';
UPDATE t SET v = v + 1 WHERE id = :id;
\\sleep $pause_ms ms
SELECT v FROM t WHERE id = :id;
COMMIT;
\\set end_of_xact 1
},
		pause_ms => $pause_ms,
		per_xact => { commits => 1, rollbacks => 0, statements => 3,
			explicit_xacts => 1, readonly_xacts => 0 },
	},
	b => {
		weight => 2,
		sql => q{\set id random(1, 100)
SELECT v FROM t WHERE id = :id /* tag='b' */;
\set end_of_xact 1
},
		per_xact => { commits => 1, rollbacks => 0, statements => 1,
			explicit_xacts => 0, readonly_xacts => 1 },
	},
	c => {
		weight => 1,
		sql => q{\set id random(1, 100)
BEGIN;
UPDATE t SET v = v - 1 WHERE id = :id /* tag='c' */;
SELECT v FROM t WHERE id = :id;
ROLLBACK;
\set end_of_xact 1
},
		# the block wrote, so it is not read-only
		per_xact => { commits => 0, rollbacks => 1, statements => 2,
			explicit_xacts => 1, readonly_xacts => 0 },
	},
);
my @tags = sort keys %scripts;

# Run pgbench with the given protocol under application_name $app; return
# the number of transactions each script (by tag) ran and the sum of their
# latencies (ms).  Both come from pgbench's per-transaction logs (-l, one
# file per thread, the 3rd field is the latency in us, the 4th the
# script's number): the "SQL script N" summary is not exact with several
# threads (pgbench adds to it without a lock).
sub run_bench
{
	my ($mode, $app) = @_;
	my @files;
	for my $tag (@tags)
	{
		my $file = $node->basedir . "/script_${mode}_$tag.sql";
		append_to_file($file, $scripts{$tag}{sql});
		push @files, '-f', "$file\@$scripts{$tag}{weight}";
	}
	my $logdir = $node->basedir . "/log_$mode";
	mkdir($logdir) or die "mkdir $logdir: $!";

	local $ENV{PGAPPNAME} = $app;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', $clients, '-j', 2, '-t', $per_client, '-M', $mode,
			'-l', "--log-prefix=$logdir/tx", @files, 'postgres'
		],
		'>', \$stdout, '2>', \$stderr);
	ok($ok, "pgbench -M $mode ran") or diag($stderr);
	note($stdout);

	my $total = $clients * $per_client;
	like($stdout,
		qr/number of transactions actually processed: $total\/$total/,
		"-M $mode: all $total transactions processed");
	pgxt_pgbench_no_failure($stdout, "-M $mode: no failed transaction");

	# "client_id transaction_no time script_no time_epoch time_us"
	my (%ran, %latency_ms);
	my $lines = 0;
	opendir(my $dh, $logdir) or die "opendir $logdir: $!";
	for my $log (grep { /^tx\./ } readdir($dh))
	{
		for my $line (split /\n/, slurp_file("$logdir/$log"))
		{
			my @f = split / /, $line;
			$ran{ $tags[ $f[3] ] }++;
			$latency_ms{ $tags[ $f[3] ] } += $f[2] / 1000.0;
			$lines++;
		}
	}
	closedir($dh);
	is($lines, $total, "-M $mode: the logs have $total transactions");
	return (\%ran, \%latency_ms);
}

for my $mode (qw(simple extended prepared))
{
	my $app = "bench_$mode";
	my ($ran, $latency_ms) = run_bench($mode, $app);
	my $stats = pgxt_stats($node, $app);

	# every transaction of the run is under one of the three tags
	is_deeply([ sort keys %$stats ], \@tags,
		"-M $mode: exactly the tags a, b, c");

	for my $tag (@tags)
	{
		my $n = $ran->{$tag} // 0;
		my $row = $stats->{$tag} // {};
		ok($n > 0, "-M $mode: script $tag ran ($n)");
		is($row->{xacts}, $n, "-M $mode, tag $tag: xacts");
		for my $c (sort keys %{ $scripts{$tag}{per_xact} })
		{
			is($row->{$c}, $n * $scripts{$tag}{per_xact}{$c},
				"-M $mode, tag $tag: $c");
		}
		# times: every transaction took some time, within the client's
		# latency; idle time covers the client's pauses
		my $client_ms = $latency_ms->{$tag} // 0;
		my $paused_ms = $n * ($scripts{$tag}{pause_ms} // 0);
		cmp_ok($row->{min_hold_time}, '>', 0, "-M $mode, tag $tag: min hold > 0");
		cmp_ok($row->{total_hold_time}, '<=', $client_ms + $n * $granularity_ms,
			"-M $mode, tag $tag: hold <= the client's latencies ($client_ms ms)");
		cmp_ok($row->{total_idle_time}, '>=', $paused_ms,
			"-M $mode, tag $tag: idle >= the client's pauses ($paused_ms ms)");
		cmp_ok($row->{total_active_time}, '<=', $client_ms - $paused_ms + $n * $granularity_ms,
			"-M $mode, tag $tag: active <= the client's latencies less its pauses");
	}
}

# all the work was accounted, and no session is left in a transaction
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_transactions_activity WHERE application_name LIKE 'bench%'"),
	'0', 'no bench session left in the activity view');
is_deeply([ pgxt_log_errors($node) ], [], 'no error in the server log');

$node->stop;
done_testing();

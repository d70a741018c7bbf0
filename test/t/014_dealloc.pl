# Eviction: with postgres_extension.max = 100 (the minimum), 300 distinct
# tags, one transaction each, leave at most 100 rows; every key that was
# created is either still there or counted in pg_stat_transactions_info's
# dealloc.  Then pgbench clients create random tags concurrently while
# entries are evicted: every transaction succeeds, the store stays within
# its bound, a busy key running alongside keeps exact counts, and the
# server logs no error or warning.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgxtTest;

my $max = 100;
my $ntags = 300;

my $node = pgxt_node('dealloc', "postgres_extension.max = $max");
is($node->safe_psql('postgres', 'SHOW postgres_extension.max'), $max,
	"max is $max");

# rows and dealloc, read by one statement (no commit of the reader between
# the two reads)
sub rows_and_dealloc
{
	my ($where) = @_;
	return split /\|/, $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM pg_stat_transactions $where), dealloc FROM pg_stat_transactions_info");
}

# 1. after a reset, one session runs 300 statements, each tagged by a
# comment with a tag of its own: 300 keys, plus the reset's own
# transaction's key (the reader's)
$node->safe_psql('postgres', 'SELECT pg_stat_transactions_reset()');
my $script = join('', map { "SELECT $_ /* tag='tag_$_' */;\n" } 1 .. $ntags);
my ($ret, $out, $err) = $node->psql('postgres', $script,
	extra_params => [ '-d', $node->connstr('postgres') . ' application_name=dl_serial' ]);
is($ret, 0, "$ntags tagged statements ran") or diag($err);
is($out, join("\n", 1 .. $ntags), 'each returned its row');

my ($rows, $dealloc) = rows_and_dealloc('');
cmp_ok($rows, '<=', $max, "at most $max rows ($rows)");
cmp_ok($dealloc, '>', 0, "dealloc > 0 ($dealloc)");
is($rows + $dealloc, $ntags + 1,
	'every key created since the reset is a row or was deallocated');

# the survivors are intact: one transaction, one statement each
my $serial = pgxt_stats($node, 'dl_serial');
my @bad = grep {
	$_ !~ /^tag_\d+$/
	  || $serial->{$_}{xacts} != 1
	  || $serial->{$_}{statements} != 1
} keys %$serial;
ok(scalar(keys %$serial) > 0, 'some tags survived (' . scalar(keys %$serial) . ')');
is_deeply(\@bad, [], 'each surviving tag has one transaction, one statement');

# Start pgbench on script $file under application_name $app; returns the
# IPC::Run handle and refs to its stdout and stderr.
sub pgbench_start
{
	my ($app, $file, @opts) = @_;
	my ($stdout, $stderr) = ('', '');
	local $ENV{PGAPPNAME} = $app;
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			@opts, '-f', $file, 'postgres'
		],
		'>', \$stdout, '2>', \$stderr);
	return ($h, \$stdout, \$stderr);
}

# Wait for a pgbench started by pgbench_start; check that it ran $total
# transactions, none failed.
sub pgbench_finish
{
	my ($name, $total, $h, $stdout, $stderr) = @_;
	ok($h->finish, "$name: pgbench ran") or diag($$stderr);
	like($$stdout,
		qr/number of transactions actually processed: $total\/$total/,
		"$name: all $total transactions processed");
	pgxt_pgbench_no_failure($$stdout, "$name: none failed");
}

# 2. concurrent clients creating random tags (SET cannot take a bind
# parameter: simple protocol), eviction under way all along, while one
# client runs transactions under a single key, "steady".  Steady is used
# before the storm, so its usage keeps it from eviction: its counters must
# come out exact (its backend caches the entry between transactions).
my $clients = 4;
my $per_client = 200;
my $total = $clients * $per_client;
my $random_file = $node->basedir . '/random_tag.sql';
append_to_file($random_file, q{\set t random(1, 1000000000)
BEGIN;
SET LOCAL postgres_extension.tag = :t;
SELECT :t;
COMMIT;
});
my $steady_file = $node->basedir . '/steady.sql';
append_to_file($steady_file, q{\set t random(1, 1000)
SELECT :t /* tag='steady' */;
});
my $warmup = 50;
my $steady_n = 600;
pgbench_finish('steady warm-up', $warmup,
	pgbench_start('dl_steady', $steady_file, '-c', 1, '-t', $warmup, '-M', 'prepared'));
my $since = $node->safe_psql('postgres',
	"SELECT stats_since FROM pg_stat_transactions WHERE application_name = 'dl_steady'");

my @storm = pgbench_start('dl_bench', $random_file,
	'-c', $clients, '-j', 2, '-t', $per_client, '-M', 'simple');
my @steady = pgbench_start('dl_steady', $steady_file,
	'-c', 1, '-t', $steady_n, '-M', 'prepared');
pgbench_finish('random tags', $total, @storm);
pgbench_finish('steady', $steady_n, @steady);

my ($rows2, $dealloc2) = rows_and_dealloc('');
cmp_ok($rows2, '<=', $max, "after the storm: at most $max rows ($rows2)");
# at least the random keys beyond what fits were evicted (a repeat of a
# random tag would be one key less: 800 draws among 10^9 hardly repeat)
cmp_ok($dealloc2 - $dealloc, '>=', $total - $max,
	"after the storm: at least $total - $max more deallocations ("
	  . ($dealloc2 - $dealloc) . ')');
my $bench = pgxt_stats($node, 'dl_bench');
@bad = grep {
	$_ !~ /^\d+$/
	  || $bench->{$_}{xacts} < 1
	  || $bench->{$_}{statements} != 2 * $bench->{$_}{xacts}
} keys %$bench;
is_deeply(\@bad, [], 'each surviving random tag: 2 statements per transaction');

my $steady = pgxt_stats($node, 'dl_steady');
is_deeply([ keys %$steady ], ['steady'], 'steady: one key');
is($node->safe_psql('postgres',
	"SELECT stats_since FROM pg_stat_transactions WHERE application_name = 'dl_steady'"),
	$since, 'steady: never evicted (same stats_since)');
my $n = $warmup + $steady_n;
is(join('/', map { $steady->{steady}{$_} } qw(xacts commits statements readonly_xacts)),
	"$n/$n/$n/$n", "steady: exactly $n transactions, commits, statements, read-only");

# 3. a backend whose key was evicted records under that key again: the
# entry it remembers from its previous transaction is gone, and the new
# transaction must land in a new entry of its own key
my $x = $node->background_psql('postgres',
	extra_params => [ '-d', $node->connstr('postgres') . ' application_name=dl_cached' ]);
$x->query_safe("SELECT 1 /* tag='cached' */");
my $cached = pgxt_stats($node, 'dl_cached');
is($cached->{cached}{xacts}, 1, 'cached key: one transaction');
my $storm_file = $node->basedir . '/random_tag_2.sql';
append_to_file($storm_file, slurp_file($random_file));
pgbench_finish('second storm', $total,
	pgbench_start('dl_bench2', $storm_file,
		'-c', $clients, '-j', 2, '-t', $per_client, '-M', 'simple'));
is_deeply(pgxt_stats($node, 'dl_cached'), {},
	'cached key: evicted by the storm');
$x->query_safe("SELECT 2 /* tag='cached' */");
$x->quit;
$cached = pgxt_stats($node, 'dl_cached');
is($cached->{cached}{xacts} // 0, 1,
	'cached key: the next transaction is recorded under its key again');
my ($rows3) = rows_and_dealloc('');
cmp_ok($rows3, '<=', $max, "after the second storm: at most $max rows ($rows3)");

is_deeply([ pgxt_log_errors($node) ], [], 'no error or warning in the server log');

$node->stop;
done_testing();

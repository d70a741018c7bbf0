# Eviction: with postgres_extension.max = 100 (the minimum), 300 distinct
# tags, one transaction each, leave at most 100 rows; every key that was
# created is either still there or counted in pg_stat_transactions_info's
# dealloc.  Then pgbench clients create random tags concurrently while
# entries are evicted: every transaction succeeds, the store stays within
# its bound, and the server logs no error or warning.
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
	connstr => $node->connstr('postgres') . ' application_name=dl_serial');
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

# 2. concurrent clients creating random tags (SET cannot take a bind
# parameter: simple protocol), eviction under way all along
my $clients = 4;
my $per_client = 200;
my $total = $clients * $per_client;
my $file = $node->basedir . '/random_tag.sql';
append_to_file($file, q{\set t random(1, 1000000000)
BEGIN;
SET LOCAL postgres_extension.tag = :t;
SELECT :t;
COMMIT;
});
{
	local $ENV{PGAPPNAME} = 'dl_bench';
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', $clients, '-j', 2, '-t', $per_client, '-M', 'simple',
			'-f', $file, 'postgres'
		],
		'>', \$stdout, '2>', \$stderr);
	ok($ok, 'pgbench ran') or diag($stderr);
	like($stdout, qr/number of transactions actually processed: $total\/$total/,
		"all $total transactions processed");
	like($stdout, qr/number of failed transactions: 0 /, 'none failed');
}
my ($rows2, $dealloc2) = rows_and_dealloc('');
cmp_ok($rows2, '<=', $max, "after pgbench: at most $max rows ($rows2)");
# at least the random keys beyond what fits were evicted (a repeat of a
# random tag would be one key less: 800 draws among 10^9 hardly repeat)
cmp_ok($dealloc2 - $dealloc, '>=', $total - $max,
	"after pgbench: at least $total - $max more deallocations (" . ($dealloc2 - $dealloc) . ')');
my $bench = pgxt_stats($node, 'dl_bench');
@bad = grep { $_ !~ /^\d+$/ || $bench->{$_}{xacts} < 1
	  || $bench->{$_}{statements} != 2 * $bench->{$_}{xacts} } keys %$bench;
is_deeply(\@bad, [], 'each surviving random tag: 2 statements per transaction');

is_deeply([ pgxt_log_errors($node) ], [], 'no error or warning in the server log');

$node->stop;
done_testing();

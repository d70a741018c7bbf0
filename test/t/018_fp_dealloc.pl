# Eviction of fingerprints: with postgres_extension.fingerprints_max = 100
# (the minimum), one transaction of a busy fingerprint run 50 times, then
# 324 transactions of distinct fingerprints, one each, leave at most 100
# rows; every fingerprint created since the reset is either still there or
# counted in pg_stat_transactions_info's fingerprint_dealloc; the busy one,
# the most used, is never evicted and keeps its exact counts; and the
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
my $ncols = 18;

my $node = pgxt_node('fp_dealloc', "postgres_extension.fingerprints_max = $max");
is($node->safe_psql('postgres', 'SHOW postgres_extension.fingerprints_max'),
	$max, "fingerprints_max is $max");

# a statement shape (query id) per column: SELECT cK FROM fpd
$node->safe_psql('postgres',
	'CREATE TABLE fpd (' . join(', ', map { "c$_ int" } 1 .. $ncols + 2) . ')');

sub run_as
{
	my ($app, $script) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $script,
		extra_params =>
		  [ '-d', $node->connstr('postgres') . " application_name=$app" ]);
	is($ret, 0, "$app: its transactions ran") or diag($err);
}

$node->safe_psql('postgres', 'SELECT pg_stat_transactions_reset()');

# the busy fingerprint: c1 then c2, 50 transactions
run_as('fpd_busy',
	"BEGIN; SELECT c1 FROM fpd; SELECT c2 FROM fpd; COMMIT;\n" x 50);

# 18 * 18 = 324 distinct fingerprints: cI then cJ, I and J from 3 to 20 (I
# = J is one step, a fingerprint of its own)
my $script = '';
for my $i (3 .. $ncols + 2)
{
	for my $j (3 .. $ncols + 2)
	{
		$script .= "BEGIN; SELECT c$i FROM fpd; SELECT c$j FROM fpd; COMMIT;\n";
	}
}
run_as('fpd_many', $script);

# rows and evictions, read by one statement; created since the reset: the
# reset's own transaction's fingerprint, the busy one, the 324
my ($rows, $dealloc, $busy_rows, $many_rows) = split /\|/,
  $node->safe_psql(
	'postgres', q{
	SELECT count(*), (SELECT fingerprint_dealloc FROM pg_stat_transactions_info),
	       count(*) FILTER (WHERE application_name = 'fpd_busy'),
	       count(*) FILTER (WHERE application_name = 'fpd_many')
	  FROM pg_stat_transactions_fingerprints});
cmp_ok($rows, '<=', $max, "at most $max rows ($rows)");
cmp_ok($dealloc, '>', 0, "fingerprints were evicted ($dealloc)");
is($rows + $dealloc, $ncols * $ncols + 2,
	'every fingerprint created since the reset is a row or was evicted');
cmp_ok($many_rows, '<', $ncols * $ncols,
	"some of the 324 were evicted ($many_rows left)");

# the busy one stayed, with its counts and its steps
is( $node->safe_psql(
		'postgres', q{
	SELECT xacts, commits, cardinality(queryids)
	  FROM pg_stat_transactions_fingerprints
	 WHERE application_name = 'fpd_busy'}),
	'50|50|2',
	'the most used fingerprint was not evicted and kept its counts');
is($busy_rows, 1, 'one fingerprint for the busy application');

# what was evicted is the least used: among the 324 (one transaction
# each), the ones left are the last ones run (the earlier ones lost usage
# to the decay at each eviction); the last one run, c20 then c20 (one
# step), is there
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM pg_stat_transactions_fingerprints f
	 WHERE application_name = 'fpd_many'
	   AND queryids = ARRAY[(SELECT queryid FROM pg_stat_statements
	                          WHERE query = 'SELECT c20 FROM fpd' LIMIT 1)]}),
	1,
	'the last fingerprint created is still there');

my @errors = pgxt_log_errors($node);
is(scalar(@errors), 0, 'no error or warning in the server log')
  or diag(join("\n", @errors));

$node->stop;
done_testing();

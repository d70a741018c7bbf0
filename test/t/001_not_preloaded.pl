# Without shared_preload_libraries, CREATE EXTENSION works and reading a
# view fails with an error that says to preload the library.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('not_preloaded');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION postgres_extension');
my ($ret, $out, $err) =
  $node->psql('postgres', 'SELECT * FROM pg_stat_transactions');
isnt($ret, 0, 'reading the view fails');
like($err, qr/postgres_extension must be loaded via "shared_preload_libraries"/,
	'the error says to preload the library');

($ret, $out, $err) =
  $node->psql('postgres', 'SELECT * FROM pg_stat_transactions_activity');
like($err, qr/shared_preload_libraries/, 'activity view says so too');

# after preloading, the same database reads fine
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'postgres_extension'");
$node->restart;
# nothing was tracked before; then the SELECT of one session is counted
# once it ended (its autocommit SET is housekeeping, counted apart)
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_transactions;
	SET application_name = 'after_preload';
	SELECT 1;
	SELECT xacts, statements FROM pg_stat_transactions
	 WHERE application_name = 'after_preload';}),
	"0\n1\n1|1", 'the view reads once preloaded, and counts');

$node->stop;
done_testing();

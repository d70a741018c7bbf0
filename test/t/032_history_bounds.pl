# Bounds of the history's settings.  history_size x (history_keys + 1) rows
# of shared memory may be absurd within each setting's range (100,000
# buckets of 10,001 rows: about 190 GB); such a combination must stop the
# server's start with a message that names the settings and the limit,
# rather than fail to map the memory (or, where memory is overcommitted,
# start and fail later).  A large combination under the limit starts, and
# its history works.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgxtTest;

my $node = PostgreSQL::Test::Cluster->new('history_bounds');
$node->init;
$node->append_conf('postgresql.conf', join("\n",
	"shared_preload_libraries = 'postgres_extension'",
	"postgres_extension.history_size = 100000",
	"postgres_extension.history_keys = 10000") . "\n");
my $started = $node->start(fail_ok => 1);
ok(!$started, 'the server refuses to start with 100000 buckets of 10001 rows');
like(slurp_file($node->logfile),
	qr/FATAL:  postgres_extension.history_size and postgres_extension.history_keys ask for \d+ MB of shared memory, more than the limit of 1024 MB\n.*DETAIL:  The history keeps history_size \(100000\) buckets of history_keys \+ 1 \(10001\) rows of \d+ bytes each\./,
	'the log says which settings ask for how much, and the limit');

# the longest ring of few keys is within the limit: it starts and records
$node->append_conf('postgresql.conf', join("\n",
	"postgres_extension.history_keys = 1",
	"postgres_extension.history_interval = '1h'") . "\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION postgres_extension');
$node->safe_psql('postgres', "SET application_name = 'b1'; SELECT 1; SELECT 2;");
$node->safe_psql('postgres', "SET application_name = 'b2'; SELECT pg_sleep(0.5);");
# one key kept per bucket (one-hour buckets: the open one holds it all),
# the longest holder; all others in the NULL row
is( $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE application_name = 'b2'),
	       count(*) FILTER (WHERE application_name = 'b1'),
	       sum(xacts) FILTER (WHERE application_name IS NULL) >= 3
	  FROM pg_stat_transactions_history}),
	'1|0|t',
	'a ring of 100000 buckets keeps the longest holder and folds the rest');
is_deeply(
	[ pgxt_log_errors($node, qr/FATAL:  postgres_extension.history_size and postgres_extension.history_keys ask for/) ],
	[], 'no other error in the server log');
$node->stop;
done_testing();

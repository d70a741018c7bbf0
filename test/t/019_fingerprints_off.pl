# With postgres_extension.fingerprints = off there is no fingerprint table:
# the folds of new keys (from a commit, from a session's exit, from a
# reader) must work without it.  Five tags of 4 autocommit transactions
# each, then 100 of a sixth (more than a slot's pending list, so that
# commits fold), in one session that then exits: the counts are exact, the
# fingerprint view is empty and says why, no backend crashed, and the
# server stops cleanly with the statistics saved and loads them back.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgxtTest;

my $node = pgxt_node('fp_off', 'postgres_extension.fingerprints = off');
like($node->safe_psql('postgres', 'SELECT fingerprints FROM pg_stat_transactions_info'),
	qr/^off/, 'fingerprints are off');
$node->safe_psql('postgres', 'SELECT pg_stat_transactions_reset()');

my $script = '';
for my $t (1 .. 5)
{
	$script .= "/*tag='off$t'*/ SELECT $t;\n" x 4;
}
$script .= "/*tag='busy'*/ SELECT 0;\n" x 100;
my ($ret, $out, $err) = $node->psql('postgres', $script,
	extra_params => [ '-d', $node->connstr('postgres') . ' application_name=fpoff' ]);
is($ret, 0, 'the session ran its 120 transactions') or diag($err);

my $counts = q{SELECT string_agg(tag || '=' || xacts || '/' || commits, ',' ORDER BY tag)
	  FROM pg_stat_transactions WHERE application_name = 'fpoff'};
my $expected = 'busy=100/100,off1=4/4,off2=4/4,off3=4/4,off4=4/4,off5=4/4';
is($node->safe_psql('postgres', $counts), $expected, 'exact counts per tag');

my ($stdout, $stderr) = ('', '');
$node->psql('postgres', 'SELECT count(*) FROM pg_stat_transactions_fingerprints',
	stdout => \$stdout, stderr => \$stderr);
is($stdout, '0', 'no fingerprint rows');
like($stderr, qr/transaction fingerprints are not recorded/, 'the view says why');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated/,
	'no backend crashed');
$node->start;
is($node->safe_psql('postgres', $counts), $expected,
	'the counts are saved and loaded back');
$node->stop;
done_testing();

# A backend keeps its ended transactions in its slot and folds them into
# the shared hash once per PGXT_PENDING_MAX (32) transactions of one key,
# when the key changes, or at exit; every reader drains the slots first.
# So a reader sees every transaction that ended before it started, however
# few a session that stays connected ran (below the batch, across a batch,
# across a key change), and a reset also discards what the slots hold.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgxtTest;

my $node = pgxt_node('pending');

my $app = 'pend_app';
my $s = $node->background_psql('postgres',
	extra_params =>
	  [ '-d', $node->connstr('postgres') . " application_name=$app" ]);

# Run $n autocommit statements in the session, tagged $tag by a comment
# unless $tag is empty.
sub run_xacts
{
	my ($n, $tag) = @_;
	my $comment = $tag eq '' ? '' : "/*tag='$tag'*/ ";
	$s->query_safe(join("\n", ("${comment}SELECT 1;") x $n));
}

# Transactions of the session per tag, read by another session, as
# "tag=xacts" joined by commas ('' is the untagged row).
sub seen
{
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(tag || '=' || xacts, ',' ORDER BY tag COLLATE "C")
		  FROM pg_stat_transactions WHERE application_name = '$app'});
}

# Each query_safe above sends one message per line; psql runs each line as
# its own autocommit transaction.
run_xacts(5, '');
is(seen(), '=5', 'five transactions of a connected session, below the batch, are seen');

run_xacts(40, '');
is(seen(), '=45', 'one batch folded and thirteen pending: all 45 seen');

run_xacts(3, 'x');
run_xacts(2, 'y');
is(seen(), '=45,x=3,y=2', 'a key change flushes the old key; each key counts exactly');

my $xacts = $node->safe_psql('postgres', qq{
	SELECT commits, rollbacks, statements, readonly_xacts
	  FROM pg_stat_transactions WHERE application_name = '$app' AND tag = ''});
is($xacts, '45|0|45|45', 'the counters of the untagged row are exact');

# Pending transactions of a session are part of what a reset discards.
run_xacts(4, 'y');
$node->safe_psql('postgres', 'SELECT pg_stat_transactions_reset()');
run_xacts(3, 'z');
is(seen(), 'z=3', 'a reset discards what the slots hold too');

# A session that leaves: its backend flushes at exit.
run_xacts(6, 'w');
$s->quit;
ok( pgxt_poll(
		$node,
		"SELECT string_agg(tag || '=' || xacts, ',' ORDER BY tag COLLATE \"C\")
		   FROM pg_stat_transactions WHERE application_name = '$app'",
		'w=6,z=3'),
	'a session that left: all its transactions are seen');

# The histogram of pg_stat_transactions_histogram adds up to the
# transactions (folded in batches, bucket by bucket).
my $hist = $node->safe_psql('postgres', qq{
	SELECT sum(h.xacts)
	  FROM pg_stat_transactions s,
	       LATERAL pg_stat_transactions_histogram(s.userid, s.dbid,
	                                              s.application_name, s.tag) h
	 WHERE s.application_name = '$app'});
is($hist, '9', 'the histograms hold every transaction');

is(join("\n", pgxt_log_errors($node)), '', 'no error in the server log');

$node->stop;
done_testing();

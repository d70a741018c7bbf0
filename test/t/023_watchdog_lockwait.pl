# The watchdog's idle limit ends only sessions that are really idle in
# transaction, waiting for their client.  A session whose next statement
# waits for a lock in parse analysis (before any executor or utility hook
# sees it, so its slot still says idle) is not ended by the idle limit.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my $node = PostgreSQL::Test::Cluster->new('watchdog_lockwait');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'postgres_extension'
postgres_extension.timeout_rules = 'app=waiter idle=1s'
});
$node->start;
$node->safe_psql('postgres',
	q{CREATE EXTENSION postgres_extension; CREATE TABLE t (n int); INSERT INTO t VALUES (1);});

# the lock holder: ACCESS EXCLUSIVE on t, in its own (unlimited) session
my $holder = $node->background_psql('postgres', on_error_stop => 0);
$holder->query_safe(q{SET application_name = 'holder'});
$holder->query_safe(q{BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE});

# the waiter: in a transaction, then a statement that blocks on the lock
# while its relation is opened in parse analysis
my $waiter = $node->background_psql('postgres', on_error_stop => 0);
$waiter->query_safe(q{SET application_name = 'waiter'});
$waiter->query_safe(q{BEGIN; SELECT 1});
my $waiter_pid = $waiter->query_safe(q{SELECT pg_backend_pid()});
$waiter->query_until(qr/^$/, "SELECT count(*) FROM t;\n");

# wait until it is blocked, then well past the idle limit
$node->poll_query_until('postgres',
	qq{SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $waiter_pid})
  or die 'the waiter never blocked on the lock';
sleep 2.5;

is( $node->safe_psql('postgres',
		qq{SELECT count(*) FROM pg_stat_activity WHERE pid = $waiter_pid}),
	'1', 'a session waiting for a lock in parse analysis is not ended as idle');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_transactions_timeouts WHERE application_name = 'waiter'}),
	'0', 'and no timeout event is recorded for it');

# release the lock: the waiter's statement completes; once it is really
# idle in transaction again, the limit applies
$holder->query_safe(q{COMMIT});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_transactions_timeouts
	  WHERE application_name = 'waiter' AND kind = 'idle' AND action = 'terminated'})
  or die 'the waiter, idle again, was never ended';
my $elapsed = $node->safe_psql('postgres',
	q{SELECT elapsed_ms FROM pg_stat_transactions_timeouts WHERE application_name = 'waiter'});
cmp_ok($elapsed, '>=', 1000, "ended once idle past the limit ($elapsed ms)");
cmp_ok($elapsed, '<', 1500, 'and within 500 ms of it');

$holder->quit;
eval { $waiter->quit };
$node->stop;
done_testing();

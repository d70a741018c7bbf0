# The watchdog ends sessions idle in transaction (25P03) or holding a
# transaction (25P04) past their limits, rolls their work back, spares
# everything else, and in timeout_action = log mode ends nothing but reports
# each transaction once.  pg_stat_transactions_timeouts and the timeouts
# column of pg_stat_transactions show exactly the events that happened.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use WatchdogTest;

my $node = watchdog_node('watchdog',
	[ 'max_prepared_transactions = 2',
	  "postgres_extension.timeout_rules = 'app=A idle=1s'" ],
	'CREATE TABLE t (app text, n int);');
is($node->safe_psql('postgres', $WATCHDOG), '1', 'the watchdog runs');

#### helpers ####

# Run sql in a session that may have lost its backend (a broken feature):
# returns psql's stderr, or undef if psql has exited.  Never dies.
sub try_query
{
	my ($s, $sql) = @_;
	return undef unless $s->{run}->pumpable;
	$s->{stderr} = '';
	my $ok = eval { $s->query($sql); 1 };
	return $ok ? $s->{stderr} : undef;
}

# The monitor session polls pg_stat_activity cheaply.
my $mon = watchdog_monitor($node);

# Poll until pid is gone or $deadline (absolute time) passes; returns the
# time it was first seen gone and the last time it was seen alive.
sub wait_gone
{
	my ($pid, $deadline) = @_;
	my $last_alive;
	while (1)
	{
		my $now = time;
		return (undef, $last_alive) if $now > $deadline;
		return ($now, $last_alive) unless alive($pid);
		$last_alive = $now;
		sleep 0.01;
	}
}

sub events
{
	my ($where) = @_;
	return $mon->query_safe(
		qq{SELECT application_name, tag, kind, limit_ms, action, rule
			 FROM pg_stat_transactions_timeouts WHERE $where ORDER BY seq});
}

#### idle limit: app A ends, app B and others survive ####

my $a1 = session('A');      # idle in transaction: ended
my $b1 = session('B');      # same, no limit: survives
my $a2 = session('A');      # active pg_sleep(3) in a transaction: survives
my $a3 = session('A');      # idle outside a transaction: survives
my $a4 = session('A');      # prepared its transaction, then idle: survives
my $a5 = session('A');      # idle in a failed transaction block: ended

$a4->query_safe(q{BEGIN; INSERT INTO t VALUES ('A-prepared', 4); PREPARE TRANSACTION 'a4'});
$a3->query_safe(q{SELECT 1});
$b1->query_safe(q{BEGIN; INSERT INTO t VALUES ('B', 1)});
my $a2_mark = send_sql($a2,
	q{BEGIN; INSERT INTO t VALUES ('A-active', 2); SELECT pg_sleep(3); COMMIT;});
$a5->query(q{BEGIN; INSERT INTO t VALUES ('A-aborted', 5); SELECT 1/0});
like($a5->{stderr}, qr/22012/, 'app A session in a failed transaction block');
$a1->query_safe(q{BEGIN; INSERT INTO t VALUES ('A', 1)});
my $t0 = time;    # the last statement of $a1 has finished

my ($gone, $last_alive) = wait_gone($a1->{pid}, $t0 + 1.5 + $MARGIN);
ok(defined $gone, 'idle-in-transaction session of app A is ended')
  and note sprintf('ended %.3f s after its last statement', $gone - $t0);
ok(defined $gone && $gone - $t0 <= 1.5 + $MARGIN,
	'... within 1.5 s (+ poll margin) of its last statement');
ok(defined $last_alive && $last_alive - $t0 >= 0.9,
	'... and not before its limit (alive at 0.9 s)')
  or diag(sprintf('last seen alive at %.3f s', ($last_alive // $t0) - $t0));

my $ev = $mon->query_safe(
	qq{SELECT kind, limit_ms, elapsed_ms, action, rule, application_name
		 FROM pg_stat_transactions_timeouts WHERE pid = $a1->{pid}});
my ($kind, $limit, $elapsed, $action, $rule, $evapp) = split /\|/, $ev;
is($kind,   'idle',            'event kind idle');
is($limit,  '1000',            'event limit 1000 ms');
is($action, 'terminated',      'event action terminated');
is($rule,   'rule 1 "app=A idle=1s"', 'event names the rule');
is($evapp,  'A',               'event names the application');
ok(defined $elapsed && $elapsed >= 1000 && $elapsed < 1500,
	"event elapsed_ms in [1000, 1500): " . ($elapsed // 'none'));

my $err = client_error($a1);
like($err, qr/FATAL:\s+25P03:/, 'client sees SQLSTATE 25P03');
like($err, qr/idle in transaction/, 'message says idle in transaction');
like($err, qr/1000 ms/, 'message gives the limit');
like($err, qr/rule 1 "app=A idle=1s"/, 'message names the rule');
unlike($a1->{stdout}, qr/still alive/, 'the session ran nothing more');
is($mon->query_safe(q{SELECT count(*) FROM t WHERE app = 'A'}),
	'0', 'the ended transaction was rolled back');

# the failed transaction block is idle in transaction too
is( $mon->query_safe(
		qq{SELECT kind, limit_ms, action, elapsed_ms >= 1000 AND elapsed_ms < 1500
			 FROM pg_stat_transactions_timeouts WHERE pid = $a5->{pid}}),
	'idle|1000|terminated|t',
	'idle in a failed transaction block: ended after 1 s');
like(client_error($a5), qr/FATAL:\s+25P03:/, '... and its client sees 25P03');

# the survivors, well past the limit
ok(wait_mark($a2, $a2_mark), 'active pg_sleep(3) of app A completes');
is($a2->{stderr}, '', '... without error (idle limit not applied while active)');
$a2->{stderr} = '';
is($mon->query_safe(q{SELECT count(*) FROM t WHERE app = 'A-active'}),
	'1', '... and its transaction committed');

ok(alive($b1->{pid}), 'app B idle in transaction survives');
is(try_query($b1, q{COMMIT}), '', 'app B can still COMMIT');
is($mon->query_safe(q{SELECT count(*) FROM t WHERE app = 'B'}),
	'1', '... and its row is there');

ok(alive($a3->{pid}), 'idle session of app A outside a transaction survives');
is(try_query($a3, q{SELECT 42}), '', '... and still answers');

ok(alive($a4->{pid}), 'session that prepared its transaction survives');
is($mon->query_safe(q{SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'a4'}),
	'1', 'the prepared transaction still exists');
$mon->query_safe(q{COMMIT PREPARED 'a4'});
is($mon->query_safe(q{SELECT count(*) FROM t WHERE app = 'A-prepared'}),
	'1', 'the prepared transaction commits');

is(events('true'),
	join("\n", (q{A||idle|1000|terminated|rule 1 "app=A idle=1s"}) x 2),
	'exactly two events so far');
watchdog_ok('after the idle test');

#### transaction limit on a tag ####

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET postgres_extension.timeout_rules = 'tag=report.* xact=2s';
	SELECT pg_reload_conf();
});
$node->poll_query_until('postgres',
	q{SELECT current_setting('postgres_extension.timeout_rules') = 'tag=report.* xact=2s'})
  or die 'reload not seen';
sleep 0.2;    # let the watchdog take the reload too

my $r1 = session('rep');    # tag report.daily: ended past 2 s
my $r2 = session('rep');    # tag web.daily: no limit
my $loop = join "\n", map { 'SELECT pg_sleep(0.3);' } 1 .. 12;
my $r2_mark = send_sql($r2,
	qq{BEGIN;\nSET LOCAL postgres_extension.tag = 'web.daily';\n}
	  . join("\n", map { 'SELECT pg_sleep(0.3);' } 1 .. 9) . "\nCOMMIT;");
my $tr = time;
my $r1_mark = send_sql($r1,
	qq{BEGIN;\nSET LOCAL postgres_extension.tag = 'report.daily';\n$loop\nCOMMIT;});
ok(!wait_mark($r1, $r1_mark), 'transaction tagged report.daily is ended');
my $r1_end = time - $tr;
note sprintf('psql of report.daily exited %.3f s after BEGIN', $r1_end);
ok($r1_end < 3.6, '... before its statements (3.6 s) would have finished');
$err = $r1->{stderr};
$r1->{run}->finish;
like($err, qr/FATAL:\s+25P04:/, 'client sees SQLSTATE 25P04');
like($err, qr/transaction limit of 2000 ms/, 'message names the transaction limit');
like($err, qr/rule 1 "tag=report\.\* xact=2s"/, 'message names the rule');

$ev = $mon->query_safe(
	qq{SELECT kind, limit_ms, elapsed_ms, action, tag
		 FROM pg_stat_transactions_timeouts WHERE pid = $r1->{pid}});
($kind, $limit, $elapsed, $action, my $tag) = split /\|/, $ev;
is($kind,   'transaction',  'event kind transaction');
is($limit,  '2000',         'event limit 2000 ms');
is($action, 'terminated',   'event action terminated');
is($tag,    'report.daily', 'event names the tag');
ok(defined $elapsed && $elapsed >= 2000 && $elapsed < 2500,
	"event elapsed_ms in [2000, 2500): " . ($elapsed // 'none'));

ok(wait_mark($r2, $r2_mark), 'the web.daily transaction of 2.7 s completes');
is($r2->{stderr}, '', '... without error');
watchdog_ok('after the transaction test');

#### timeout_action = log ####

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET postgres_extension.timeout_rules = 'app=L idle=1s';
	ALTER SYSTEM SET postgres_extension.timeout_action = 'log';
	SELECT pg_reload_conf();
});
$node->poll_query_until('postgres',
	q{SELECT current_setting('postgres_extension.timeout_action') = 'log'})
  or die 'reload not seen';
sleep 0.2;

my $log_offset = -s $node->logfile;
my $l1 = session('L');
$l1->query_safe(q{BEGIN; INSERT INTO t VALUES ('L', 1)});
sleep 3.3;    # three limit periods and more
ok(alive($l1->{pid}), 'log mode: idle session past its limit is not ended');
is(try_query($l1, q{COMMIT}), '', 'log mode: the session can COMMIT');
is($mon->query_safe(q{SELECT count(*) FROM t WHERE app = 'L'}),
	'1', 'log mode: its row is committed');
# a second transaction, over the limit once
try_query($l1, q{BEGIN; SELECT 1});
sleep 1.4;
is(try_query($l1, q{COMMIT}), '', 'log mode: the second transaction commits too');

is( events(q{application_name = 'L'}),
	join("\n", (q{L||idle|1000|logged|rule 1 "app=L idle=1s"}) x 2),
	'log mode: exactly one logged event per transaction');
my $logged = $mon->query_safe(
	q{SELECT min(elapsed_ms) >= 1000 AND max(elapsed_ms) < 1500
		FROM pg_stat_transactions_timeouts WHERE application_name = 'L'});
is($logged, 't', 'log mode: elapsed_ms in [1000, 1500)');
my $log = substr(slurp_file($node->logfile), $log_offset);
my @would = ($log =~ /would terminate \(timeout_action = log\) process $l1->{pid}: idle in transaction/g);
is(scalar @would, 2, 'log mode: two "would terminate" LOG lines');
unlike($log, qr/terminating process $l1->{pid}/, 'log mode: no termination logged');
watchdog_ok('after the log-mode test');

#### what the views show ####

is( $mon->query_safe(
		q{SELECT application_name, kind, action, count(*)
			FROM pg_stat_transactions_timeouts
		   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3}),
	"A|idle|terminated|2\nL|idle|logged|2\nrep|transaction|terminated|1",
	'pg_stat_transactions_timeouts: every event, once');

is( $mon->query_safe(
		q{SELECT application_name, tag, sum(timeouts)
			FROM pg_stat_transactions
		   WHERE application_name IN ('A', 'B', 'L', 'rep')
		   GROUP BY 1, 2 ORDER BY 1, 2}),
	"A||2\nB||0\nL||2\nrep||0\nrep|report.daily|1\nrep|web.daily|0",
	'pg_stat_transactions.timeouts matches the events');
is( $mon->query_safe(
		q{SELECT sum(rollbacks) FROM pg_stat_transactions
		   WHERE application_name = 'A'}),
	'2', 'the two ended transactions of app A count as rollbacks');
is( $mon->query_safe(
		q{SELECT count(*) FROM pg_stat_activity
		   WHERE backend_type = 'autovacuum launcher'}),
	'1', 'the autovacuum launcher is untouched');

# no FATAL/ERROR in the log other than those the watchdog caused
my @bad = grep {
	/\b(ERROR|FATAL|PANIC):/
	  && !/terminating connection because|division by zero/ }
  split /\n/, slurp_file($node->logfile);
is_deeply(\@bad, [], 'no unexpected errors in the server log');

for my $s ($b1, $a2, $a3, $a4, $r2, $l1, $mon)
{
	$s->{run}->pumpable ? $s->quit : $s->{run}->finish;
}
$node->stop;
done_testing();

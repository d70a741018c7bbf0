# Every transaction state, exactly, with limits enforced by the backend:
# - a statement that fails inside a client's savepoint leaves the session
#   "idle in transaction (aborted)", and its idle limit applies;
# - a limit never ends a transaction that has begun to commit, and never
#   tells a client "rolled back" about a commit that succeeded (a commit
#   waiting for a synchronous standby; a deferred trigger sleeping across
#   the limit);
# - a verdict never lands on the next transaction: a COMMIT sent right at
#   the idle deadline either ends the transaction or the session, never
#   both, and the counters say which;
# - what the client reads does not depend on the logging settings
#   (log_min_messages = panic throughout);
# - parse analysis is active time under the extended protocol, and an
#   autocommit transaction has no idle time;
# - at most 100 rules, and a backend matches its own: 40 sessions under 100
#   costly rules end on time.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use WatchdogTest;

my $rules = join '; ', 'app=sp* idle=1s', 'app=commit* xact=1s',
  'app=next* idle=1s', 'app=quiet idle=1s';
my $node = watchdog_node('states',
	[ 'log_min_messages = panic', 'max_connections = 60',
	  "postgres_extension.timeout_rules = '$rules'" ],
	q{CREATE TABLE done (id int);
	  CREATE TABLE lk (id int);
	  CREATE FUNCTION sleep_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
	  BEGIN
	    PERFORM pg_sleep(current_setting('race.sleep')::float8);
	    RETURN NULL;
	  END $$;
	  CREATE TABLE slow (id int);
	  CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow
	    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sleep_at_commit();});
my $mon = watchdog_monitor($node);

# The counters of one application: "xacts|commits|rollbacks|timeouts"
# (session() runs one transaction of its own, SELECT pg_backend_pid()).
sub counters
{
	my ($app) = @_;
	return $mon->query_safe(
		qq{SELECT coalesce(sum(xacts), 0) || '|' || coalesce(sum(commits), 0) || '|' ||
		          coalesce(sum(rollbacks), 0) || '|' || coalesce(sum(timeouts), 0)
		     FROM pg_stat_transactions WHERE application_name = '$app'});
}

sub events_of
{
	my ($pid) = @_;
	return $mon->query_safe(
		qq{SELECT count(*) FROM pg_stat_transactions_timeouts WHERE pid = $pid});
}

# Wait until pid is gone or $secs pass; true if gone.
sub gone_within
{
	my ($pid, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		return 1 unless alive($pid);
		sleep 0.01;
	}
	return !alive($pid);
}

#### a failed statement inside a savepoint ####

my $sp = session('sp-fail');
$sp->query(q{BEGIN; SAVEPOINT s; SELECT 1 / 0;});
my ($ours, $core) = split /\|/, $mon->query_safe(
	qq{SELECT a.state, s.state FROM pg_stat_transactions_activity a
	     JOIN pg_stat_activity s USING (pid) WHERE pid = $sp->{pid}});
is($ours, 'idle in transaction (aborted)', 'savepoint failed: the activity view says aborted');
is($core, $ours, '... as pg_stat_activity does');
my $t0 = time;
ok(gone_within($sp->{pid}, 1.0 + 0.8 + $MARGIN), 'savepoint failed: the idle limit ends it');
cmp_ok(time - $t0, '>=', 0.8, '... not before its limit');
like(client_error($sp), qr/FATAL:\s+25P03:.*rule 1 "app=sp\* idle=1s"/,
	'... and its client reads 25P03 naming the rule, with log_min_messages = panic');
is(counters('sp-fail'), '2|1|1|1', 'savepoint failed: one rollback, timed out');

my $sp2 = session('sp-back');
$sp2->query(q{BEGIN; SAVEPOINT s; SELECT 1 / 0;});
$sp2->{stderr} = '';
$sp2->query_safe(q{ROLLBACK TO s;});
is($mon->query_safe(
		qq{SELECT state FROM pg_stat_transactions_activity WHERE pid = $sp2->{pid}}),
	'idle in transaction', 'ROLLBACK TO: idle in transaction again');
$sp2->query_safe(q{SELECT 2; COMMIT;});
is(counters('sp-back'), '2|2|0|0', 'ROLLBACK TO: the block commits');
$sp2->quit;

#### a commit that has begun is not ended by a limit ####

# A commit waiting for a synchronous standby that does not exist: the
# commit record is written, the wait never ends by itself.  The limit does
# not end it; a cancel does, and the transaction has committed.
$node->safe_psql('postgres',
	q{ALTER SYSTEM SET synchronous_standby_names = 'nobody'; SELECT pg_reload_conf();});
my $sync = session('commit-sync');
my $mark = send_sql($sync, q{BEGIN; INSERT INTO done VALUES (1); COMMIT;});
sleep 1.0 + 1.0;
ok(alive($sync->{pid}), 'a commit waiting for a standby outlives its 1 s limit');
is(events_of($sync->{pid}), '0', '... with no event');
$mon->query_safe("SELECT pg_cancel_backend($sync->{pid})");
ok(wait_mark($sync, $mark), 'after a cancel the session goes on');
unlike($sync->{stderr}, qr/25P04|rolled back/, '... and was never told "rolled back"');
is($mon->query_safe(q{SELECT count(*) FROM done WHERE id = 1}), '1', '... it did');
$sync->quit;
$node->safe_psql('postgres',
	q{ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf();});
$node->poll_query_until('postgres', q{SELECT current_setting('synchronous_standby_names') = ''});

# A deferred trigger that sleeps at commit, across the transaction limit or
# not: either the transaction commits and the session lives, or it is
# rolled back, its row is absent and the client reads 25P04.
for my $sleep (0.5, 0.9, 0.97, 1.03, 1.1, 1.5)
{
	my $app = "commit-$sleep";
	my $s = session($app);
	my $m = send_sql($s,
		qq{BEGIN; SET LOCAL race.sleep = '$sleep'; INSERT INTO slow VALUES (1000 * $sleep); COMMIT;});
	my $finished = wait_mark($s, $m);
	my $rows = $mon->query_safe(qq{SELECT count(*) FROM slow WHERE id = 1000 * $sleep});
	if ($finished && alive($s->{pid}))
	{
		is($rows, '1', "sleep $sleep s at commit: committed, the row is there");
		is(counters($app), '2|2|0|0', "sleep $sleep s at commit: one commit, no timeout");
		$s->quit;
	}
	else
	{
		my $err = client_error($s);
		like($err, qr/FATAL:\s+25P04:.*the transaction was rolled back/s,
			"sleep $sleep s at commit: ended, told 25P04 and rolled back");
		is($rows, '0', "sleep $sleep s at commit: and indeed rolled back");
		is(counters($app), '2|1|1|1', "sleep $sleep s at commit: one rollback, timed out");
	}
	if ($sleep == 0.5)
	{
		is($rows, '1', 'well under the limit, the commit succeeds');
	}
	if ($sleep == 1.5)
	{
		is($rows, '0', 'well over the limit, the transaction is ended');
	}
}

#### the next transaction is never the one that dies ####

# COMMIT and a new transaction sent right at the idle deadline: either the
# idle transaction was ended (a timed-out rollback, nothing after it ran)
# or the COMMIT won (two commits, no timeout, the session alive).
my ($won, $lost) = (0, 0);
for my $i (1 .. 8)
{
	my $app = "next-$i";
	my $s = session($app);
	$s->query_safe(q{BEGIN; SELECT 1;});
	sleep 0.96 + 0.01 * $i;
	my $m = send_sql($s, qq{COMMIT; BEGIN; INSERT INTO done VALUES (100 + $i); COMMIT;});
	my $finished = wait_mark($s, $m);
	sleep 0.1;
	my $rows = $mon->query_safe(qq{SELECT count(*) FROM done WHERE id = 100 + $i});
	if ($finished && alive($s->{pid}))
	{
		$won++;
		is(counters($app) . "|$rows", '3|3|0|0|1', "race $i: the COMMIT won, nothing timed out");
		is(events_of($s->{pid}), '0', "race $i: no event");
		$s->quit;
	}
	else
	{
		$lost++;
		my $err = client_error($s);
		like($err, qr/FATAL:\s+25P03:/, "race $i: ended idle, told 25P03");
		is(counters($app) . "|$rows", '2|1|1|1|0',
			"race $i: only the idle transaction, rolled back and timed out");
		is(events_of($s->{pid}), '1', "race $i: one event");
	}
}
note "the COMMIT won $won times, the limit $lost times";

#### parse analysis is active under the extended protocol ####

my $bindir = $ENV{PG_BINDIR} // '';
my $pgbench = $bindir ? "$bindir/pgbench" : 'pgbench';

# Run pgbench -M extended on a script, with application_name $app.
sub pgbench_extended
{
	my ($app, $script, $xacts) = @_;
	my $file = "$PostgreSQL::Test::Utils::tmp_check/$app.sql";
	open my $fh, '>', $file or die $!;
	print $fh $script;
	close $fh;
	local $ENV{PGAPPNAME} = $app;
	my ($out, $err);
	my $ok = IPC::Run::run(
		[ $pgbench, '-n', '-M', 'extended', '-t', $xacts, '-f', $file,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	ok($ok, "pgbench -M extended ($app) ran") or diag($err);
}

pgbench_extended('ext-auto', "SELECT count(*) FROM done;\n", 200);
is($mon->query_safe(
		q{SELECT xacts || '|' || (total_idle_time = 0) || '|' || (max_idle_time = 0)
		    FROM pg_stat_transactions WHERE application_name = 'ext-auto'}),
	'200|true|true', 'autocommit under the extended protocol: no idle time at all');

# A statement whose parse analysis waits 500 ms for a lock, inside a
# block: the wait is active time, not idle.
my $locker = session('locker');
$locker->query_safe(q{BEGIN; LOCK TABLE lk IN ACCESS EXCLUSIVE MODE;});
my $app = 'ext-lock';
my $file = "$PostgreSQL::Test::Utils::tmp_check/$app.sql";
open my $fh, '>', $file or die $!;
print $fh "BEGIN;\nSELECT count(*) FROM lk;\nCOMMIT;\n";
close $fh;
my $bench;
{
	local $ENV{PGAPPNAME} = $app;
	$bench = IPC::Run::start(
		[ $pgbench, '-n', '-M', 'extended', '-t', 1, '-f', $file,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \my $o, '2>', \my $e);
}
sleep 0.5;
$locker->query_safe(q{COMMIT;});
$bench->finish;
is($mon->query_safe(
		qq{SELECT xacts || '|' || (total_active_time >= 400) || '|' || (total_idle_time < 100)
		     FROM pg_stat_transactions WHERE application_name = '$app'}),
	'1|true|true', 'a lock wait in parse analysis inside a block is active time');
$locker->quit;

#### at most 100 rules; each backend matches its own ####

my ($ret, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET postgres_extension.timeout_rules = '"
	  . join('; ', map { "app=x$_ idle=1s" } 1 .. 101) . "'");
isnt($ret, 0, '101 rules are refused');
like($err, qr/too many rules \(101\); at most 100/, '... saying how many are allowed');

# 99 rules whose globs cost the most to reject, then the one that matches.
my $costly = join '; ', (map { "app=*a*a*a*a*a*a*a*a*a*a*a*a*b$_ idle=off" } 1 .. 99),
  'app=many* idle=1s';
$node->safe_psql('postgres',
	"ALTER SYSTEM SET postgres_extension.timeout_rules = '$costly'; SELECT pg_reload_conf();");
$node->poll_query_until('postgres',
	q{SELECT current_setting('postgres_extension.timeout_rules') LIKE '%many%'});
my @many = map { session('many-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa') } 1 .. 40;
$_->query_safe(q{BEGIN; SELECT 1;}) for @many;
my $start = time;
my $all_gone = 1;
for my $s (@many)
{
	$all_gone &&= gone_within($s->{pid}, $start + 1.0 + 1.0 - time);
}
ok($all_gone, '40 sessions under 100 costly rules all ended within 2 s');
my $late = $mon->query_safe(
	q{SELECT count(*) FILTER (WHERE elapsed_ms >= 1000 AND elapsed_ms < 1300) || '|' || count(*)
	    FROM pg_stat_transactions_timeouts WHERE application_name LIKE 'many-%'});
is($late, '40|40', 'each of them 1000 to 1300 ms after its last statement');
$_->{run}->finish for @many;

watchdog_ok('at the end');
$mon->quit;
$node->stop;
done_testing();

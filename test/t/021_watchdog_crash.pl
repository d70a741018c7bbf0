# The watchdog survives the death of its process.  Ended with
# pg_terminate_backend(), it is restarted without a crash cycle.  Killed
# with SIGKILL, the postmaster's crash cycle restarts everything and the
# watchdog comes back within seconds.  After an immediate shutdown and a
# start it runs again.  Each time it ends an idle session again.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use WatchdogTest;

my $WATCHDOG_PID =
  q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'postgres_extension watchdog'};

my $node = watchdog_node('watchdog_crash',
	[ 'restart_after_crash = on',
	  "postgres_extension.timeout_rules = 'app=A idle=1s'" ],
	'CREATE TABLE t (n int);');

# Poll for up to $limit seconds until the server answers and exactly one
# watchdog runs, other than $old_pid; returns its pid and the seconds it
# took, or undef.
sub wait_watchdog
{
	my ($limit, $old_pid) = @_;
	my $start = time;
	while (time - $start < $limit)
	{
		my ($ret, $out) = $node->psql('postgres', $WATCHDOG_PID);
		return ($out, time - $start)
		  if $ret == 0 && $out =~ /^\d+$/ && (!defined $old_pid || $out != $old_pid);
		sleep 0.1;
	}
	return (undef, time - $start);
}

# A session of app A idle in transaction is ended past 1 s, with 25P03,
# its insert rolled back and one event recorded.
sub idle_session_is_ended
{
	my ($when) = @_;
	my $mon = $node->background_psql('postgres', timeout => 30);
	my $s = $node->background_psql('postgres', on_error_stop => 0, timeout => 30);
	$s->query_safe(qq{\\set VERBOSITY verbose\nSET application_name = 'A'});
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_safe('BEGIN; INSERT INTO t VALUES (1)');
	my $t0 = time;
	my $gone;
	while (time < $t0 + 1.5 + $MARGIN)
	{
		$gone = time - $t0, last
		  if $mon->query_safe("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '0';
		sleep 0.01;
	}
	ok(defined $gone, "$when: idle session ended within 1.5 s")
	  and note sprintf('%s: ended %.3f s after its last statement', $when, $gone);
	ok(!defined $gone || $gone >= 0.95, "$when: ... not before its limit");
	is( $mon->query_safe(
			qq{SELECT count(*), min(kind), min(action),
					  bool_and(elapsed_ms >= 1000 AND elapsed_ms < 1500)
				 FROM pg_stat_transactions_timeouts WHERE pid = $pid}),
		'1|idle|terminated|t',
		"$when: one idle event with elapsed_ms in [1000, 1500)");
	$s->{stdin} .= "SELECT 1;\n\\q\n";
	$s->{run}->finish;
	like($s->{stderr}, qr/FATAL:\s+25P03:.*rule 1 "app=A idle=1s"/,
		"$when: client sees 25P03 naming the rule");
	is($mon->query_safe('SELECT count(*) FROM t'), '0', "$when: insert rolled back");
	$mon->quit;
}

my ($wd, $took) = wait_watchdog(10);
ok(defined $wd, 'the watchdog runs');
idle_session_is_ended('before any crash');

#### pg_terminate_backend() of the watchdog: restarted, no crash cycle ####

my $offset = -s $node->logfile;
my $bystander = $node->background_psql('postgres', on_error_stop => 0, timeout => 30);
$bystander->query_safe(q{SET application_name = 'bystander'});
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($wd)"),
	't', 'pg_terminate_backend() of the watchdog');
my $wd1;
($wd1, $took) = wait_watchdog(10, $wd);
ok(defined $wd1, 'after SIGTERM the watchdog is back')
  and note sprintf('back after %.1f s', $took);
unlike(slurp_file($node->logfile, $offset), qr/reinitializing|terminated by signal/,
	'... without a crash cycle');
$bystander->{stderr} = '';
my $answer = eval { $bystander->query(q{SELECT 'bystander ok'}) } // '';
is($answer, 'bystander ok', 'other sessions were not disturbed');
$bystander->{run}->pumpable ? $bystander->quit : $bystander->{run}->finish;
idle_session_is_ended('after SIGTERM');
$wd = $wd1 // $wd;

#### SIGKILL of the watchdog: crash cycle ####

$offset = -s $node->logfile;
ok(kill('KILL', $wd), "SIGKILL sent to the watchdog (pid $wd)");
my $wd2;
($wd2, $took) = wait_watchdog(10, $wd);
ok(defined $wd2, 'after SIGKILL, the server answers and the watchdog is back')
  and note sprintf('back after %.1f s', $took);
isnt($wd2 // $wd, $wd, '... as a new process');
my $log = slurp_file($node->logfile, $offset);
like($log, qr/background worker "postgres_extension watchdog" \(PID $wd\) was terminated by signal 9/,
	'the postmaster saw the watchdog killed');
like($log, qr/all server processes terminated; reinitializing/,
	'... and went through its crash cycle');
is($node->safe_psql('postgres', $WATCHDOG),
	'1', 'exactly one watchdog after the crash cycle');
idle_session_is_ended('after SIGKILL');

#### immediate shutdown and start ####

$node->stop('immediate');
$node->start;
my $wd3;
($wd3, $took) = wait_watchdog(10);
ok(defined $wd3, 'after an immediate shutdown and start the watchdog is back')
  and note sprintf('back after %.1f s', $took);
idle_session_is_ended('after immediate shutdown');

is($node->safe_psql('postgres', $WATCHDOG),
	'1', 'exactly one watchdog at the end');
$node->stop;
done_testing();

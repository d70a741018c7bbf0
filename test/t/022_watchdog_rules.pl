# postgres_extension.timeout_rules as the watchdog applies it: for each
# limit the first matching rule that names it decides, "off" exempts, globs
# and the app=, role=, db= matchers, the default timeouts when no rule
# names a limit, live reloads, and bad values that are refused (ALTER
# SYSTEM) or logged and ignored (postgresql.conf) while the old rules keep
# working.  Which rule ended which session is read from
# pg_stat_transactions_timeouts, one event per ended session.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use WatchdogTest;

my $node = watchdog_node('watchdog_rules', [ 'max_connections = 40' ],
	"CREATE ROLE etl LOGIN;\nCREATE DATABASE otherdb;\n");

#### helpers ####

my $mon = watchdog_monitor($node);

# The watchdog's events about one backend: "kind|limit_ms|rule" lines.
sub events_of
{
	my ($pid) = @_;
	return $mon->query_safe(
		qq{SELECT kind, limit_ms, rule FROM pg_stat_transactions_timeouts
			WHERE pid = $pid ORDER BY seq});
}

# elapsed_ms of the one event about pid is in [limit, limit + 500).
sub elapsed_ok
{
	my ($s, $limit) = @_;
	my $elapsed = $mon->query_safe(
		qq{SELECT elapsed_ms FROM pg_stat_transactions_timeouts WHERE pid = $s->{pid}});
	ok($elapsed ne '' && $elapsed >= $limit && $elapsed < $limit + 500,
		"$s->{app}: elapsed_ms $elapsed in [$limit, " . ($limit + 500) . ')');
}

sub set_rules
{
	my (%guc) = @_;
	my $sql = '';
	for my $name (sort keys %guc)
	{
		$sql .=
		  defined $guc{$name}
		  ? "ALTER SYSTEM SET postgres_extension.$name = '$guc{$name}';\n"
		  : "ALTER SYSTEM RESET postgres_extension.$name;\n";
	}
	$node->safe_psql('postgres', $sql . 'SELECT pg_reload_conf();');
	my $check = join ' AND ',
	  map {
		defined $guc{$_}
		  ? "current_setting('postgres_extension.$_') = '$guc{$_}'"
		  : 'true'
	  } sort keys %guc;
	$node->poll_query_until('postgres', "SELECT $check")
	  or die 'reload not seen';
	sleep 0.2;    # let the watchdog take the reload too
}

# The session was ended: its client saw the SQLSTATE of kind.
sub ended_ok
{
	my ($s, $kind, $limit, $rule) = @_;
	is(events_of($s->{pid}), "$kind|$limit|$rule",
		"$s->{app}: one event, $kind limit $limit by $rule");
	my $err = client_error($s);
	my $state = $kind eq 'idle' ? '25P03' : '25P04';
	like($err, qr/FATAL:\s+$state:.*\Q$rule\E/, "$s->{app}: client sees $state naming $rule");
}

sub survived_ok
{
	my ($s) = @_;
	ok(alive($s->{pid}), "$s->{app}: survives");
	is(events_of($s->{pid}), '', "$s->{app}: no event");
	$s->{stderr} = '';
	my $ok = $s->{run}->pumpable && eval { $s->query(q{COMMIT}); 1 };
	ok($ok && $s->{stderr} eq '', "$s->{app}: can COMMIT")
	  or diag("stderr: $s->{stderr}");
	$s->{run}->pumpable ? $s->quit : $s->{run}->finish;
}

#### precedence, off, globs, role=, db= ####

set_rules(timeout_rules => join '; ',
	'app=slack-* idle=1s',           # 1
	'app=slack-late idle=off',       # 2: never reached for idle
	'role=etl idle=off',             # 3
	'app=prec xact=3s',              # 4
	'app=prec idle=1s xact=500ms',   # 5: fills idle only
	'db=other* idle=1s',             # 6
	'idle=2s');                      # 7: catch-all
my %rule = (
	1 => 'rule 1 "app=slack-* idle=1s"',
	4 => 'rule 4 "app=prec xact=3s"',
	5 => 'rule 5 "app=prec idle=1s xact=500ms"',
	6 => 'rule 6 "db=other* idle=1s"',
	7 => 'rule 7 "idle=2s"');

my %s;
$s{slack}      = session('slack-web');
$s{slack_late} = session('slack-late');
$s{noglob}     = session('slackweb');
$s{etl}        = session('etl-job', role => 'etl');
$s{etl_su}     = session('etl-job');
$s{prec_idle}  = session('prec');
$s{prec_busy}  = session('prec');
$s{db}         = session('dbapp', db => 'otherdb');
$s{db_pg}      = session('dbapp');

my $busy_mark = send_sql($s{prec_busy},
	"BEGIN;\n" . join("\n", map { 'SELECT pg_sleep(0.3);' } 1 .. 14) . "\nCOMMIT;");
for my $k (sort keys %s)
{
	next if $k eq 'prec_busy';
	$s{$k}->query_safe(q{BEGIN; SELECT 1});
}
my $t0 = time;

ok(!wait_mark($s{prec_busy}, $busy_mark), 'prec: busy transaction is ended');
my $busy_end = time - $t0;
ok($busy_end > 2.5 && $busy_end < 3.5 + $MARGIN,
	sprintf('prec: busy transaction ended after about 3 s (%.3f s)', $busy_end));
ended_ok($s{prec_busy}, 'transaction', 3000, $rule{4});
elapsed_ok($s{prec_busy}, 3000);

sleep($t0 + 3.6 - time) if time < $t0 + 3.6;

ended_ok($s{slack},      'idle', 1000, $rule{1});
elapsed_ok($s{slack}, 1000);
ended_ok($s{slack_late}, 'idle', 1000, $rule{1});
ended_ok($s{noglob},     'idle', 2000, $rule{7});
elapsed_ok($s{noglob}, 2000);
survived_ok($s{etl});
ended_ok($s{etl_su},     'idle', 2000, $rule{7});
ended_ok($s{prec_idle},  'idle', 1000, $rule{5});
elapsed_ok($s{prec_idle}, 1000);
ended_ok($s{db},         'idle', 1000, $rule{6});
elapsed_ok($s{db}, 1000);
ended_ok($s{db_pg},      'idle', 2000, $rule{7});

#### the default timeouts, when no rule names a limit ####

set_rules(
	timeout_rules => 'app=ruled idle=3s; app=offd idle=off xact=off',
	idle_in_transaction_timeout => '1s',
	transaction_timeout => '2s');
%s = ();
$s{plain} = session('plain');
$s{ruled} = session('ruled');
$s{offd}  = session('offd');
$s{$_}->query_safe(q{BEGIN; SELECT 1}) for sort keys %s;
sleep 2.6;
ended_ok($s{plain}, 'idle', 1000,
	'postgres_extension.idle_in_transaction_timeout');
elapsed_ok($s{plain}, 1000);
ended_ok($s{ruled}, 'transaction', 2000, 'postgres_extension.transaction_timeout');
elapsed_ok($s{ruled}, 2000);
survived_ok($s{offd});

#### a reload reaches a session at its next statement ####

# As for the core's own timeouts, a backend takes a reload when it reads
# its next statement: an idle gap keeps the limit it began with, and the
# next gap has the new one.
set_rules(
	timeout_rules => 'app=tight idle=10s; app=loose idle=2s',
	idle_in_transaction_timeout => undef,
	transaction_timeout => undef);
%s = ();
$s{tight} = session('tight');
$s{loose} = session('loose');
$s{loose}->query_safe(q{BEGIN; SELECT 1});
$s{tight}->query_safe(q{BEGIN; SELECT 1});
$t0 = time;
sleep 0.4;
set_rules(timeout_rules => 'app=tight idle=1s; app=loose idle=off');
sleep($t0 + 1.6 - time) if time < $t0 + 1.6;
ok(alive($s{tight}{pid}), 'tight: its gap keeps the 10 s limit it began with');
$s{tight}->query_safe(q{SELECT 2});
my $t1 = time;
my $gone;
while (time < $t1 + 1.5 + $MARGIN)
{
	$gone = time - $t1, last unless alive($s{tight}{pid});
	sleep 0.01;
}
ok(defined $gone, 'tight: its next gap ends under the new 1 s limit')
  and note sprintf('tight ended %.3f s after its next statement', $gone);
ended_ok($s{tight}, 'idle', 1000, 'rule 1 "app=tight idle=1s"');
elapsed_ok($s{tight}, 1000);
sleep($t0 + 2.5 + $MARGIN - time) if time < $t0 + 2.5 + $MARGIN;
ended_ok($s{loose}, 'idle', 2000, 'rule 2 "app=loose idle=2s"');
$s{loose2} = session('loose');
$s{loose2}->query_safe(q{BEGIN; SELECT 1});
sleep 2.5;
survived_ok($s{loose2});

#### bad values ####

my ($ret, $out, $err) = $node->psql('postgres',
	q{ALTER SYSTEM SET postgres_extension.timeout_rules = 'app=x idle=1sx'});
isnt($ret, 0, 'ALTER SYSTEM refuses a malformed value');
like($err, qr/invalid value for parameter "postgres_extension\.timeout_rules"/,
	'... as an invalid value');
like($err, qr/rule 1 \("app=x idle=1sx"\): invalid value "1sx" for idle/,
	'... pointing at the bad part');
($ret, $out, $err) = $node->psql('postgres',
	q{ALTER SYSTEM SET postgres_extension.timeout_rules = 'app=x idle=1s; app=y'});
like($err, qr/rule 2 \("app=y"\): no limit/, 'a rule without a limit is refused');
unlike(slurp_file($node->data_dir . '/postgresql.auto.conf'),
	qr/app=x/, 'nothing bad reached postgresql.auto.conf');

# good rules in postgresql.conf, then a bad value written there
set_rules(timeout_rules => undef);
$node->append_conf('postgresql.conf',
	"postgres_extension.timeout_rules = 'app=old idle=1s'\n");
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT current_setting('postgres_extension.timeout_rules') = 'app=old idle=1s'})
  or die 'reload not seen';
my $offset = -s $node->logfile;
$node->append_conf('postgresql.conf',
	"postgres_extension.timeout_rules = 'app=old idle=1sx'\n");
$node->reload;
my $logged = 0;
for (1 .. 100)
{
	$logged = slurp_file($node->logfile, $offset) =~
	  /LOG:  invalid value for parameter "postgres_extension\.timeout_rules": "app=old idle=1sx"/;
	last if $logged;
	sleep 0.05;
}
ok($logged, 'the server logs the bad value');
like(slurp_file($node->logfile, $offset), qr/invalid value "1sx" for idle/,
	'... and what is wrong with it');
sleep 0.2;
is($node->safe_psql('postgres',
		q{SHOW postgres_extension.timeout_rules}),
	'app=old idle=1s', 'the old rules stay in force');
my $old = session('old');
$old->query_safe(q{BEGIN; SELECT 1});
sleep 1.5 + $MARGIN;
ended_ok($old, 'idle', 1000, 'rule 1 "app=old idle=1s"');
elapsed_ok($old, 1000);

#### log mode, then terminate: a transaction already logged ####

# The README's rollout is log mode first, then terminate and reload.  Log
# mode reports a transaction once, it does not exempt it: once the session
# has taken the reload (at its next statement), its next gap is limited.
set_rules(timeout_rules => 'app=switch idle=1s', timeout_action => 'log');
my $sw = session('switch');
$sw->query_safe(q{BEGIN; SELECT 1});
sleep 1.3;
is(events_of($sw->{pid}), 'idle|1000|rule 1 "app=switch idle=1s"',
	'log mode reports the idle transaction');
set_rules(timeout_action => 'terminate');
sleep 1.3;
ok(alive($sw->{pid}), 'the gap that began in log mode is not ended by the switch');
$sw->query_safe(q{SELECT 2});
my $sw_gone;
for (1 .. 150 + 100 * $MARGIN)
{
	$sw_gone = !alive($sw->{pid}) and last;
	sleep 0.01;
}
ok($sw_gone, 'after its next statement, the session is ended under terminate');
$sw->{run}->pumpable ? $sw->quit : $sw->{run}->finish;

watchdog_ok('at the end');
$mon->quit;
$node->stop;
done_testing();

# timeout_rules set in postgresql.conf when the server starts, then changed
# by ten reloads: five through postgresql.conf, five through ALTER SYSTEM,
# and one bad value.  Each reload replaces the parsed rules, the GUC
# "extra", in the postmaster, the watchdog and every session (from
# PostgreSQL 16 on the core frees the old one with guc_free(), which
# requires it to be allocated with guc_malloc()).  The server must keep
# running, every new value must be in force, the bad one refused, and the
# watchdog must act on the last rules only.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgxtTest;

# Rules of step $i: a long limit for application "keep", 300 ms for
# application "r$i" only.
sub rules_of
{
	my ($i) = @_;
	return "app=keep idle=${i}h; app=r$i idle=300ms";
}

my $node = pgxt_node('reload',
	"postgres_extension.timeout_rules = '" . rules_of(0) . "'",
	'postgres_extension.watchdog_naptime = 100ms');
my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
is($node->safe_psql('postgres', 'SHOW postgres_extension.timeout_rules'),
	rules_of(0), 'the rules of postgresql.conf are in force at startup');

# a session that lives through every reload
my $keep = $node->background_psql('postgres', on_error_stop => 0);
$keep->query_safe(q{SET application_name = 'keep'});

my $show = 'SHOW postgres_extension.timeout_rules';
for my $i (1 .. 10)
{
	my $rules = rules_of($i);
	my $how;
	if ($i <= 5)
	{
		$node->append_conf('postgresql.conf',
			"postgres_extension.timeout_rules = '$rules'\n");
		$how = 'postgresql.conf';
	}
	else
	{
		$node->safe_psql('postgres',
			"ALTER SYSTEM SET postgres_extension.timeout_rules = '$rules'");
		$how = 'ALTER SYSTEM';
	}
	$node->reload;
	ok(pgxt_poll($node, $show, $rules), "reload $i ($how): new sessions see the new rules");
	# the long-lived session gets them at its next statement
	my $seen;
	for (1 .. 100)
	{
		$seen = $keep->query_safe($show);
		last if $seen eq $rules;
		usleep(100_000);
	}
	is($seen, $rules, "reload $i: the long-lived session sees them");
}

# a bad value is refused, by ALTER SYSTEM at once and in postgresql.conf
# at the reload: the last rules stay in force
my ($ret, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET postgres_extension.timeout_rules = 'app=r11 idle=2x'");
like($err, qr/invalid value for parameter "postgres_extension.timeout_rules"/,
	'ALTER SYSTEM refuses a bad value');
$node->append_conf('postgresql.conf',
	"postgres_extension.timeout_rules = 'app=r11 idle=2x'\n");
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER SYSTEM RESET postgres_extension.timeout_rules');
$node->reload;
ok($node->wait_for_log(qr/invalid value for parameter "postgres_extension.timeout_rules"/,
		$log_offset),
	'a bad value in postgresql.conf is reported at reload');
is($node->safe_psql('postgres', $show), rules_of(10),
	'after the bad value, the last good rules stay in force');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$started, 'the postmaster never restarted');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'postgres_extension watchdog'}),
	'1', 'the watchdog runs');
is($keep->query_safe('SELECT 1'), '1', 'the long-lived session is alive');

# the watchdog acts on the last rules only: r9 idles first and longer but
# is no longer limited; r10 is ended by its rule
my %s;
for my $app (qw(r9 r10))
{
	$s{$app} = $node->background_psql('postgres', on_error_stop => 0);
	$s{$app}->query_safe("SET application_name = '$app'");
	$s{$app}->{pid} = $s{$app}->query_safe('SELECT pg_backend_pid()');
	$s{$app}->query_safe('BEGIN');
	$s{$app}->query_safe('SELECT 1');
}
ok(pgxt_poll($node,
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $s{r10}{pid}", '0', 10),
	'r10 idle in transaction is ended by the last rules');
is($node->safe_psql('postgres',
	"SELECT kind, limit_ms, rule FROM pg_stat_transactions_timeouts WHERE pid = $s{r10}{pid}"),
	'idle|300|rule 2 "app=r10 idle=300ms"', 'the event names the last rules');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE pid = $s{r9}{pid}"),
	'1', 'r9, limited by older rules only, survives');
$s{r9}->quit;
eval { $s{r10}->quit };
$keep->quit;

my @errors = pgxt_log_errors($node,
	qr/ERROR:  invalid value for parameter "postgres_extension.timeout_rules"/,
	qr/FATAL:  terminating connection because it was idle in transaction/);
is_deeply(\@errors, [], 'no other warning or error in the server log');

$node->stop;
done_testing();

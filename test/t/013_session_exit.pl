# Sessions that end inside a transaction.  While a session idles in a
# transaction the activity view shows it; when it is then terminated
# (pg_terminate_backend), quits (psql \q), dies (client killed), or leaves
# from a failed block, its transaction is one rollback whose hold time
# runs to the exit.  A session terminated in the middle of a statement is
# one rollback too, with the statement's time active.  An immediate
# shutdown leaves the server working.  The activity view hides other
# roles' application_name, tag, state, times, statements and queryid from
# an unprivileged reader, as pg_stat_activity does.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PgxtTest;

my $node = pgxt_node('session_exit');
$node->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY);
	CREATE ROLE se_nobody LOGIN;
	CREATE ROLE se_stats LOGIN;
	GRANT pg_read_all_stats TO se_stats;
});

# A background psql under application_name $app (as role $user if given),
# going on after errors.
sub session
{
	my ($app, $user) = @_;
	my $connstr = $node->connstr('postgres') . " application_name=$app";
	$connstr .= " user=$user" if defined $user;
	return $node->background_psql('postgres',
		on_error_stop => 0,
		extra_params => [ '-d', $connstr ]);
}

# The activity view's row of application $app, read as $user (default the
# superuser), as a string of the given columns.
sub activity
{
	my ($app, $cols, $user) = @_;
	my $connstr = $node->connstr('postgres');
	$connstr .= " user=$user" if defined $user;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM pg_stat_transactions_activity a
		   JOIN pg_stat_activity s USING (pid)
		  WHERE s.application_name = '$app'",
		extra_params => [ '-d', $connstr ]);
}

# The statistics row of application $app (untagged), waiting until it has
# $xacts transactions: a session's exit is recorded by its backend, after
# the client has gone.
sub stats_after_exit
{
	my ($app, $xacts) = @_;
	pgxt_poll($node,
		"SELECT coalesce(sum(xacts), 0) FROM pg_stat_transactions WHERE application_name = '$app'",
		$xacts)
	  or diag("no $xacts transactions recorded for $app");
	return pgxt_stats($node, $app)->{''} // {};
}

# Elapsed milliseconds since $t0 (a Time::HiRes time), rounded down, less
# 1 ms for the rounding of the server's microseconds.
sub ms_since
{
	my ($t0) = @_;
	return int((time() - $t0) * 1000) - 1;
}

# (a) idle in transaction, seen in the activity view, then terminated
my $s = session('se_kill');
$s->query_safe('BEGIN');
my $pid = $s->query_safe('SELECT pg_backend_pid()');
my $t0 = time();
usleep(500_000);
my $idle_min = ms_since($t0);
my ($state, $stmts, $idle, $hold) = split /\|/,
  activity('se_kill', 'a.state, a.statements, a.idle_time, a.hold_time');
is($state, 'idle in transaction', 'idle session: state');
is($stmts, 1, 'idle session: one statement');
cmp_ok($idle, '>=', $idle_min, "idle session: idle_time >= $idle_min ms");
cmp_ok($hold, '>=', $idle, 'idle session: hold_time >= idle_time');
my $idle_before_kill = ms_since($t0);
ok(pgxt_terminate($node, $pid), 'idle session: terminated');
my $r = stats_after_exit('se_kill', 1);
is("$r->{xacts}/$r->{commits}/$r->{rollbacks}/$r->{statements}/$r->{explicit_xacts}",
	'1/0/1/1/1', 'terminated: one explicit rollback with one statement');
cmp_ok($r->{max_idle_time}, '>=', $idle_before_kill,
	"terminated: idle >= $idle_before_kill ms, the time it idled");
cmp_ok($r->{max_hold_time}, '>=', $idle_before_kill, 'terminated: hold >= idle');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_transactions_activity WHERE pid = $pid"),
	'0', 'terminated: gone from the activity view');
eval { $s->quit };

# (a2) terminated in the middle of a statement: the time is active
$s = session('se_kill_active');
$s->query_until(qr/started/, "\\echo started\nSELECT pg_sleep(60);\n");
ok($node->poll_query_until('postgres',
		"SELECT state = 'active' AND wait_event = 'PgSleep' FROM pg_stat_activity WHERE application_name = 'se_kill_active'"),
	'sleeping statement is running');
$pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE application_name = 'se_kill_active'");
is(activity('se_kill_active', 'a.state, a.statements'), 'active|1',
	'sleeping statement: active in the activity view');
$t0 = time();
usleep(300_000);
my $active_min = ms_since($t0);
pgxt_terminate($node, $pid);
$r = stats_after_exit('se_kill_active', 1);
is("$r->{xacts}/$r->{commits}/$r->{rollbacks}/$r->{statements}/$r->{explicit_xacts}",
	'1/0/1/1/0', 'terminated statement: one implicit rollback');
cmp_ok($r->{total_active_time}, '>=', $active_min,
	"terminated statement: active >= $active_min ms");
eval { $s->quit };

# (b) the client quits (\q) in the middle of a transaction
$s = session('se_quit');
$s->query_safe('BEGIN');
$s->query_safe('INSERT INTO t VALUES (1)');
$t0 = time();
usleep(300_000);
$idle_min = ms_since($t0);
$s->quit;
$r = stats_after_exit('se_quit', 1);
is("$r->{xacts}/$r->{commits}/$r->{rollbacks}/$r->{statements}/$r->{explicit_xacts}/$r->{readonly_xacts}",
	'1/0/1/1/1/0', 'client quit: one explicit rollback with one statement');
cmp_ok($r->{max_idle_time}, '>=', $idle_min, "client quit: idle >= $idle_min ms");
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '0',
	'client quit: the insert was rolled back');

# (b2) the client dies (no Terminate message: the server sees EOF)
$s = session('se_died');
$s->query_safe('BEGIN');
$s->query_safe('INSERT INTO t VALUES (2)');
$s->query_safe('SELECT 1');
$s->{run}->kill_kill;
$r = stats_after_exit('se_died', 1);
is("$r->{xacts}/$r->{commits}/$r->{rollbacks}/$r->{statements}/$r->{explicit_xacts}",
	'1/0/1/2/1', 'client died: one explicit rollback with two statements');

# (c) a failed block, idle in transaction (aborted), then the client quits:
# held until the disconnect
$s = session('se_aborted');
$s->query_safe('BEGIN');
$s->query_safe('SELECT 1');
$s->query('SELECT 1 / (g - g) FROM generate_series(1, 1) g');    # fails in the executor
like($s->{stderr}, qr/division by zero/, 'failed block: the error');
$t0 = time();
is(activity('se_aborted', 'a.state, a.statements'),
	'idle in transaction (aborted)|2',
	'failed block: aborted state in the activity view, two statements');
usleep(400_000);
$idle_min = ms_since($t0);
$s->quit;
$r = stats_after_exit('se_aborted', 1);
is("$r->{xacts}/$r->{commits}/$r->{rollbacks}/$r->{statements}/$r->{explicit_xacts}",
	'1/0/1/2/1', 'failed block, then quit: one rollback, two statements');
cmp_ok($r->{max_hold_time}, '>=', $idle_min,
	"failed block, then quit: held >= $idle_min ms, to the disconnect");
cmp_ok($r->{total_idle_time}, '>=', $idle_min,
	'failed block, then quit: the wait after the error is idle');

# privileges: an unprivileged reader sees another role's session without
# its application_name, tag, state, start, times, statements and queryid,
# and its own in full; a member of pg_read_all_stats sees all
$s = session('se_secret');
$s->query_safe('BEGIN');
$s->query_safe("SET LOCAL postgres_extension.tag = 'secret'");
$s->query_safe('SELECT count(*) FROM t');
my $own = session('se_own', 'se_nobody');
$own->query_safe('BEGIN');
$own->query_safe("SET LOCAL postgres_extension.tag = 'mine'");
$own->query_safe('SELECT 1');
my $cols = 'a.application_name, a.tag, a.queryid IS NULL, a.statements';
is(activity('se_secret', $cols, 'se_nobody'),
	'<insufficient privilege>|<insufficient privilege>|t|',
	'unprivileged reader: another role\'s names, statements and queryid are hidden');
is( activity('se_secret',
		'a.state IS NULL AND a.xact_start IS NULL AND a.hold_time IS NULL
		 AND a.active_time IS NULL AND a.idle_time IS NULL AND s.state IS NULL',
		'se_nobody'),
	't', 'unprivileged reader: another role\'s state, start and times are hidden, as in pg_stat_activity');
is(activity('se_own', $cols, 'se_nobody'), 'se_own|mine|f|2',
	'unprivileged reader: its own session in full');
is(activity('se_secret', $cols, 'se_stats'), 'se_secret|secret|f|2',
	'pg_read_all_stats: sees all');
is(activity('se_secret', $cols), 'se_secret|secret|f|2', 'superuser: sees all');
$own->query_safe('COMMIT');
$own->quit;

# (d) immediate shutdown with a session in a transaction, then restart
$node->stop('immediate');
eval { $s->quit };
$node->start;
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) >= 0 FROM pg_stat_transactions) AND
	       (SELECT count(*) = 0 FROM pg_stat_transactions_activity WHERE pid <> pg_backend_pid()) AND
	       (SELECT dealloc >= 0 FROM pg_stat_transactions_info)}),
	't', 'after an immediate shutdown: the views read');
$node->safe_psql('postgres', 'SELECT 1',
	extra_params => [ '-d', $node->connstr('postgres') . ' application_name=se_after' ]);
$r = pgxt_stats($node, 'se_after')->{''} // {};
is("$r->{xacts}/$r->{statements}", '1/1',
	'after an immediate shutdown: transactions are counted');

is_deeply(
	[
		pgxt_log_errors($node,
			qr/division by zero/,
			qr/terminating connection due to administrator command/,
			qr/could not receive data from client|unexpected EOF on client connection/,
			# 13 logs the immediate shutdown's warning to each session
			# (14 and later tell the client only)
			pgxt_server_version($node) < 140000
			? qr/WARNING:  terminating connection because of crash of another server process/
			: ())
	],
	[],
	'no unexpected error in the server log');

$node->stop;
done_testing();

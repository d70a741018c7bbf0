# What users meet behind PgBouncer (Debian's 1.18) in pool_mode =
# transaction, the figures that the README's "Behind a pooler" section
# quotes:
# - PgBouncer sends SET application_name when a client lands on a server
#   connection that last served another application; those transactions
#   are housekeeping, not the application's (counted apart);
# - PgBouncer's check of a server connection before reusing it
#   (server_check_query, "select 1") is a transaction of the application
#   that used the connection last; an empty query (";") is none;
# - a session-level SET postgres_extension.tag sticks to the server
#   connection and tags other clients' transactions;
# - a session that the watchdog ends reaches the client, through PgBouncer,
#   as the watchdog's FATAL followed by PgBouncer's "server conn crashed?"
#   and libpq's "server closed the connection unexpectedly"; PgBouncer logs
#   "server conn crashed?";
# - PgBouncer's own idle_transaction_timeout (one limit for every pool)
#   ends the client's connection; the server sees its client go and counts
#   a rollback of that application, not a timeout of the watchdog.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../clients";
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use ClientTest;

my $no_pgbouncer = pgbouncer_missing();
plan skip_all => $no_pgbouncer if $no_pgbouncer;
my $no_psycopg = python_missing(psycopg => 'python3-psycopg');

my $node = client_node('pgbouncer', 'log_statement = all',
	"postgres_extension.timeout_rules = 'app=wd* idle=1s'");

# Run a scenario of test/clients/python/pooler.py through $pgb.
sub pooler
{
	my ($pgb, $scenario, $app) = @_;
	return run_client(
		"pooler.py $scenario",
		[
			$PYTHON, "$CLIENTS/python/pooler.py", '--host', '127.0.0.1',
			'--port', $pgb->{port}, '--pooled', '--app', $app, $scenario
		],
		{ PYTHONDONTWRITEBYTECODE => 1 });
}

# psql through PgBouncer as application $app, script $sql from a file
# (psql stops at the first \! of a piped script); returns psql's stderr.
sub psql_through
{
	my ($pgb, $app, $sql) = @_;
	my $file = $node->basedir . "/$app.sql";
	append_to_file($file, $sql);
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[
			'psql', '-X', '-v', 'VERBOSITY=verbose', '-d',
			"host=127.0.0.1 port=$pgb->{port} dbname=postgres user=app application_name=$app",
			'-f', $file
		],
		'<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(60));
	return $err;
}

# Statements "SET application_name='...'" that PgBouncer sent, from the
# server log (log_statement = all) after offset $from, for applications
# matching $re.
sub pgbouncer_sets
{
	my ($re, $from) = @_;
	my @sets = substr(slurp_file($node->logfile), $from // 0)
	  =~ /statement: SET application_name='([^']*)'/g;
	return scalar grep { /$re/ } @sets;
}

# Transactions of the applications matching the LIKE pattern $like that
# their clients did not open with BEGIN (all theirs were blocks), and
# their blocks, as "implicit|explicit".
sub implicit_explicit
{
	my ($like) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT coalesce(sum(xacts - explicit_xacts), 0) || '|' || coalesce(sum(explicit_xacts), 0)
		  FROM pg_stat_transactions WHERE application_name LIKE '$like'});
}

# pg_stat_transactions_info.housekeeping_xacts, or undef while the column
# does not exist.
sub housekeeping_xacts
{
	my ($ret, $out) = $node->psql('postgres',
		'SELECT housekeeping_xacts FROM pg_stat_transactions_info');
	return $ret == 0 ? $out : undef;
}

#### 1. PgBouncer's SET application_name (one server connection) ####
SKIP:
{
	skip "psycopg 3: $no_psycopg", 1 if $no_psycopg;
	my $pgb = start_pgbouncer($node, name => 'one', pool_size => 1);
	my $hk_before = housekeeping_xacts();
	my $ledger = pooler($pgb, 'housekeeping', 'turns');
	my $sets = pgbouncer_sets(qr/^turns-[ab]$/);
	note "PgBouncer sent $sets SET application_name for 5 + 5 transactions";
	# each turn lands on the connection the other application left: every
	# transaction but perhaps the first follows a SET
	cmp_ok($sets, '>=', 9, 'PgBouncer sends SET application_name at each change of application');
	check_ledger($node, $ledger, 1) if $ledger;
	my $hk_after = housekeeping_xacts();
	is(defined $hk_after && defined $hk_before ? $hk_after - $hk_before : undef,
		$sets, 'pg_stat_transactions_info.housekeeping_xacts counts each SET');
	stop_pgbouncer($pgb);
}

#### 2. PgBouncer's check of a server connection before reuse ####
# With server_check_delay = 0 every reuse is checked (by default only
# after 30 s idle).  The default server_check_query, "select 1", is a
# transaction of whichever application used the connection last; an empty
# query (";") is no transaction at all.
SKIP:
{
	skip "psycopg 3: $no_psycopg", 1 if $no_psycopg;
	for my $check ('select 1', ';')
	{
		my $name = $check eq ';' ? 'empty' : 'select';
		my $pgb = start_pgbouncer($node, name => "check-$name", pool_size => 1,
			extra => [ 'server_check_delay = 0', "server_check_query = $check" ]);
		my $from = -s $node->logfile;
		my $ledger = pooler($pgb, 'checks', "check-$name");
		my $log = substr(slurp_file($node->logfile), $from);
		my $checks = () = $log =~ /statement: \Q$check\E$/mg;
		my $sets = pgbouncer_sets(qr/^check-$name-[ab]$/, $from);
		my ($implicit, $explicit) = split /\|/, implicit_explicit("check-$name-_");
		note "server_check_query '$check': $checks checks, $sets SET application_name, "
		  . "$implicit transactions that are not the clients' blocks";
		is($explicit, 10, "check '$check': the clients' 10 blocks");
		if ($check eq ';')
		{
			cmp_ok($checks, '>=', 9, "check '$check': PgBouncer checks before each reuse");
			cmp_ok($implicit, '<=', $sets, "check '$check': the checks are not counted");
			is($implicit, 0, "check '$check': nothing but the clients' blocks");
		}
		else
		{
			cmp_ok($checks, '>=', 9, "check '$check': PgBouncer checks before each reuse");
			cmp_ok($implicit, '>=', $checks, "check '$check': each check is counted");
			cmp_ok($implicit, '<=', $checks + $sets, "check '$check': and nothing else but the SETs");
			is($implicit, $checks, "check '$check': the checks are all that is not the clients'");
		}
		stop_pgbouncer($pgb);
	}
}

#### 3. a session-level tag sticks to the server connection ####
SKIP:
{
	skip "psycopg 3: $no_psycopg", 1 if $no_psycopg;
	my $pgb = start_pgbouncer($node, name => 'two', pool_size => 2);
	my $ledger = pooler($pgb, 'leak', 'shared');
	# Each round, the victims hold both server connections at once, so one
	# of their two blocks runs on the connection that carries the tag.
	# Blocks only (explicit_xacts): PgBouncer's own SETs are not theirs.
	my $rows = $node->safe_psql(
		'postgres', q{
		SELECT application_name, tag, explicit_xacts FROM pg_stat_transactions
		 WHERE application_name LIKE 'shared-victim-%' AND explicit_xacts > 0
		 ORDER BY 1, 2});
	note "victims' blocks per application and tag:\n$rows";
	my $leaked = $node->safe_psql('postgres',
		q{SELECT coalesce(sum(explicit_xacts), 0) FROM pg_stat_transactions
		   WHERE application_name LIKE 'shared-victim-%' AND tag = 'leaky'});
	my $clean = $node->safe_psql('postgres',
		q{SELECT coalesce(sum(explicit_xacts), 0) FROM pg_stat_transactions
		   WHERE application_name LIKE 'shared-victim-%' AND tag = ''});
	is($leaked, 10, "10 of the victims' 20 blocks carry the tag another client set");
	is($clean, 10, 'the other 10 are untagged');
	stop_pgbouncer($pgb);
}

#### 4. the watchdog ends a session behind PgBouncer ####
{
	my $pgb = start_pgbouncer($node, name => 'wd', pool_size => 1);
	my $err = psql_through($pgb, 'wd',
		"BEGIN;\nSELECT 1 /*tag='slow'*/;\n\\! sleep 2.5\nSELECT 2;\n");
	note "psql's stderr through PgBouncer:\n$err";
	like($err, qr/FATAL:  25P03: terminating connection because it was idle in transaction/,
		"the watchdog's FATAL reaches the client through PgBouncer");
	like($err, qr/FATAL:  08P01: server conn crashed\?/,
		"then PgBouncer's own FATAL");
	like($err, qr/server closed the connection unexpectedly/,
		"then libpq's message");
	like(slurp_file($pgb->{log}), qr/closing because: server conn crashed\?/,
		'PgBouncer logs "server conn crashed?"');
	is( $node->safe_psql(
			'postgres', q{SELECT xacts, rollbacks, timeouts FROM pg_stat_transactions
			 WHERE application_name = 'wd' AND tag = 'slow'}),
		'1|1|1',
		'the ended transaction is a rollback and a timeout of its application and tag');
	my $next = psql_through($pgb, 'wd2', "SELECT 'pool works';\n");
	is($next, '', 'the next client of the pool gets a new server connection');
	stop_pgbouncer($pgb);
}

#### 5. PgBouncer's idle_transaction_timeout ####
{
	my $pgb = start_pgbouncer($node, name => 'itt', pool_size => 1,
		extra => ['idle_transaction_timeout = 1']);
	my $err = psql_through($pgb, 'pool-limited',
		"BEGIN;\nSELECT 1 /*tag='slow'*/;\n\\! sleep 3\nSELECT 2;\n");
	note "psql's stderr:\n$err";
	like($err, qr/idle transaction timeout/, "PgBouncer's error reaches the client");
	like(slurp_file($pgb->{log}), qr/closing because: idle transaction timeout/,
		'PgBouncer logs it');
	# the backend sees its client go, rolls back, and is counted so
	ok( pgxt_rows_until(
			q{SELECT xacts, rollbacks, timeouts FROM pg_stat_transactions
			   WHERE application_name = 'pool-limited' AND tag = 'slow'}, '1|1|0'),
		'the server counts a rollback of the application, not a timeout of the watchdog');
	stop_pgbouncer($pgb);
}

# Poll $sql until it returns $want (at most 20 s).
sub pgxt_rows_until
{
	my ($sql, $want) = @_;
	for (1 .. 200)
	{
		return 1 if $node->safe_psql('postgres', $sql) eq $want;
		usleep(100_000);
	}
	return 0;
}

$node->stop;
done_testing();

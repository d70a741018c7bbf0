# Two-phase commit: PREPARE TRANSACTION ends the session's transaction, as
# a commit (its hold time ends there, its SET LOCAL tag is kept); COMMIT
# PREPARED and ROLLBACK PREPARED are transaction control on a transaction
# that is no longer any session's, and are not tracked as transactions of
# their own.  PREPARE TRANSACTION in a failed block rolls back, as does a
# PREPARE that fails (gid in use).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgxtTest;

my $node = pgxt_node('twophase', 'max_prepared_transactions = 5');
$node->safe_psql('postgres', 'CREATE TABLE t (id int PRIMARY KEY)');

# A session under application_name $app, psql going on after errors.
sub session
{
	my ($app) = @_;
	return $node->background_psql('postgres',
		on_error_stop => 0,
		extra_params => [ '-d', $node->connstr('postgres') . " application_name=$app" ]);
}

# Run $sql in session $psql; return its error output ('' if none).
sub query_err
{
	my ($psql, $sql) = @_;
	$psql->query($sql);
	my $err = $psql->{stderr};
	$psql->{stderr} = '';    # BackgroundPsql keeps stderr across queries
	return $err;
}

# A statistics row as one string, for comparing rows before and after.
sub row_string
{
	my ($app, $tag) = @_;
	my $r = pgxt_stats($node, $app)->{$tag // ''} // {};
	return join(',', map { "$_=" . ($r->{$_} // 'none') } sort keys %$r);
}

# 1. BEGIN; INSERT; PREPARE TRANSACTION: one committed explicit transaction
# with one statement, already recorded when PREPARE returns
my $s1 = session('tp_prepare');
$s1->query_safe('BEGIN');
$s1->query_safe('INSERT INTO t VALUES (1)');
$s1->query_safe("PREPARE TRANSACTION 'x'");
my $s = pgxt_stats($node, 'tp_prepare')->{''} // {};
is($s->{xacts}, 1, 'prepare: one transaction');
is($s->{commits}, 1, 'prepare: counted as a commit');
is($s->{rollbacks}, 0, 'prepare: no rollback');
is($s->{statements}, 1, 'prepare: one statement (the INSERT)');
is($s->{explicit_xacts}, 1, 'prepare: explicit');
is($s->{readonly_xacts}, 0, 'prepare: not read-only');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_transactions_activity WHERE application_name = 'tp_prepare'"),
	'0', 'prepare: the session is no longer in a transaction');
is($node->safe_psql('postgres', "SELECT gid FROM pg_prepared_xacts"),
	'x', 'prepare: x is prepared');
my $before = row_string('tp_prepare');

# 2. COMMIT PREPARED from another session: not a transaction of its own;
# that session's next statement is one transaction, one statement
my $s2 = session('tp_finish');
$s2->query_safe("COMMIT PREPARED 'x'");
is_deeply(pgxt_stats($node, 'tp_finish'), {},
	'COMMIT PREPARED: not tracked');
is(row_string('tp_prepare'), $before,
	'COMMIT PREPARED: the prepared transaction\'s row is unchanged');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '1',
	'COMMIT PREPARED: the row is there');
$s2->query_safe('SELECT 1');
$s = pgxt_stats($node, 'tp_finish')->{''} // {};
is("$s->{xacts}/$s->{statements}", '1/1',
	'after COMMIT PREPARED: the next statement is one transaction');

# 3. with a SET LOCAL tag, rolled back later by ROLLBACK PREPARED in the
# same session: the tag is kept; ROLLBACK PREPARED is not tracked either
$s1->query_safe('BEGIN');
$s1->query_safe("SET LOCAL postgres_extension.tag = 'twophase'");
$s1->query_safe('INSERT INTO t VALUES (2)');
$s1->query_safe("PREPARE TRANSACTION 'y'");
$s1->query_safe("ROLLBACK PREPARED 'y'");
my $all = pgxt_stats($node, 'tp_prepare');
is_deeply([ sort keys %$all ], [ '', 'twophase' ],
	'tagged prepare: under its SET LOCAL tag');
$s = $all->{twophase} // {};
is("$s->{xacts}/$s->{commits}/$s->{rollbacks}/$s->{statements}/$s->{explicit_xacts}",
	'1/1/0/2/1', 'tagged prepare: xacts/commits/rollbacks/statements/explicit');
is(row_string('tp_prepare'), $before,
	'ROLLBACK PREPARED: nothing added to the untagged row');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '1',
	'ROLLBACK PREPARED: the row is gone');

# 4. PREPARE TRANSACTION in a failed block is a rollback, held until the
# PREPARE (the client idles 0.3 s after the error)
my $s3 = session('tp_failed');
$s3->query_safe('BEGIN');
$s3->query_safe('INSERT INTO t VALUES (3)');
like(query_err($s3, 'SELECT 1 / 0'), qr/division by zero/,
	'failed block: the error');
is($node->safe_psql('postgres',
	"SELECT state FROM pg_stat_transactions_activity WHERE application_name = 'tp_failed'"),
	'idle in transaction (aborted)', 'failed block: seen in the activity view');
usleep(300_000);
is(query_err($s3, "PREPARE TRANSACTION 'z'"), '',
	'failed block: PREPARE TRANSACTION reports no error');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_prepared_xacts"),
	'0', 'failed block: nothing was prepared');
$s = pgxt_stats($node, 'tp_failed')->{''} // {};
is("$s->{xacts}/$s->{commits}/$s->{rollbacks}/$s->{statements}/$s->{explicit_xacts}",
	'1/0/1/1/1', 'failed block + PREPARE: one rollback, one statement');
cmp_ok($s->{max_hold_time}, '>=', 300, 'failed block: held until the PREPARE');
cmp_ok($s->{total_idle_time}, '>=', 300, 'failed block: idle after the error');

# 5. a PREPARE that fails (gid already in use) rolls the block back
$s1->query_safe('BEGIN');
$s1->query_safe('INSERT INTO t VALUES (4)');
$s1->query_safe("PREPARE TRANSACTION 'dup'");
$s3->query_safe('BEGIN');
$s3->query_safe('INSERT INTO t VALUES (5)');
like(query_err($s3, "PREPARE TRANSACTION 'dup'"),
	qr/transaction identifier "dup" is already in use/,
	'duplicate gid: PREPARE fails');
$s = pgxt_stats($node, 'tp_failed')->{''} // {};
is("$s->{xacts}/$s->{commits}/$s->{rollbacks}/$s->{statements}/$s->{explicit_xacts}",
	'2/0/2/2/2', 'failed PREPARE: one more rollback, one more statement');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_transactions_activity WHERE application_name = 'tp_failed'"),
	'0', 'failed PREPARE: the session is out of its transaction');
$s3->query_safe("COMMIT PREPARED 'dup'");
$s = pgxt_stats($node, 'tp_failed')->{''} // {};
is($s->{xacts}, 2, 'COMMIT PREPARED in that session: not tracked');
is($node->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM t'),
	'1,4', 'the committed rows are 1 and 4');

$s1->quit;
$s2->quit;
$s3->quit;

is_deeply(
	[ pgxt_log_errors($node, qr/division by zero/, qr/"dup" is already in use/) ],
	[],
	'no unexpected error in the server log');

$node->stop;
done_testing();

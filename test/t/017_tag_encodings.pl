# Tags across database encodings: tags written in SQL_ASCII, UTF8, LATIN1
# and EUC_JP databases are stored as UTF-8 (invalid bytes as %XX), and
# every database reads every row without an error: a UTF-8 or SQL_ASCII
# database gets the tags as stored, the others with non-ASCII bytes as
# %XX.  Also the activity view and the histogram of a non-ASCII tag.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgxtTest;

$ENV{PGCLIENTENCODING} = 'UTF8';
my $node = pgxt_node('encodings');

my %dbs = (
	e_ascii => 'SQL_ASCII',
	e_utf8 => 'UTF8',
	e_latin1 => 'LATIN1',
	e_eucjp => 'EUC_JP');
for my $db (sort keys %dbs)
{
	$node->safe_psql('postgres',
		"CREATE DATABASE $db ENCODING '$dbs{$db}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
	$node->safe_psql($db, 'CREATE EXTENSION postgres_extension');
}
$node->safe_psql('postgres', 'SELECT pg_stat_transactions_reset()');

# Run $sql in database $db under application_name $app.
sub run_as
{
	my ($db, $app, $sql) = @_;
	$node->safe_psql($db, "SET application_name = '$app';\n$sql");
}

my $e_acute = "\xc3\xa9";				# é in UTF-8
my $emoji = "\xf0\x9f\x98\x80";			# U+1F600
my $nihon = "\xe6\x97\xa5\xe6\x9c\xac";	# 日本

# SQL_ASCII: an escaped 0xFF, a raw 0xFF (the client sends bytes as they
# are), a raw 0xFF in the setting, valid UTF-8 kept
run_as('e_ascii', 'enc_ascii', qq{
	SELECT 1 /*tag='a%FF'*/;
	SET client_encoding = 'SQL_ASCII';
	SELECT 1 /*tag='b\xff'*/;
	BEGIN; SET LOCAL postgres_extension.tag = E'c\\xff'; SELECT 1; COMMIT;
	SELECT 1 /*tag='d$e_acute'*/;
});
# UTF8: an emoji, by comment (URL-encoded) and by setting (raw)
run_as('e_utf8', 'enc_utf8', qq{
	SELECT 1 /*tag='%F0%9F%98%80'*/;
	BEGIN; SET LOCAL postgres_extension.tag = '$emoji'; SELECT 1; COMMIT;
});
# LATIN1: café by setting and by comment (%E9 is é in LATIN1): one tag
run_as('e_latin1', 'enc_latin1', qq{
	BEGIN; SET LOCAL postgres_extension.tag = 'caf$e_acute'; SELECT 1; COMMIT;
	SELECT 1 /*tag='caf%E9'*/;
});
# EUC_JP: 日本 by setting and by comment (converted by the server from the
# client's UTF-8): one tag
run_as('e_eucjp', 'enc_eucjp', qq{
	BEGIN; SET LOCAL postgres_extension.tag = '$nihon'; SELECT 1; COMMIT;
	SELECT 1 /*tag='$nihon'*/;
});

# Before 14 characters are not converted to UTF-8 but written %XX (a
# conversion could not fail without an error there).
my $converts =
  $node->safe_psql('postgres', 'SHOW server_version_num') >= 140000;
my $cafe = $converts ? "caf$e_acute" : 'caf%E9';
my $nihon_stored = $converts ? $nihon : '%C6%FC%CB%DC';

my $query = q{SELECT application_name || ':' || tag || ':' || xacts
	FROM pg_stat_transactions WHERE application_name LIKE 'enc_%' AND tag <> ''
	ORDER BY application_name, tag COLLATE "C"};
my $as_stored = join("\n",
	'enc_ascii:a%FF:1', 'enc_ascii:b%FF:1', 'enc_ascii:c%FF:1',
	"enc_ascii:d$e_acute:1",
	"enc_eucjp:$nihon_stored:2", "enc_latin1:$cafe:2", "enc_utf8:$emoji:2");
my $escaped = join("\n",
	'enc_ascii:a%FF:1', 'enc_ascii:b%FF:1', 'enc_ascii:c%FF:1',
	'enc_ascii:d%C3%A9:1',
	'enc_eucjp:' . ($converts ? '%E6%97%A5%E6%9C%AC' : $nihon_stored) . ':2',
	'enc_latin1:' . ($converts ? 'caf%C3%A9' : $cafe) . ':2',
	'enc_utf8:%F0%9F%98%80:2');

my %want = (
	e_utf8 => $as_stored,
	e_ascii => $as_stored,
	e_latin1 => $escaped,
	e_eucjp => $escaped);
for my $db (sort keys %want)
{
	my ($ret, $out, $err) = $node->psql($db, $query);
	is($ret, 0, "a $dbs{$db} database reads every tag") or diag($err);
	is($out, $want{$db},
		"a $dbs{$db} database reads them " . ($want{$db} eq $escaped ? 'escaped' : 'as stored'));
}

# the activity view, while a UTF-8 session holds an emoji-tagged transaction
my $s = $node->background_psql('e_utf8',
	extra_params =>
	  [ '-d', $node->connstr('e_utf8') . ' application_name=enc_open' ]);
$s->query_safe("BEGIN; SET LOCAL postgres_extension.tag = '$emoji'; SELECT 1;");
for my $db ('e_eucjp', 'e_latin1', 'e_utf8')
{
	my ($ret, $out, $err) = $node->psql($db,
		"SELECT tag FROM pg_stat_transactions_activity WHERE application_name = 'enc_open'");
	is($ret, 0, "the activity view reads in $dbs{$db}") or diag($err);
	is($out, $db eq 'e_utf8' ? $emoji : '%F0%9F%98%80',
		"the open transaction's tag as $dbs{$db} sees it");
}
$s->query_safe('COMMIT');
$s->quit;

# the histogram of the emoji key, with the tag as the view gives it
is( $node->safe_psql('e_utf8', q{
		SELECT sum(h.xacts) FROM pg_stat_transactions s,
		  pg_stat_transactions_histogram(s.userid, s.dbid, s.application_name, s.tag) h
		 WHERE s.application_name = 'enc_utf8' AND s.tag <> ''}),
	'2', 'the histogram of a non-ASCII tag');

is_deeply([ pgxt_log_errors($node) ], [], 'no error or warning in the server log');

done_testing();

# The demo's scenario (test/demo.sh), shorter: the endpoints of
# test/demo/endpoints run as concurrent pgbench clients of application
# "api".  The culprit, POST /slack/modal, holds its transactions open while
# it calls another service; its statements are fast.  It must come first in
# pg_stat_transactions by hold and by idle time, and its statements must not
# come first in pg_stat_statements by execution time.
use strict;
use warnings;
use FindBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $demo = "$FindBin::RealBin/../demo";
my $duration = 12;
my $culprit = 'POST /slack/modal';
# the culprit's statements, as pg_stat_statements shows them
my $culprit_statements = qr/slack_modals|u\.email|POST \/slack\/modal/;

my $node = PostgreSQL::Test::Cluster->new('demo');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,postgres_extension'
max_connections = 40
});
$node->start;

$node->safe_psql('postgres', slurp_file("$demo/schema.sql"));
$node->safe_psql('postgres',
	'SELECT pg_stat_statements_reset(), pg_stat_transactions_reset()');

# One pgbench per endpoint, all at once, as application_name "api".
my @runs;
my %clients;
for my $line (split /\n/, slurp_file("$demo/endpoints"))
{
	next if $line =~ /^\s*(#|$)/;
	my ($n, $script, $tag) = split ' ', $line, 3;
	$clients{$tag} = $n;
	my ($out, $err) = ('', '');
	local $ENV{PGAPPNAME} = 'api';
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-T', $duration, '-c', $n, '-j', '1', '-f', "$demo/$script",
			'postgres'
		],
		'>', \$out, '2>', \$err);
	push @runs, { tag => $tag, h => $h, out => \$out, err => \$err };
}
is(scalar(@runs), 4, 'four endpoints in test/demo/endpoints');
my $pool = 0;
$pool += $_ for values %clients;
is($pool, 20, 'a pool of 20 connections');

for my $run (@runs)
{
	my $ok = $run->{h}->finish;
	ok($ok, "pgbench of $run->{tag} succeeded")
	  or diag(${ $run->{out} } . ${ $run->{err} });
}

note $node->safe_psql('postgres',
	q{SELECT tag, xacts, round(total_hold_time) AS hold_ms, round(total_idle_time) AS idle_ms
	    FROM pg_stat_transactions WHERE application_name = 'api' ORDER BY total_hold_time DESC});
note $node->safe_psql('postgres',
	q{SELECT round(total_exec_time) AS exec_ms, left(query, 60) FROM pg_stat_statements
	   ORDER BY total_exec_time DESC LIMIT 3});

# Every endpoint was seen, under its tag.
my $tags = $node->safe_psql('postgres',
	q{SELECT string_agg(tag, ',' ORDER BY tag COLLATE "C") FROM pg_stat_transactions
	   WHERE application_name = 'api' AND xacts > 0});
is($tags, join(',', sort keys %clients), 'every endpoint has its tag');

my $by_hold = $node->safe_psql('postgres',
	q{SELECT tag FROM pg_stat_transactions WHERE application_name = 'api'
	   ORDER BY total_hold_time DESC LIMIT 1});
is($by_hold, $culprit, 'the culprit is first by total_hold_time');

my $by_idle = $node->safe_psql('postgres',
	q{SELECT tag FROM pg_stat_transactions WHERE application_name = 'api'
	   ORDER BY total_idle_time DESC LIMIT 1});
is($by_idle, $culprit, 'the culprit is first by total_idle_time');

# It held its transactions mostly idle: the server waited on the client.
my $active_share = $node->safe_psql('postgres',
	qq{SELECT total_active_time / total_hold_time FROM pg_stat_transactions
	    WHERE application_name = 'api' AND tag = '$culprit'});
cmp_ok($active_share, '<', 0.25,
	'the culprit executed statements for under a quarter of its hold time');

# pg_stat_statements points elsewhere: the list page's reads come first.
my $top_statement = $node->safe_psql('postgres',
	q{SELECT query FROM pg_stat_statements
	   WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')
	   ORDER BY total_exec_time DESC LIMIT 1});
unlike($top_statement, $culprit_statements,
	'the culprit\'s statements are not first in pg_stat_statements by total_exec_time');
like($top_statement, qr/FROM incidents WHERE team_id/,
	'GET /incidents is first there');
my $culprit_seen = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_statements
	   WHERE query ~ 'slack_modals|u\.email' AND calls > 0});
is($culprit_seen, 2, 'pg_stat_statements does see the culprit\'s two queries');

$node->stop;
done_testing();

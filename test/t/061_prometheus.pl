# The Prometheus wiring: the real prometheus-postgres-exporter (Debian
# package) with test/prometheus/queries.yaml, scraped after a known
# workload.  The counters must equal what ran, the histogram must be
# cumulative, and keys beyond the top 20 must fold into "other".  The
# fingerprint metrics must count each fingerprint's transactions, label it
# with its fingerprint and first query id as the view shows them, fold all
# but the top 10 of an application into "other", and all but the top 20
# (database, application) pairs into "other".  Every metric the alerting
# rules (test/prometheus/alerts.yaml) use must be served.
# Skipped when the exporter is not installed.
use strict;
use warnings;
use FindBin;
use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
plan skip_all => "$exporter is not installed (package prometheus-postgres-exporter)"
  unless -x $exporter;

my $queries = "$FindBin::RealBin/../prometheus/queries.yaml";
my $alerts = "$FindBin::RealBin/../prometheus/alerts.yaml";

my $node = PostgreSQL::Test::Cluster->new('prometheus');
$node->init;
# fingerprints = on: the extension asks the core for query ids, as
# pg_stat_statements is not loaded (on 13, which has none, fingerprints are
# not recorded and their checks skip).
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'postgres_extension'\n"
	  . "postgres_extension.fingerprints = on\n");
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION postgres_extension;
CREATE TABLE t (id int PRIMARY KEY, n int);
INSERT INTO t SELECT g, 0 FROM generate_series(1, 10) g;
-- the exporter's role, as recommended: not a superuser, with pg_monitor
CREATE ROLE exporter LOGIN;
GRANT pg_monitor TO exporter;
SELECT pg_stat_transactions_reset();
});

# The workload, one session per application.
sub run_as
{
	my ($app, $sql) = @_;
	$node->safe_psql('postgres', $sql,
		extra_params => [ '-d', $node->connstr('postgres') . " application_name=$app" ]);
}

# shop/checkout: 10 commits holding 20 ms each, 2 rollbacks
run_as('shop',
	    "BEGIN; SET LOCAL postgres_extension.tag = 'checkout'; SELECT pg_sleep(0.02); COMMIT;\n"
	  x 10
	  . "BEGIN; SET LOCAL postgres_extension.tag = 'checkout'; SELECT 1; ROLLBACK;\n" x 2);
# shop/cart: 25 single statements of 10 ms or more, tagged by a comment
run_as('shop', "SELECT pg_sleep(0.01) /* tag='cart' */;\n" x 25);
# worker/sync: 5 transactions idle 50 ms or more (the client sleeps).  psql
# reads this script from a file: fed through a pipe by safe_psql, it
# stopped after the first \! here.
my $worker_sql = $node->basedir . '/worker.sql';
my $one_sync = "BEGIN;\nSET LOCAL postgres_extension.tag = 'sync';\n"
  . "UPDATE t SET n = n + 1 WHERE id = 1;\n\\! sleep 0.05\nCOMMIT;\n";
PostgreSQL::Test::Utils::append_to_file($worker_sql, $one_sync x 5);
$node->command_ok(
	[
		'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d',
		$node->connstr('postgres') . ' application_name=worker',
		'-f', $worker_sql
	],
	'worker/sync ran');
# noise/n01..n25: 25 keys of one short transaction each, to be folded
run_as('noise', join('', map { sprintf("SELECT 1 /* tag='n%02d' */;\n", $_) } 1 .. 25));
# fp: 15 fingerprints in one application.  Fingerprint i (1 to 10) is a
# transaction of one SELECT of pg_sleep and i columns (so their query ids
# differ), run i times, sleeping 40/i ms each time: it holds 40 ms or more
# in all.  Five more, an autocommit SELECT of k columns without sleep, run
# once each, hold far less: they fold into fingerprint "other", 5 xacts.
my $fp_sql = '';
for my $i (1 .. 10)
{
	$fp_sql .= sprintf("BEGIN; SELECT pg_sleep(%.4f), %s FROM t WHERE id = 1; COMMIT;\n",
		0.04 / $i, join(', ', ('n') x $i)) x $i;
}
$fp_sql .= sprintf("SELECT %s FROM t WHERE id = 2;\n", join(', ', ('id') x $_)) for 1 .. 5;
run_as('fp', $fp_sql);
# g01..g20: 20 more applications of one short transaction each, so that
# there are more than 20 (database, application) pairs of fingerprints
# (setting application_name is not a transaction of its own).
run_as('g', join('', map { sprintf("SET application_name = 'g%02d';\nSELECT 1;\n", $_) } 1 .. 20));
my $fp_status =
  $node->safe_psql('postgres', 'SELECT fingerprints FROM pg_stat_transactions_info');

# Start the exporter on a free loopback port.
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $log = $node->basedir . '/exporter.log';
my $dsn = sprintf('host=%s port=%d user=exporter dbname=postgres sslmode=disable',
	$node->host, $node->port);
my @cmd = (
	$exporter, "--web.listen-address=127.0.0.1:$port",
	"--extend.query-path=$queries", '--disable-default-metrics',
	'--disable-settings-metrics', '--no-collector.database',
	'--no-collector.bgwriter', '--log.level=info');
note "exporter: @cmd";
my $h;
{
	local $ENV{DATA_SOURCE_NAME} = $dsn;
	$h = IPC::Run::start(\@cmd, '<', \undef, '>', $log, '2>&1');
}

my $http = HTTP::Tiny->new(timeout => 10);
my $url = "http://127.0.0.1:$port/metrics";
my $body;
for (1 .. 60)
{
	my $res = $http->get($url);
	if ($res->{success} && $res->{content} =~ /^pg_up 1$/m)
	{
		$body = $res->{content};
		last;
	}
	usleep(500_000);
}
ok(defined $body, 'the exporter serves metrics and reaches the server')
  or diag(slurp_file($log));
$body //= '';

# Parse the exposition format: name => [ { labels }, value ], ...
my %series;
for my $line (split /\n/, $body)
{
	next if $line =~ /^#/ || $line !~ /\S/;
	my ($name, $labels, $value) = $line =~ /^(\w+)(?:\{(.*)\})?\s+(\S+)$/
	  or next;
	my %l;
	while (defined $labels && $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g)
	{
		$l{$1} = $2;
	}
	push @{ $series{$name} }, [ \%l, $value ];
}

# The value of one series of a metric, chosen by labels.
sub value_of
{
	my ($name, %want) = @_;
	my @hits = grep {
		my $l = $_->[0];
		!grep { ($l->{$_} // "\0") ne $want{$_} } keys %want
	} @{ $series{$name} || [] };
	return undef unless @hits == 1;
	return $hits[0][1];
}

is(value_of('pg_exporter_user_queries_load_error'), 0, 'the query file loads');
is(value_of('pg_exporter_last_scrape_error'), 0, 'the scrape has no error');
unlike(slurp_file($log), qr/level=(error|warn)|Error running query/i,
	'the exporter logged no error');

my %checkout = (application_name => 'shop', tag => 'checkout');
my %cart = (application_name => 'shop', tag => 'cart');
my %sync = (application_name => 'worker', tag => 'sync');

is(value_of('pg_stat_transactions_xacts_total', %checkout), 12, 'checkout: 12 transactions');
is(value_of('pg_stat_transactions_commits_total', %checkout), 10, 'checkout: 10 commits');
is(value_of('pg_stat_transactions_rollbacks_total', %checkout), 2, 'checkout: 2 rollbacks');
is(value_of('pg_stat_transactions_xacts_total', %cart), 25, 'cart: 25 transactions');
is(value_of('pg_stat_transactions_statements_total', %cart), 25, 'cart: 25 statements');
is(value_of('pg_stat_transactions_xacts_total', %sync), 5, 'sync: 5 transactions');
is(value_of('pg_stat_transactions_timeouts_total', %sync), 0, 'sync: no timeouts');

cmp_ok(value_of('pg_stat_transactions_hold_seconds_total', %checkout),
	'>=', 0.2, 'checkout held 0.2 s or more');
cmp_ok(value_of('pg_stat_transactions_hold_seconds_total', %cart),
	'>=', 0.25, 'cart held 0.25 s or more');
cmp_ok(value_of('pg_stat_transactions_active_seconds_total', %cart),
	'>=', 0.25, 'cart was active 0.25 s or more');
cmp_ok(value_of('pg_stat_transactions_idle_seconds_total', %sync),
	'>=', 0.25, 'sync was idle 0.25 s or more');
cmp_ok(value_of('pg_stat_transactions_idle_seconds_total', %sync),
	'<=', value_of('pg_stat_transactions_hold_seconds_total', %sync),
	'sync: idle is part of hold');

# The histogram of cart: every transaction took 10 ms or more.
my @les = qw(0.001 0.005 0.01 0.05 0.1 0.5 1 5 +Inf);
my @cart_buckets =
  map { value_of('pg_stat_transactions_hold_seconds_bucket', %cart, le => $_) } @les;
is(scalar(grep { defined } @cart_buckets), scalar(@les), 'cart has every le bucket');
is_deeply([ @cart_buckets[ 0 .. 2 ] ], [ 0, 0, 0 ], 'cart: nothing at or below 10 ms');
is($cart_buckets[6], 25, 'cart: all 25 at or below 1 s');
is($cart_buckets[-1], 25, 'cart: le="+Inf" counts all 25');
is(value_of('pg_stat_transactions_hold_seconds_count', %cart), 25, 'cart: _count is 25');
cmp_ok(
	abs(value_of('pg_stat_transactions_hold_seconds_sum', %cart)
		  - value_of('pg_stat_transactions_hold_seconds_total', %cart)),
	'<', 1e-6, 'cart: _sum equals hold_seconds_total');

# Every histogram is cumulative and ends at its count.
my $cumulative = 1;
for my $s (@{ $series{pg_stat_transactions_hold_seconds_count} || [] })
{
	my %key = map { $_ => $s->[0]{$_} } qw(application_name tag);
	my @b = map { value_of('pg_stat_transactions_hold_seconds_bucket', %key, le => $_) // -1 } @les;
	for my $i (1 .. $#b)
	{
		$cumulative = 0 if $b[$i] < $b[ $i - 1 ];
	}
	$cumulative = 0 if $b[0] < 0 || $b[-1] != $s->[1];
}
ok($cumulative, 'every histogram is cumulative and its +Inf bucket is its count');

# Bounded labels: 20 pairs and "other".
my @pairs = map { "$_->[0]{application_name}/$_->[0]{tag}" }
  @{ $series{pg_stat_transactions_xacts_total} || [] };
my %seen;
is(scalar(grep { !$seen{$_}++ } @pairs), scalar(@pairs), 'label pairs are unique');
is(scalar(@pairs), 21, '21 label pairs: the top 20 and other');
my $other = value_of('pg_stat_transactions_xacts_total',
	application_name => 'other', tag => 'other');
ok(defined $other, 'the rest is folded into application_name="other", tag="other"');
my $noise_shown = grep { m{^noise/} } @pairs;
cmp_ok($noise_shown, '<=', 17, 'most noise keys are folded');
cmp_ok($other // 0, '>=', 25 - $noise_shown, 'other counts the folded noise transactions');
is(scalar(grep { m{^noise/} && value_of('pg_stat_transactions_xacts_total',
	application_name => 'noise', tag => substr($_, 6)) != 1 } @pairs),
	0, 'each noise key shown counts its one transaction');

cmp_ok(value_of('pg_stat_transactions_info_deallocations_total'), '==', 0,
	'no key was evicted');

# Fingerprints, as the view shows them (read after the scrape: the
# workload was over before it).
SKIP:
{
	skip "fingerprints are not recorded: $fp_status", 22 if $fp_status ne 'on';

	# The view's fingerprints of an application in database postgres, by
	# hold time, longest first: [ fingerprint, first query id, xacts ], ...
	my $view = sub {
		my ($app) = @_;
		my $out = $node->safe_psql(
			'postgres', qq{
		SELECT fingerprint, coalesce(queryids[1]::text, ''), xacts
		  FROM pg_stat_transactions_fingerprints
		 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')
		   AND application_name = '$app'
		 ORDER BY total_hold_time DESC});
		return map { [ split /\|/ ] } split /\n/, $out;
	};

	my $m = 'pg_stat_transactions_fingerprints';
	note join("\n", grep { /^${m}_xacts_total/ } split /\n/, $body);
	my @fps = @{ $series{"${m}_xacts_total"} || [] };
	# the series of one application in database postgres
	my $of = sub {
		my ($app) = @_;
		return grep { $_->[0]{datname} eq 'postgres' && $_->[0]{application_name} eq $app } @fps;
	};
	my %seen_fp;
	is( scalar(
			grep {
				!$seen_fp{ join "\0",
					  map { $_ // '' } @{ $_->[0] }{qw(datname application_name fingerprint first_queryid)} }++
			} @fps),
		scalar(@fps),
		'fingerprint label sets are unique');

	# fp: the top 10 by hold time keep their labels, the 5 others are summed.
	my @fp_view = $view->('fp');
	is(scalar(@fp_view), 15, 'the view has the 15 fingerprints of fp');
	my @fp_series = $of->('fp');
	my @top = grep { $_->[0]{fingerprint} ne 'other' } @fp_series;
	is(scalar(@fp_series), 11, 'fp: 11 series, the top 10 fingerprints and other');
	is(join(',', sort { $a <=> $b } map { $_->[1] } @top), join(',', 1 .. 10),
		'fp: the top 10 count 1 to 10 transactions');
	is(value_of("${m}_xacts_total", datname => 'postgres', application_name => 'fp',
			fingerprint => 'other', first_queryid => 'other'),
		5, 'fp: other (fingerprint and first_queryid) sums the 5 transactions of the 5 others');
	# the labels are the view's fingerprint and first query id
	my ($labelled, $held) = (0, 0);
	for my $v (@fp_view[ 0 .. 9 ])
	{
		my ($fp, $qid, $xacts) = @{ $v // [] };
		next unless defined $xacts && $qid ne '';
		my %l = (datname => 'postgres', application_name => 'fp',
			fingerprint => $fp, first_queryid => $qid);
		$labelled++ if (value_of("${m}_xacts_total", %l) // -1) == $xacts;
		$held++ if (value_of("${m}_hold_seconds_total", %l) // 0) >= 0.04;
	}
	is($labelled, 10,
		'fp: each of the top 10 is labelled with its fingerprint and first query id, and counts its xacts');
	is($held, 10, 'fp: each of the top 10 held 40 ms or more');
	my %distinct_qid = map { $_->[0]{first_queryid} => 1 } @top;
	is(scalar(keys %distinct_qid), 10, 'fp: 10 distinct first query ids');

	# shop: three fingerprints (checkout's commits, its rollbacks, cart), no other
	my @shop = $of->('shop');
	is(join(',', sort { $a <=> $b } map { $_->[1] } @shop), '2,10,25',
		'shop: 3 fingerprints of 2, 10 and 25 transactions');
	is(scalar(grep { $_->[0]{fingerprint} eq 'other' } @shop), 0,
		'shop: no other with 10 fingerprints or fewer');

	# worker: one fingerprint of 5 transactions, idle 50 ms each or more
	my @worker = $of->('worker');
	is(scalar(@worker), 1, 'worker: one fingerprint');
	my ($wv) = $view->('worker');
	my %wl = (datname => 'postgres', application_name => 'worker',
		fingerprint => $wv->[0] // '', first_queryid => $wv->[1] // '');
	is(value_of("${m}_xacts_total", %wl), 5, 'worker: 5 transactions, labelled as in the view');
	cmp_ok(value_of("${m}_idle_seconds_total", %wl) // 0, '>=', 0.25,
		'worker: idle 0.25 s or more');
	cmp_ok(value_of("${m}_idle_seconds_total", %wl) // 1,
		'<=', value_of("${m}_hold_seconds_total", %wl) // 0, 'worker: idle is part of hold');

	# noise: 25 keys of pg_stat_transactions, one fingerprint
	my @noise = $of->('noise');
	is(scalar(@noise) == 1 ? $noise[0][1] : -1, 25, 'noise: one fingerprint of 25 transactions');

	# (database, application) pairs: the top 20 and other
	my %pairs = map { ("$_->[0]{datname}/$_->[0]{application_name}", 1) } @fps;
	is(scalar(keys %pairs), 21, '21 (database, application) pairs: the top 20 and other');
	my $other_group = value_of("${m}_xacts_total", datname => 'other',
		application_name => 'other', fingerprint => 'other', first_queryid => 'other');
	ok(defined $other_group, 'the pairs beyond 20 are summed under datname="other", application_name="other"');
	ok($pairs{'postgres/fp'} && $pairs{'postgres/shop'} && $pairs{'postgres/worker'},
		'fp, shop and worker, which held longest, keep their names');
	my @g_shown = grep { m{^postgres/g\d\d$} } keys %pairs;
	cmp_ok($other_group // 0, '>=', 20 - @g_shown, 'other counts the folded g applications');
	is(scalar(grep { my $app = substr($_, 9); my @s = $of->($app); @s != 1 || $s[0][1] != 1 } @g_shown),
		0, 'each g application shown has one fingerprint of one transaction');

	cmp_ok(value_of('pg_stat_transactions_info_fingerprint_deallocations_total') // -1,
		'==', 0, 'no fingerprint was evicted');
}

# The alerting rules use metrics the exporter serves.
my $exprs = join("\n", slurp_file($alerts) =~ /^\s+expr:(.*?)(?=^\s+\w+:)/msg);
my %used = map { $_ => 1 } $exprs =~ /\b(pg_stat_transactions\w+)/g;
# (the fingerprints' metrics only where fingerprints are recorded: not on 13
# without pg_stat_statements)
my @missing = grep { !$series{$_} && ($fp_status eq 'on' || !/_fingerprints?_/) }
  sort keys %used;
ok(scalar(keys %used) >= 4, 'alerts.yaml uses metrics of pg_stat_transactions');
is("@missing", '', 'every metric alerts.yaml uses is served');

$h->kill_kill;
$node->stop;
done_testing();

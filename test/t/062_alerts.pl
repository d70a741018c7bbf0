# The Prometheus alerting rules (test/prometheus/alerts.yaml): promtool
# checks them and runs their unit tests (test/prometheus/alerts_test.yaml),
# every alert is tested both firing and not firing, and every metric the
# rules use is one that test/prometheus/queries.yaml makes.  Skipped when
# promtool (Debian package prometheus) is not installed.
use strict;
use warnings;
use FindBin;
use PostgreSQL::Test::Utils;
use Test::More;

my $promtool = '/usr/bin/promtool';
plan skip_all => "$promtool is not installed (package prometheus)"
  unless -x $promtool;

my $dir = "$FindBin::RealBin/../prometheus";
my $rules = "$dir/alerts.yaml";
my $tests = "$dir/alerts_test.yaml";

# Run promtool; returns whether it succeeded, and its output.
sub promtool
{
	my @args = @_;
	my ($stdout, $stderr) = run_command([ $promtool, @args ]);
	my $out = "$stdout$stderr";
	return ($out =~ /SUCCESS/ && $out !~ /FAILED/, $out);
}

my ($ok, $out) = promtool('check', 'rules', $rules);
ok($ok, 'promtool check rules: alerts.yaml is valid') or diag($out);
my ($nrules) = $out =~ /SUCCESS: (\d+) rules found/;
my @alerts = slurp_file($rules) =~ /^\s*- alert: (\w+)\s*$/mg;
is($nrules, scalar(@alerts), 'promtool counts as many rules as alerts.yaml has alerts');
cmp_ok(scalar(@alerts), '>=', 5, 'alerts.yaml has 5 alerts or more');

($ok, $out) = promtool('test', 'rules', $tests);
ok($ok, 'promtool test rules: alerts_test.yaml passes') or diag($out);

# Each alert is expected both firing and not firing somewhere in the tests.
my $test_text = slurp_file($tests);
my (%fires, %quiet);
while ($test_text =~ /alertname: (\w+)\n\s+exp_alerts:(.*)\n/g)
{
	my ($name, $rest) = ($1, $2);
	if ($rest =~ /^\s*\[\]\s*$/)
	{
		$quiet{$name}++;
	}
	else
	{
		$fires{$name}++;
	}
}
is(join(',', grep { !$fires{$_} } @alerts), '', 'every alert is tested firing');
is(join(',', grep { !$quiet{$_} } @alerts), '', 'every alert is tested not firing');
is(join(',', grep { my $a = $_; !grep { $_ eq $a } @alerts } sort(keys %fires, keys %quiet)),
	'', 'the tests name only alerts of alerts.yaml');

# The metric names queries.yaml makes: <query>_<column> for each counter
# and gauge column, and a histogram's _bucket, _sum and _count.
my (%made, $query, $column);
for my $line (split /\n/, slurp_file("$dir/queries.yaml"))
{
	if ($line =~ /^(\w+):\s*$/)
	{
		$query = $1;
	}
	elsif ($line =~ /^\s+- (\w+):\s*$/)
	{
		$column = $1;
	}
	elsif ($line =~ /^\s+usage: "(\w+)"/ && defined $query && defined $column)
	{
		my $name = "${query}_$column";
		$made{$name} = 1 if $1 eq 'COUNTER' || $1 eq 'GAUGE';
		$made{"${name}_$_"} = 1 for $1 eq 'HISTOGRAM' ? qw(bucket sum count) : ();
	}
}
ok($made{pg_stat_transactions_fingerprints_hold_seconds_total},
	'queries.yaml makes the fingerprint metrics');
# the metrics in the rules' expressions (an expr runs to the next key)
my $exprs = join("\n", slurp_file($rules) =~ /^\s+expr:(.*?)(?=^\s+\w+:)/msg);
my %used = map { $_ => 1 } $exprs =~ /\b(pg_stat_transactions\w+)/g;
cmp_ok(scalar(keys %used), '>=', 5, 'alerts.yaml uses 5 metrics or more');
is(join(',', grep { !$made{$_} } sort keys %used), '',
	'every metric alerts.yaml uses is made by queries.yaml');

done_testing();

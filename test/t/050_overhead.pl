# Overhead gate: instructions per transaction, counted by callgrind in
# "postgres --single" (deterministic, so it may gate), with and without
# postgres_extension preloaded, on the two workloads of
# test/bench/callgrind.sh:
#   a: BEGIN; SELECT by primary key; UPDATE by primary key; COMMIT;
#   b: one autocommit SELECT by primary key.
# The extension must add at most 1.0% to either (the target is 0.5%), and
# the measurement counts only if it really tracked: an unmeasured run of
# the same script ends with sum(xacts) = N, and query ids stay off
# (compute_query_id 'auto', no module forcing them).  Skipped without
# valgrind, before PostgreSQL 15 (whose "postgres --single" ignores
# shared_preload_libraries) and on servers built with --enable-cassert
# (their assertions are not the production cost, and valgrind takes
# minutes there).  About 20 seconds on 2 CPUs.
use strict;
use warnings;
use FindBin;
use PostgreSQL::Test::Utils;
use Test::More;

my $limit = 1.010;      # ratio to the run without the extension
my $nxacts = 3000;      # transactions per workload

if (system('valgrind --version > /dev/null 2>&1') != 0)
{
	plan skip_all => 'valgrind is not installed';
}
my ($major) = `pg_config --version` =~ /\s(\d+)/;
if ($major < 15)
{
	plan skip_all =>
	  "postgres --single of PostgreSQL $major does not load shared_preload_libraries";
}
if (`pg_config --configure` =~ /--enable-cassert/)
{
	plan skip_all => 'instruction counts of an assert-enabled build are not the production cost';
}

my $script = "$FindBin::RealBin/../bench/callgrind.sh";
my $bindir = $ENV{PG_BINDIR} // `pg_config --bindir`;
chomp $bindir;
my $work = "$PostgreSQL::Test::Utils::tmp_check/callgrind_050";

my ($stdout, $stderr);
my $ok = IPC::Run::run(
	[ 'bash', $script, '-n', $nxacts, '-w', 'a,b', '-c', 'base,ours', '-d', $work ],
	'>', \$stdout, '2>', \$stderr,
	init => sub { $ENV{PG_BINDIR} = $bindir });
note($stdout);
ok($ok, 'callgrind.sh ran and its checks passed') or diag("$stdout\n$stderr");

# workload config instr/xact +instr/xact ratio check
my %row;
for my $line (split /\n/, $stdout)
{
	next if $line =~ /^#/;
	my ($w, $c, $perx, $plus, $ratio, $check) =
	  $line =~ /^(\S+)\s+(\S+)\s+([\d.]+)\s+(\S+)\s+(\S+)\s+(.*)$/
	  or next;
	$row{$w}{$c} = { perx => $perx, plus => $plus, ratio => $ratio, check => $check };
}

for my $w (qw(a b))
{
	my $ours = $row{$w}{ours};
	my $base = $row{$w}{base};
	ok($ours && $base, "workload $w: both configurations measured") or next;
	like($ours->{check}, qr/^tracked: $nxacts xacts, compute_query_id=auto, queryid off$/,
		"workload $w: the extension tracked all $nxacts transactions, no query ids");
	cmp_ok($base->{perx}, '>', 10000,
		"workload $w: a transaction costs something ($base->{perx} instructions)");
	cmp_ok($ours->{ratio}, '<=', $limit,
		"workload $w: extension adds $ours->{plus} instructions per transaction "
		  . "(ratio $ours->{ratio}, limit $limit)")
	  or diag($stdout);
}

done_testing();

# Helpers shared by the TAP tests of postgres_extension: a node with the
# library preloaded, the statistics of one application_name read back per
# tag, and what makes the tests run alike on PostgreSQL 13 to 18 (and on
# each version's own TAP framework).
#
# Portability notes for the tests: 13's framework has no connstr parameter
# to psql() and safe_psql(): pass extra_params => [ '-d', $connstr ]
# instead (psql takes the last -d).  pg_terminate_backend(pid, timeout) is
# 14+: use pgxt_terminate.  pgbench prints its failed transactions from 15
# on: use pgxt_pgbench_no_failure.
package PgxtTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(pgxt_node pgxt_stats pgxt_poll pgxt_log_errors
  pgxt_server_version pgxt_terminate pgxt_pgbench_no_failure);

# 13's copy of PostgreSQL::Test::BackgroundPsql leaves its query separator
# in the output of a query that prints nothing; later versions number the
# separator and remove it in every case.  Remove it on 13 too.
{
	no warnings 'redefine';
	my $query = \&PostgreSQL::Test::BackgroundPsql::query;
	*PostgreSQL::Test::BackgroundPsql::query = sub {
		my ($output, $ret) = $query->(@_);
		$output = ''
		  if $output =~ /\Abackground_psql: QUERY_SEPARATOR\r?\n?\z/;
		return wantarray ? ($output, $ret) : $output;
	};
}

# The counters compared exactly by the tests.
our @COUNTERS = qw(xacts commits rollbacks statements explicit_xacts
  readonly_xacts);

# A started node with pg_stat_statements and postgres_extension preloaded,
# both extensions created in database postgres.  Query ids are computed:
# pg_stat_statements asks for them (compute_query_id is "auto" from 14 on;
# 13 has no such setting, and pg_stat_statements computes them itself).
# Extra lines are appended to postgresql.conf.
sub pgxt_node
{
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf(
		'postgresql.conf', join("\n",
			"shared_preload_libraries = 'pg_stat_statements,postgres_extension'",
			"max_connections = 30",
			@conf)
		  . "\n");
	$node->start;
	$node->safe_psql('postgres',
		'CREATE EXTENSION postgres_extension; CREATE EXTENSION pg_stat_statements;');
	return $node;
}

# Statistics rows of one application_name (in database postgres), as a
# hash: tag => { counter => value, ..., and the time columns }.
sub pgxt_stats
{
	my ($node, $appname) = @_;
	my @cols = (@COUNTERS,
		qw(total_hold_time min_hold_time max_hold_time total_active_time
		  total_idle_time max_idle_time));
	my $out = $node->safe_psql(
		'postgres', qq{
		SELECT tag, } . join(', ', @cols) . qq{
		  FROM pg_stat_transactions
		 WHERE application_name = '$appname'
		   AND dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')
		 ORDER BY tag COLLATE "C"});
	my %stats;
	for my $line (split /\n/, $out)
	{
		my ($tag, @vals) = split /\|/, $line, -1;
		die "tag '$tag' seen twice for $appname" if exists $stats{$tag};
		my %row;
		@row{@cols} = @vals;
		$stats{$tag} = \%row;
	}
	return \%stats;
}

# Run $sql until it returns $expected, for at most $seconds (default 20):
# shorter than poll_query_until's default, so that a feature that broke
# fails the test quickly.  Returns whether it got there.
sub pgxt_poll
{
	my ($node, $sql, $expected, $seconds) = @_;
	my $tries = 10 * ($seconds // 20);
	for (1 .. $tries)
	{
		my $got = $node->safe_psql('postgres', $sql);
		return 1 if $got eq $expected;
		usleep(100_000);
	}
	return 0;
}

# Lines of the server log at level WARNING or above (ERROR, FATAL, PANIC)
# that do not match the given expected patterns.
sub pgxt_log_errors
{
	my ($node, @expected) = @_;
	my @bad;
	for my $line (split /\n/, slurp_file($node->logfile))
	{
		next unless $line =~ /\b(WARNING|ERROR|FATAL|PANIC):/;
		next if grep { $line =~ $_ } @expected;
		push @bad, $line;
	}
	return @bad;
}

# server_version_num of $node, e.g. 150020.
sub pgxt_server_version
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SHOW server_version_num');
}

# Terminate backend $pid of $node and wait until it has left
# pg_stat_activity (what pg_terminate_backend(pid, timeout) of 14+ does);
# returns whether both happened.
sub pgxt_terminate
{
	my ($node, $pid) = @_;
	return 0
	  unless $node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)")
	  eq 't';
	return pgxt_poll($node,
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0');
}

# Test that pgbench's report $out shows no failed transaction.  pgbench
# counts them from 15 on; an older one ends the client at its first failed
# transaction instead, which its exit status and its count of processed
# transactions show (the callers check both), so the test is skipped there.
sub pgxt_pgbench_no_failure
{
	my ($out, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($major) = `pgbench --version` =~ /\s(\d+)/;
  SKIP:
	{
		skip "$name: pgbench $major reports no failed transactions", 1
		  if $major < 15;
		like($out, qr/number of failed transactions: 0 /, $name);
	}
	return;
}

1;

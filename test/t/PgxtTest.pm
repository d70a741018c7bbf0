# Helpers shared by the TAP tests of postgres_extension: a node with the
# library preloaded, and the statistics of one application_name read back
# per tag.
package PgxtTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(pgxt_node pgxt_stats pgxt_poll pgxt_log_errors);

# The counters compared exactly by the tests.
our @COUNTERS = qw(xacts commits rollbacks statements explicit_xacts
  readonly_xacts);

# A started node with pg_stat_statements and postgres_extension preloaded,
# both extensions created in database postgres.  Extra lines are appended
# to postgresql.conf.
sub pgxt_node
{
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf(
		'postgresql.conf', join("\n",
			"shared_preload_libraries = 'pg_stat_statements,postgres_extension'",
			"compute_query_id = on",
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

1;

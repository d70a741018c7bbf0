# Helpers shared by the watchdog's TAP tests (020_watchdog.pl,
# 021_watchdog_crash.pl, 022_watchdog_rules.pl): a node with the library
# preloaded, the monitor session that watches pg_stat_activity, and
# background psql sessions that are sent statements without waiting and
# that can find their backend gone.
#
# session() and the helpers that poll (alive, watchdog_ok) work on the
# node and the monitor session set up by watchdog_monitor($node), one per
# test file.
package WatchdogTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More;
use PgxtTest ();    # its portability fixes of the TAP framework

our @EXPORT = qw($MARGIN $WATCHDOG watchdog_node watchdog_monitor session
  send_sql wait_mark client_error alive watchdog_ok);

# Poll margin over the limit, in seconds, for wall-clock bounds: the
# pg_stat_activity row goes away only once the backend has exited.
our $MARGIN = 0.25;

# How many watchdogs run: '1' when all is well.
our $WATCHDOG =
  q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'postgres_extension watchdog'};

my $node;       # the node and monitor session of watchdog_monitor()
my $mon;
my $marks = 0;

# A started node $name with postgres_extension preloaded, the lines of
# @$conf appended to postgresql.conf after it, and the extension created
# in database postgres, followed there by $sql (optional).
sub watchdog_node
{
	my ($name, $conf, $sql) = @_;
	my $n = PostgreSQL::Test::Cluster->new($name);
	$n->init;
	$n->append_conf('postgresql.conf',
		join("\n", '', "shared_preload_libraries = 'postgres_extension'", @$conf, ''));
	$n->start;
	$n->safe_psql('postgres', "CREATE EXTENSION postgres_extension;\n" . ($sql // ''));
	return $n;
}

# Start the monitor session (application_name 'monitor') on $node, which
# session() connects to from now on; returns the monitor.
sub watchdog_monitor
{
	($node) = @_;
	$mon = $node->background_psql('postgres', timeout => 60);
	$mon->query_safe(q{SET application_name = 'monitor'});
	return $mon;
}

# A psql session in the background with application_name $app, verbose
# errors (SQLSTATE shown) and its backend pid in {pid}; options: db (default
# postgres), role (connect as that user).
sub session
{
	my ($app, %opt) = @_;
	my $s = $node->background_psql(
		$opt{db} // 'postgres',
		on_error_stop => 0,
		timeout => 60,
		extra_params => [ $opt{role} ? ('-U', $opt{role}) : () ]);
	$s->query_safe(qq{\\set VERBOSITY verbose\nSET application_name = '$app'});
	$s->{pid} = $s->query_safe('SELECT pg_backend_pid()');
	$s->{app} = $app;
	return $s;
}

# Send sql without waiting for it; returns a mark for wait_mark.
sub send_sql
{
	my ($s, $sql) = @_;
	my $mark = 'mark ' . ++$marks;
	$s->{stdin} .= "$sql\n\\echo '$mark'\n";
	$s->{run}->pump_nb while length $s->{stdin} && $s->{run}->pumpable;
	return $mark;
}

# Wait until psql has run everything before the mark; false if psql exited
# first.
sub wait_mark
{
	my ($s, $mark) = @_;
	until ($s->{stdout} =~ /^\Q$mark\E$/m)
	{
		return 0 if !$s->{run}->pumpable;
		$s->{run}->pump;
	}
	return 1;
}

# Send one more statement to a session whose backend should be gone, wait
# for psql to exit (it does when the connection is lost) and return its
# stderr.
sub client_error
{
	my ($s) = @_;
	$s->{stdin} .= "SELECT 'still alive';\n\\q\n";
	$s->{run}->finish;
	return $s->{stderr};
}

# Whether backend $pid is still in pg_stat_activity (asked by the monitor).
sub alive
{
	my ($pid) = @_;
	return $mon->query_safe(
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '1';
}

# Test that exactly one watchdog runs; $what ends the test's name.
sub watchdog_ok
{
	my ($what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is($mon->query_safe($WATCHDOG), '1', "the watchdog is alive $what");
}

1;

# Helpers of the TAP tests that drive real clients (test/t/07x_*.pl): the
# node and its schema, PgBouncer in transaction mode in front of it, the
# client scripts of test/clients (Python and node), and the comparison of
# what a client counted itself (its ledger, see python/ledger.py and
# node/ledger.js) with pg_stat_transactions.
#
# The clients and the pooler are installed by test/clients/install.sh
# (called by test/run_tests.sh); a test skips a client whose package is
# missing and says which.
package ClientTest;

use strict;
use warnings;
use Digest::SHA qw(sha256_hex);
use Exporter 'import';
use File::Basename qw(dirname);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw($PYTHON $CLIENTS client_node python_missing node_missing
  start_pgbouncer stop_pgbouncer run_client check_ledger app_stats
  pgbouncer_missing);

# Debian's interpreter: the one that sees python3-psycopg and friends
# (another python3 may come first in PATH).
our $PYTHON = '/usr/bin/python3';
our $PGBOUNCER = '/usr/sbin/pgbouncer';

# test/clients
our $CLIENTS = dirname(__FILE__);

# The counters a ledger gives per tag.
my @COUNTERS = qw(xacts commits rollbacks statements explicit_xacts);

# A started node with the library preloaded and the clients' schema:
# roles "app" (tags from comments with the default key, "tag") and "web"
# (key "route", what sqlcommenter libraries write), tables items (ids 1 to
# 10, n = 0), uniq (one row 'taken', for unique violations) and incidents
# (Django's).  @conf is appended to postgresql.conf.
sub client_node
{
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf(
		'postgresql.conf', join("\n",
			"shared_preload_libraries = 'postgres_extension'",
			"max_connections = 40",
			"timezone = 'UTC'",
			@conf)
		  . "\n");
	$node->start;
	$node->safe_psql(
		'postgres', q{
		CREATE EXTENSION postgres_extension;
		CREATE ROLE app LOGIN;
		CREATE ROLE web LOGIN;
		ALTER ROLE web SET postgres_extension.tag_comment_key = 'route';
		CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
		INSERT INTO items SELECT g FROM generate_series(1, 10) g;
		CREATE TABLE uniq (k text PRIMARY KEY);
		INSERT INTO uniq VALUES ('taken');
		CREATE TABLE incidents (id serial PRIMARY KEY, title text NOT NULL UNIQUE,
			status text NOT NULL DEFAULT 'open');
		INSERT INTO incidents (title) SELECT 'incident ' || g FROM generate_series(1, 5) g;
		GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC;
		GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO PUBLIC;
	});
	return $node;
}

# Why the Python modules @modules cannot be used (a message naming the
# Debian packages), or undef when they all import.
sub python_missing
{
	my (%modules) = @_;    # module => Debian package
	return "$PYTHON is not installed" unless -x $PYTHON;
	my @missing;
	for my $m (sort keys %modules)
	{
		my ($out, $err);
		IPC::Run::run([ $PYTHON, '-c', "import $m" ], '<', \undef, '>', \$out, '2>', \$err)
		  or push @missing, "$m ($modules{$m})";
	}
	return @missing ? 'not installed: ' . join(', ', @missing) : undef;
}

# The node_modules directory that test/clients/install.sh made from
# node/package-lock.json, and why the node clients cannot run (undef when
# they can), in list context.
sub node_missing
{
	my $lock = slurp_file("$CLIENTS/node/package-lock.json");
	my $base = $ENV{PGXT_NPM_DIR} // '/var/cache/postgres_extension-npm';
	my $dir = "$base/" . substr(sha256_hex($lock), 0, 16) . '/node_modules';
	my $node_bin = (grep { -x "$_/node" } split /:/, $ENV{PATH})[0];
	return ($dir, 'node is not installed (package nodejs)') unless $node_bin;
	return ($dir, "$dir is missing (test/clients/install.sh runs npm ci)")
	  unless -d $dir;
	return ($dir, undef);
}

sub pgbouncer_missing
{
	return -x $PGBOUNCER ? undef : "$PGBOUNCER is not installed (package pgbouncer)";
}

# Start PgBouncer in pool_mode = transaction on a free loopback port, in
# front of database postgres of $node, for roles app, web and the OS user
# the tests run as.  Options: pool_size (default_pool_size, default 1:
# every client shares one server connection), and extra lines for the
# [pgbouncer] section.  Returns { port, log, handle }.
sub start_pgbouncer
{
	my ($node, %opt) = @_;
	my $dir = $node->basedir . '/pgbouncer' . ($opt{name} // '');
	mkdir $dir;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $me = getpwuid($<);
	append_to_file("$dir/users.txt", qq{"app" ""\n"web" ""\n"$me" ""\n});
	my $ini = join("\n",
		'[databases]',
		sprintf('postgres = host=%s port=%d dbname=postgres', $node->host, $node->port),
		'[pgbouncer]',
		'listen_addr = 127.0.0.1',
		"listen_port = $port",
		'unix_socket_dir =',
		'auth_type = trust',
		"auth_file = $dir/users.txt",
		'pool_mode = transaction',
		'default_pool_size = ' . ($opt{pool_size} // 1),
		'max_client_conn = 100',
		"logfile = $dir/pgbouncer.log",
		"admin_users = $me",
		@{ $opt{extra} // [] }) . "\n";
	append_to_file("$dir/pgbouncer.ini", $ini);
	my $h = IPC::Run::start([ $PGBOUNCER, "$dir/pgbouncer.ini" ],
		'<', \undef, '>', "$dir/stdout.log", '2>&1');
	my $log = "$dir/pgbouncer.log";
	for (1 .. 100)
	{
		last if -f $log && slurp_file($log) =~ /listening on 127\.0\.0\.1:$port/;
		usleep(50_000);
	}
	note "pgbouncer on 127.0.0.1:$port, log $log";
	return { port => $port, log => $log, handle => $h, dir => $dir };
}

sub stop_pgbouncer
{
	my ($pgb) = @_;
	$pgb->{handle}->kill_kill if $pgb && $pgb->{handle};
}

# Run a client script (command in @$cmd, extra environment in %$env) and
# return its ledger (the LEDGER line it prints), or undef after a failed
# test that shows its output.
sub run_client
{
	my ($name, $cmd, $env) = @_;
	my ($out, $err) = ('', '');
	my $ok;
	{
		local %ENV = (%ENV, %{ $env // {} });
		$ok = IPC::Run::run($cmd, '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(120));
	}
	my ($json) = $out =~ /^LEDGER (.*)$/m;
	if (!ok($ok && defined $json, "$name ran to its end"))
	{
		diag("command: @$cmd\nstdout:\n$out\nstderr:\n$err");
		return undef;
	}
	note("$name stderr: $err") if $err ne '';
	return JSON::PP->new->decode($json);
}

# Rows of pg_stat_transactions of one application_name, in database
# postgres: { tag (bytes) => { counter => value, total_idle_time,
# max_idle_time, total_hold_time } }.
sub app_stats
{
	my ($node, $app) = @_;
	my @cols = (@COUNTERS, qw(total_idle_time max_idle_time total_hold_time));
	(my $quoted = $app) =~ s/'/''/g;
	my $out = $node->safe_psql(
		'postgres', qq{
		SELECT tag, } . join(', ', @cols) . qq{
		  FROM pg_stat_transactions
		 WHERE application_name = '$quoted'
		   AND dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')
		 ORDER BY tag COLLATE "C"});
	my %stats;
	for my $line (split /\n/, $out)
	{
		my ($tag, @vals) = split /\|/, $line, -1;
		die "tag '$tag' seen twice for $app" if exists $stats{$tag};
		my %row;
		@row{@cols} = @vals;
		$stats{$tag} = \%row;
	}
	return \%stats;
}

# Compare one key's counters and idle time with what the client counted.
sub check_key
{
	my ($what, $got, $want) = @_;
	is_deeply({ map { $_ => $got->{$_} // 0 } @COUNTERS },
		{ map { $_ => $want->{$_} } @COUNTERS }, "$what: @COUNTERS");
	check_idle($what, $got, $want);
}

# The idle time of a key against the client's sleeps inside its
# transactions.
sub check_idle
{
	my ($what, $got, $want) = @_;
	return if !$want->{slept};
	# The server's idle gaps hold the client's sleeps (and round trips).
	cmp_ok($got->{total_idle_time} // 0, '>=', 1000 * $want->{slept},
		"$what: total_idle_time covers the client's sleeps");
	cmp_ok($got->{max_idle_time} // 0, '>=', 1000 * $want->{max_slept},
		"$what: max_idle_time covers its longest sleep");
	cmp_ok($got->{total_idle_time} // 0, '<=', $got->{total_hold_time} // 0,
		"$what: idle is part of hold");
}

# Housekeeping (PgBouncer's SET application_name, a driver's DEALLOCATE
# ALL) is counted apart (pg_stat_transactions_info.housekeeping_xacts), not
# as the application's: the figures are exact.  The bounds first say, when
# they fail, how far off the housekeeping ($hk transactions at most, or
# any number if undef) put them.
sub check_housekeeping
{
	my ($what, $got, $want, $hk) = @_;
	for my $c (qw(rollbacks explicit_xacts))
	{
		is($got->{$c} // 0, $want->{$c}, "$what: $c");
	}
	for my $c (qw(xacts commits statements))
	{
		cmp_ok($got->{$c} // 0, '>=', $want->{$c}, "$what: $c at least the client's");
	}
	cmp_ok($got->{xacts} // 0, '<=', $want->{xacts} + $hk,
		"$what: xacts at most the client's and its driver's housekeeping")
	  if defined $hk;
	check_idle($what, $got, $want);
	is_deeply({ map { $_ => $got->{$_} // 0 } @COUNTERS },
		{ map { $_ => $want->{$_} } @COUNTERS },
		"$what: @COUNTERS, housekeeping not counted");
}

# Sum of the counters over a set of keys.
sub totals
{
	my ($keys) = @_;
	my %t = map { $_ => 0 } @COUNTERS;
	for my $k (values %$keys)
	{
		$t{$_} += $k->{$_} // 0 for @COUNTERS;
	}
	return \%t;
}

# The stats tag that stands for a ledger tag longer than a tag can be: a
# tag of at most 63 bytes, valid UTF-8, that no ledger tag names, begins
# with the long tag's first 24 bytes and counts as many transactions.
# Each long tag of a section counts a different number of transactions,
# so that the match is unique.
sub long_tag_match
{
	my ($long, $want, $stats, $ledger_tags) = @_;
	my @c = grep {
		my $t = $_;
		my $copy = $t;
		!exists $ledger_tags->{$t}
		  && length($t) <= 63
		  && utf8::decode($copy)
		  && substr($t, 0, 24) eq substr($long, 0, 24)
		  && ($stats->{$t}{xacts} // 0) == $want->{xacts}
	} keys %$stats;
	return @c == 1 ? $c[0] : undef;
}

# Compare a client's ledger with pg_stat_transactions.  $pooled: the
# client ran through PgBouncer, whose SET application_name lands on the
# untagged key of each application.
#
# Per section (one application_name):
# - totals over all tags: exact, PgBouncer's and the driver's
#   housekeeping excluded (and bounded first, to tell how far off);
# - each tag: its counters exact, its idle time at least what the client
#   slept inside its transactions; the untagged key as the totals;
# - no other key.
# A section whose tags wait for a fix (todo) compares its tags as TODO
# tests of that point.
sub check_ledger
{
	my ($node, $ledger, $pooled) = @_;
	for my $s (@{ $ledger->{sections} })
	{
		my $app = $s->{app};
		note("$app: the client noted: $_") for @{ $s->{notes} };
		my $stats = app_stats($node, $app);
		# tags as bytes, as the server returns them
		my %want;
		for my $t (keys %{ $s->{keys} })
		{
			my $b = $t;
			utf8::encode($b);
			$want{$b} = $s->{keys}{$t};
		}
		my $hk = $s->{housekeeping} // 0;    # driver's own, known to the client
		my $hk_unknown = $pooled;            # PgBouncer's SETs: how many is not known

		# totals
		my $tw = totals(\%want);
		my $tg = totals($stats);
		{
			local $TODO = $s->{totals_todo};
			if ($hk || $hk_unknown)
			{
				check_housekeeping("$app in all", $tg, $tw, $hk_unknown ? undef : $hk);
			}
			else
			{
				is_deeply($tg, $tw, "$app in all: @COUNTERS");
			}
		}

		# each tag
		local $TODO = $s->{todo};
		my %matched;
		for my $t (sort keys %want)
		{
			my $w = $want{$t};
			my $what = "$app tag '$t'";
			my $g;
			if (length($t) > 63)
			{
				my $m = long_tag_match($t, $w, $stats, \%want);
				ok(defined $m, "$what: one key stands for it, valid and at most 63 bytes");
				next unless defined $m;
				$matched{$m} = 1;
				$g = $stats->{$m};
			}
			else
			{
				$matched{$t} = 1;
				$g = $stats->{$t} // {};
			}
			if ($t eq '' && ($hk || $hk_unknown))
			{
				check_housekeeping($what, $g, $w, $hk_unknown ? undef : $hk);
			}
			else
			{
				check_key($what, $g, $w);
			}
		}
		my @other = grep { !$matched{$_} } sort keys %$stats;
		if (@other == 1 && $other[0] eq '' && ($hk || $hk_unknown))
		{
			is_deeply(\@other, [], "$app: no untagged key (housekeeping only)");
		}
		else
		{
			is_deeply(\@other, [], "$app: no key the client did not use");
		}
	}
}

1;

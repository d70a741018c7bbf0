# Persistence of the statistics in pg_stat/postgres_extension.stat.
# - The file exists only between a clean stop and the next start: it is
#   written at a clean shutdown and removed at startup.
# - A clean restart keeps every column of pg_stat_transactions, the
#   histograms, pg_stat_transactions_info and the history rows exactly;
#   restored keys then go on counting, in the history too.
# - An immediate stop writes nothing: the next start is empty.
# - A corrupted or truncated file is ignored with a WARNING, the server
#   starts empty.
# - postgres_extension.save = off writes nothing.
# - Entries evicted in the open bucket still count in its totals after a
#   clean restart.
# The reads run as application_name "reader" and every comparison leaves
# the reader's rows out, so that the reads do not change what is compared.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PgxtTest;

my $node = pgxt_node('persist',
	"postgres_extension.history_interval = '1s'",
	"postgres_extension.history_size = 100",
	"postgres_extension.history_keys = 100");
my $stat_file = $node->data_dir . '/pg_stat/postgres_extension.stat';
my $reader = $node->connstr('postgres') . ' application_name=reader';

sub query
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-d', $reader ]);
}

# Run a psql script under application_name $app, going on after errors.
sub run_as
{
	my ($app, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql,
		on_error_stop => 0,
		extra_params => [ '-d', $node->connstr('postgres') . " application_name=$app" ]);
	return $ret;
}

# Everything the extension shows, but the reader's rows: the statistics
# (all columns), the histograms, the info view and the history rows.
sub dump_all
{
	return query(q{
	SELECT * FROM pg_stat_transactions
	 WHERE application_name <> 'reader'
	 ORDER BY userid, dbid, application_name COLLATE "C", tag COLLATE "C";
	SELECT s.userid, s.dbid, s.application_name, s.tag, h.*
	  FROM pg_stat_transactions s,
	       pg_stat_transactions_histogram(s.userid, s.dbid, s.application_name, s.tag) h
	 WHERE s.application_name <> 'reader'
	 ORDER BY s.userid, s.dbid, s.application_name COLLATE "C", s.tag COLLATE "C", h.lower_bound;
	SELECT * FROM pg_stat_transactions_info;
	SELECT * FROM pg_stat_transactions_history
	 WHERE application_name <> 'reader'
	 ORDER BY bucket_start, userid, dbid, application_name COLLATE "C", tag COLLATE "C";});
}

# Rows of the views that are not the reader's.
sub foreign_rows
{
	return query(q{
	SELECT (SELECT count(*) FROM pg_stat_transactions WHERE application_name <> 'reader'),
	       (SELECT count(*) FROM pg_stat_transactions_history
	         WHERE application_name IS DISTINCT FROM 'reader')});
}

# A small workload under application_name $app: implicit, explicit,
# read-only, rolled back and failed transactions, tags by setting and by
# comment.
sub small_workload
{
	my ($app) = @_;
	run_as($app, q{
	SELECT 1;
	BEGIN; SELECT pg_sleep(0.03); COMMIT;
	BEGIN READ ONLY; SELECT 1; ROLLBACK;
	SELECT 1 / (g - g) FROM generate_series(1, 1) g;
	CREATE TABLE IF NOT EXISTS p_t (id int);
	INSERT INTO p_t VALUES (1);
	SELECT 2 /* tag='commented' */;
	SET postgres_extension.tag = 'guc';
	SELECT pg_sleep(0.01);
	});
}

# Wait until the second in progress is over and the watchdog has closed
# its bucket.
sub wait_bucket_closed
{
	my $now = time();
	usleep(int((int($now) + 1.3 - $now) * 1_000_000));
}

# Stop cleanly, check that the file was written, and return its size.
sub clean_stop
{
	my ($what) = @_;
	$node->stop;
	ok(-f $stat_file, "$what: the file is written at a clean stop");
	return -s $stat_file;
}

# Start, check that the file is gone, and return the log offset from
# before the start.
sub start_node
{
	my ($what) = @_;
	my $offset = -s $node->logfile;
	$node->start;
	ok(!-e $stat_file, "$what: the file is removed at startup");
	return $offset;
}

ok(!-e $stat_file, 'no file while running');

# 1. A workload over more than one bucket (a boundary passes between its
# two halves), then a clean restart.
small_workload('p_one');
wait_bucket_closed();
small_workload('p_two');
run_as('p_two', 'SELECT pg_sleep(0.2) /* tag=\'slow\' */');
wait_bucket_closed();

my $before = dump_all();
my ($n_stats, $n_hist, $n_buckets) = split /\|/, query(q{
	SELECT (SELECT count(*) FROM pg_stat_transactions
	         WHERE application_name IN ('p_one', 'p_two')),
	       (SELECT count(*) FROM pg_stat_transactions_history
	         WHERE application_name IN ('p_one', 'p_two')),
	       (SELECT count(DISTINCT bucket_start) FROM pg_stat_transactions_history
	         WHERE application_name IN ('p_one', 'p_two'))});
cmp_ok($n_stats, '>=', 6, "the workload made keys ($n_stats)");
cmp_ok($n_buckets, '>=', 2, "the workload spans buckets ($n_buckets)");
ok(!-e $stat_file, 'still no file while running');

my $size = clean_stop('clean restart');
cmp_ok($size, '>', 0, "the file is not empty ($size bytes)");
start_node('clean restart');
my $after = dump_all();
is($after, $before,
	'a clean restart keeps statistics, histograms, info and history exactly');

# restored keys go on counting, from their restored counters, and the
# history shows only the new transaction for them
run_as('p_one', 'SELECT 1');
is( query(q{
	SELECT s.xacts, s.commits,
	       (SELECT sum(xacts) FROM pg_stat_transactions_history h
	         WHERE h.application_name = 'p_one' AND h.tag = ''),
	       (SELECT xacts FROM pg_stat_transactions_history h
	         WHERE h.application_name = 'p_one' AND h.tag = ''
	         ORDER BY bucket_start DESC LIMIT 1)
	  FROM pg_stat_transactions s
	 WHERE s.application_name = 'p_one' AND s.tag = ''}),
	# p_one untagged: SELECT 1, the explicit block, the read-only block
	# (rolled back), the failed SELECT, CREATE TABLE, INSERT = 6 (4
	# commits), then the new SELECT 1
	'7|5|7|1',
	'a restored key goes on counting, in the history too');

# 2. An immediate stop writes nothing: the next start is empty.
small_workload('p_three');
$node->stop('immediate');
ok(!-e $stat_file, 'immediate stop: no file');
start_node('immediate stop');
is(foreign_rows(), '0|0', 'after an immediate stop the views are empty');

# 3. A corrupted file: bytes flipped in the middle.
small_workload('p_corrupt');
$size = clean_stop('corrupted file');
{
	open(my $fh, '+<:raw', $stat_file) or die "open $stat_file: $!";
	my $pos = int($size / 2);
	seek($fh, $pos, 0);
	my $buf;
	read($fh, $buf, 16) == 16 or die "read $stat_file: $!";
	$buf ^= "\xff" x 16;
	seek($fh, $pos, 0);
	print $fh $buf;
	close($fh) or die "close $stat_file: $!";
}
my $offset = start_node('corrupted file');
ok( $node->log_contains(
		qr/WARNING:  ignoring saved statistics in "pg_stat\/postgres_extension.stat": its checksum does not match/,
		$offset),
	'corrupted file: WARNING in the log');
is(foreign_rows(), '0|0', 'corrupted file: the views are empty');
run_as('p_after', 'SELECT 1');
is(query(q{SELECT xacts FROM pg_stat_transactions WHERE application_name = 'p_after'}),
	'1', 'corrupted file: the server tracks new transactions');

# 4. A truncated file: cut in half, then cut within the header.
for my $cut ([ 'half', 0.5 ], [ 'header', 0 ])
{
	my ($name, $fraction) = @$cut;
	small_workload("p_trunc_$name");
	$size = clean_stop("file cut ($name)");
	my $cut_size = $fraction ? int($size * $fraction) : 10;
	truncate($stat_file, $cut_size) or die "truncate $stat_file: $!";
	my $reason = $fraction
	  ? "its size ($cut_size bytes) is not the size its header announces ($size bytes)"
	  : 'it is truncated';
	$offset = start_node("file cut ($name)");
	ok( $node->log_contains(
			qr/WARNING:  ignoring saved statistics in "pg_stat\/postgres_extension.stat": \Q$reason\E/,
			$offset),
		"file cut ($name): WARNING in the log");
	is(foreign_rows(), '0|0', "file cut ($name): the views are empty");
}

# 5. postgres_extension.save = off: nothing is written.
$node->append_conf('postgresql.conf', "postgres_extension.save = off\n");
$node->reload;
$node->poll_query_until('postgres', 'SHOW postgres_extension.save', 'off')
  or die 'save = off not loaded';
small_workload('p_nosave');
is(query(q{SELECT count(*) > 0 FROM pg_stat_transactions WHERE application_name = 'p_nosave'}),
	't', 'save = off: the workload is tracked');
$node->stop;
ok(!-e $stat_file, 'save = off: no file after a clean stop');
start_node('save = off');
is(foreign_rows(), '0|0', 'save = off: the views are empty after a restart');

# 6. Entries evicted in the open bucket: postgres_extension.max = 100 and
# one-hour buckets, so that eviction and restart fall in one bucket (a
# boundary in between would hide a loss, never fail the test).  The sum
# of the history's xacts minus that of the entries left is what eviction
# removed from the store; a clean restart must not change it.
$node->append_conf('postgresql.conf', join("\n",
	"postgres_extension.save = on",
	"postgres_extension.max = 100",
	"postgres_extension.history_interval = '1h'") . "\n");
$node->restart;
query('SELECT pg_stat_transactions_reset()');
run_as('p_evict', join('', map { "SELECT $_ /* tag='e$_' */;\n" } 1 .. 150));
my $gap_sql = q{
	SELECT (SELECT sum(xacts) FROM pg_stat_transactions_history)
	     - (SELECT sum(xacts) FROM pg_stat_transactions),
	       (SELECT dealloc FROM pg_stat_transactions_info)};
my ($evicted_before, $dealloc_before) = split /\|/, query($gap_sql);
cmp_ok($dealloc_before, '>', 0, "entries were evicted ($dealloc_before)");
cmp_ok($evicted_before, '>', 0,
	"the history counts the evicted entries' transactions ($evicted_before)");
$node->restart;
my ($evicted_after, $dealloc_after) = split /\|/, query($gap_sql);
is($dealloc_after, $dealloc_before, 'a clean restart keeps dealloc');
is($evicted_after, $evicted_before,
	"a clean restart keeps the evicted entries' transactions in the open bucket");

# 7. postgres_extension.max lowered across a restart: the file holds more
# entries than the store takes.  The most used are loaded (the ten busy
# keys, whatever their place in the file), the others are counted in
# dealloc, a LOG line says so, and the history's totals keep the dropped
# entries' transactions (in the row of the keys not kept).
$node->append_conf('postgresql.conf', "postgres_extension.max = 1000\n");
$node->restart;
query('SELECT pg_stat_transactions_reset()');
my $n_small = 600;
my $n_busy = 10;
my $busy_xacts = 30;
run_as('p_many', join('',
	(map { "SELECT 1 /* tag='small$_' */;\n" } 1 .. $n_small),
	(map { my $b = $_; map { "SELECT 2 /* tag='busy$b' */;\n" } 1 .. $busy_xacts } 1 .. $n_busy)));
# a few reads, so that the reader's key is used more than a small key
query('SELECT 1') for 1 .. 3;
my $many_sql = q{
	SELECT (SELECT count(*) FROM pg_stat_transactions),
	       (SELECT dealloc FROM pg_stat_transactions_info),
	       (SELECT sum(xacts) FROM pg_stat_transactions_history)};
my ($n_saved, $dealloc_saved, $history_saved) = split /\|/, query($many_sql);
is($n_saved, $n_small + $n_busy + 1, "the file will hold $n_saved entries");
is($dealloc_saved, '0', 'nothing evicted before the restart');
$node->append_conf('postgresql.conf', "postgres_extension.max = 100\n");
clean_stop('max lowered');
$offset = start_node('max lowered');
my $n_dropped = $n_saved - 100;
ok( $node->log_contains(
		qr/LOG:  postgres_extension loaded 100 of the $n_saved entries saved in "pg_stat\/postgres_extension.stat" and dropped the $n_dropped least used/,
		$offset),
	'max lowered: a LOG line says how many entries were dropped');
my ($n_loaded, $dealloc_loaded, $history_loaded) = split /\|/, query($many_sql);
is($n_loaded, '100', 'max lowered: the store is full');
is($dealloc_loaded, $n_dropped, "max lowered: dealloc counts the $n_dropped dropped entries");
is( query(q{SELECT count(*), sum(xacts) FROM pg_stat_transactions
	WHERE application_name = 'p_many' AND tag LIKE 'busy%'}),
	"$n_busy|" . ($n_busy * $busy_xacts),
	'max lowered: every busy key is kept, whole');
# the read before the stop is the only transaction since
is($history_loaded, $history_saved + 1,
	"max lowered: the history still counts the dropped entries' transactions");

# 8. Huge files are not read whole: the header is checked against the
# file's size first, and a file as long as its header says is streamed.
# The postmaster's peak memory (VmHWM) stays far below the file's size.
# The files are sparse: they take no disk space.
my $huge = 1024 * 1024 * 1024;
sub postmaster_peak_kb
{
	my ($pid) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
	my ($kb) = slurp_file("/proc/$pid/status") =~ /^VmHWM:\s+(\d+) kB/m;
	return $kb;
}
# (a) a valid file extended to 1 GB: its size is not what its header says
small_workload('p_huge');
$size = clean_stop('huge file');
truncate($stat_file, $huge) or die "truncate $stat_file: $!";
my $t0 = time();
$offset = start_node('huge file');
my $start_s = time() - $t0;
ok( $node->log_contains(
		qr/WARNING:  ignoring saved statistics in "pg_stat\/postgres_extension.stat": \Qits size ($huge bytes) is not the size its header announces ($size bytes)\E/,
		$offset),
	'huge file: WARNING that its size is not what its header says');
my $peak_kb = postmaster_peak_kb();
cmp_ok($peak_kb, '<', 256 * 1024,
	"huge file: the postmaster's peak memory ($peak_kb kB) is not the file's");
note(sprintf('huge file: start took %.2f s', $start_s));
is(foreign_rows(), '0|0', 'huge file: the views are empty');

# (b) a 1 GB file whose header announces exactly its size, entries of
# zeros: streamed to the end, where its checksum does not match
small_workload('p_huge2');
clean_stop('huge consistent file');
{
	# The header (src/persist.c StatFileHeader): key and counters sizes at
	# 8, nentries at 20, nfingerprints at 112, history_size at 128, 136
	# bytes in all.
	my $hsize = 136;
	open(my $fh, '+<:raw', $stat_file) or die "open $stat_file: $!";
	my $header;
	read($fh, $header, $hsize) == $hsize or die "read $stat_file: $!";
	my ($key_size, $counters_size) = unpack('x8 L L', $header);
	my $entry_size = $key_size + $counters_size;
	my $nentries = int(($huge - $hsize - 4) / $entry_size);
	substr($header, 20, 4) = pack('l', $nentries);
	substr($header, 112, 4) = pack('l', 0);	# no fingerprint
	substr($header, 128, 8) = pack('Q', 0);	# no history
	seek($fh, 0, 0);
	print $fh $header;
	close($fh) or die "close $stat_file: $!";
	truncate($stat_file, $hsize) or die "truncate $stat_file: $!";
	truncate($stat_file, $hsize + $nentries * $entry_size + 4)
	  or die "truncate $stat_file: $!";
}
$offset = start_node('huge consistent file');
ok( $node->log_contains(
		qr/WARNING:  ignoring saved statistics in "pg_stat\/postgres_extension.stat": its checksum does not match/,
		$offset),
	'huge consistent file: read to its end, WARNING that its checksum does not match');
$peak_kb = postmaster_peak_kb();
cmp_ok($peak_kb, '<', 256 * 1024,
	"huge consistent file: the postmaster's peak memory ($peak_kb kB) is not the file's");
is(foreign_rows(), '0|0', 'huge consistent file: the views are empty');

# expected: the warnings above, the workload's errors, and a session
# still exiting when a stop comes; 13 also logs the immediate stop's
# "crash" warning of each process (14 and later tell the client only)
my @errors = pgxt_log_errors($node,
	qr/WARNING:  ignoring saved statistics in "pg_stat\/postgres_extension.stat"/,
	qr/ERROR:  division by zero/,
	qr/FATAL:  terminating connection due to administrator command/,
	pgxt_server_version($node) < 140000
	? qr/WARNING:  terminating connection because of crash of another server process/
	: ());
is_deeply(\@errors, [], 'no other warning or error in the server log');

$node->stop;
done_testing();

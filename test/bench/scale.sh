#!/usr/bin/env bash
# scale.sh - postgres_extension with many keys: 10,000 distinct tags.
#
# 1. Instructions per transaction (callgrind.sh, postgres --single): an
#    autocommit SELECT by primary key tagged by a comment, N transactions
#    (default 20,000), with one tag for all (c1) or tag i mod 10000 (c10k:
#    the first 10,000 transactions each create a key, the next ones find
#    it, and consecutive transactions never share a key).  Configurations
#    base and ours with postgres_extension.max=10000; then ours with
#    max=1000, where c10k evicts all the time.  Reports c10k / c1 (target:
#    at most 1.5).
# 2. Reading pg_stat_transactions with 10,000 rows (a real server,
#    postgres_extension.max=11000): 10,000 tagged autocommit statements
#    through psql, then the median of 7 reads, client side (psql \timing of
#    SELECT * ... fetched to /dev/null) and server side (EXPLAIN ANALYZE
#    execution time).  Target: under 50 ms.
# 3. postgres_extension.max=1000, smaller than the keys: the same 10,000
#    tags; reports rows, dealloc, and checks that at most max rows remain,
#    dealloc accounts for the rest, and a key created after the evictions
#    counts exactly.
#
# Usage: test/bench/scale.sh [-n N] [-d DIR] [-k] [-p PORT] [-s 1,2,3]
#   -n N     transactions per callgrind run (default 20000)
#   -d DIR   scratch directory (default: a new /tmp/pgxt-scale.XXXXXX;
#            new, empty, or left by an earlier run); removed unless -k
#   -p PORT  port of the server of parts 2 and 3 (default 54329; it listens
#            only on a Unix socket in DIR)
#   -s LIST  parts to run (default 1,2,3)
# Environment: PG_BINDIR (default: `pg_config --bindir`).  Run as root (the
# server runs as user postgres) or as the user owning DIR.  Needs valgrind
# for part 1 and the extension installed.  Exit status 1 if a check fails.
# Takes about 3 minutes on 2 CPUs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$here/common.sh"
nxacts=20000
work=
keep=0
port=54329
parts=1,2,3
while getopts "n:d:kp:s:h" opt; do
	case $opt in
		n) nxacts=$OPTARG ;;
		d) work=$OPTARG ;;
		k) keep=1 ;;
		p) port=$OPTARG ;;
		s) parts=$OPTARG ;;
		*) bench_usage; exit 2 ;;
	esac
done
bench_bindir
export PG_BINDIR=$bindir
bench_workdir scale

status=0
has_part() { case ",$parts," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# --- 1. callgrind
if has_part 1; then
	echo "== 1. instructions per transaction, $nxacts autocommit SELECTs, tag in a comment"
	"$here/callgrind.sh" -n "$nxacts" -w c1,c10k -c base,ours -d "$work/cg10k" \
		-g 'postgres_extension.max=10000' | tee "$work/cg10k.txt" || status=1
	"$here/callgrind.sh" -n "$nxacts" -w c1,c10k -c ours -d "$work/cg1k" \
		-g 'postgres_extension.max=1000' | tee "$work/cg1k.txt" || status=1
	perx() { awk -v w="$2" -v c="$3" '$1 == w && $2 == c { print $3 }' "$1"; }
	c1=$(perx "$work/cg10k.txt" c1 ours)
	c10k=$(perx "$work/cg10k.txt" c10k ours)
	c10k_small=$(perx "$work/cg1k.txt" c10k ours)
	b1=$(perx "$work/cg10k.txt" c1 base)
	b10k=$(perx "$work/cg10k.txt" c10k base)
	awk -v c1="$c1" -v c10k="$c10k" -v s="$c10k_small" -v b1="$b1" -v b10k="$b10k" 'BEGIN {
		printf "10,000 tags / 1 tag, max=10000: %.4f (extension alone: +%.1f vs +%.1f instr/xact)\n",
			c10k / c1, c10k - b10k, c1 - b1
		printf "10,000 tags / 1 tag, max=1000 (evicting): %.4f (extension alone: +%.1f instr/xact)\n",
			s / c1, s - b10k
		exit !(c10k / c1 <= 1.5 && s / c1 <= 1.5)
	}' || { echo "CHECK FAILED: more than 1.5 times the instructions of one tag"; status=1; }
fi

# --- 2 and 3: a real server
psql_() {
	"${as_pg[@]}" env PGAPPNAME="${app:-reader}" PGOPTIONS="-c client_min_messages=warning" "$bindir/psql" -X -q -A -t \
		-v ON_ERROR_STOP=1 -h "$work" -p "$port" -d postgres "$@"
}
# Reset the statistics and run the 10,000 tagged transactions as
# application 'scale'; load_seconds is how long they took.
load_tags() {
	local t0 t1

	psql_ -c "CREATE EXTENSION IF NOT EXISTS postgres_extension" -c "SELECT pg_stat_transactions_reset()" > /dev/null
	t0=$(date +%s.%N)
	app=scale psql_ -f "$work/tags.sql" > /dev/null
	t1=$(date +%s.%N)
	load_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

start_server() {	# MAX
	"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -w -l "$work/server.log" \
		-o "-c shared_preload_libraries=postgres_extension -c postgres_extension.max=$1 -c port=$port -c listen_addresses='' -c unix_socket_directories='$work'" \
		start > /dev/null
	server_up=1
}

if has_part 2 || has_part 3; then
	"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -A trust --no-sync > "$work/initdb.log" 2>&1
	awk 'BEGIN { for (i = 0; i < 10000; i++) printf "SELECT %d /*tag='\''t%d'\''*/;\n", i, i }' \
		> "$work/tags.sql"
	chmod a+r "$work/tags.sql"
fi

if has_part 2; then
	echo "== 2. reading pg_stat_transactions with 10,000 rows (postgres_extension.max=11000)"
	start_server 11000
	load_tags
	rows=$(psql_ -c "SELECT count(*) FROM pg_stat_transactions WHERE application_name = 'scale'")
	echo "10,000 tagged transactions through psql: $load_seconds s; rows of application 'scale': $rows"
	[ "$rows" = 10000 ] || { echo "CHECK FAILED: want 10000 rows"; status=1; }
	for _ in 1 2 3 4 5 6 7; do
		printf '%s\n' '\timing on' 'SELECT * FROM pg_stat_transactions \g /dev/null' |
			psql_ | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
	done > "$work/read_client.txt"
	for _ in 1 2 3 4 5 6 7; do
		psql_ -c 'EXPLAIN (ANALYZE, TIMING OFF) SELECT * FROM pg_stat_transactions' |
			sed -n 's/.*Execution Time: \([0-9.]*\) ms.*/\1/p'
	done > "$work/read_server.txt"
	total=$(psql_ -c "SELECT count(*) FROM pg_stat_transactions")
	client=$(median < "$work/read_client.txt")
	server=$(median < "$work/read_server.txt")
	printf 'read %s rows: median of 7: client (psql \\timing, all rows fetched) %s ms, server (EXPLAIN ANALYZE) %s ms\n' "$total" "$client" "$server"
	echo "  all client reads (ms): $(tr '\n' ' ' < "$work/read_client.txt")"
	awk -v c="$client" 'BEGIN { exit !(c < 50) }' ||
		{ echo "CHECK FAILED: reading took 50 ms or more"; status=1; }
	stop_server
fi

if has_part 3; then
	echo "== 3. postgres_extension.max=1000, 10,000 tags"
	start_server 1000
	load_tags
	# a key created after all the evictions counts exactly
	awk 'BEGIN { for (i = 0; i < 100; i++) print "SELECT 1 /*tag='\''after'\''*/;" }' > "$work/after.sql"
	chmod a+r "$work/after.sql"
	app=scale psql_ -f "$work/after.sql" > /dev/null
	read -r rows scale_rows after dealloc <<< "$(psql_ -F ' ' -c "
		SELECT (SELECT count(*) FROM pg_stat_transactions),
		       (SELECT count(*) FROM pg_stat_transactions WHERE application_name = 'scale'),
		       (SELECT coalesce(sum(xacts), 0) FROM pg_stat_transactions WHERE tag = 'after'),
		       (SELECT dealloc FROM pg_stat_transactions_info)")"
	echo "10,000 tagged transactions through psql: $load_seconds s"
	echo "rows $rows (application 'scale': $scale_rows), dealloc $dealloc, xacts of the key made last: $after"
	# keys made: the reset's own, 10,000 tags, 'after'; readers' keys may add
	if [ "$rows" -le 1000 ] && [ "$after" = 100 ] &&
		[ $((scale_rows + dealloc)) -ge 10001 ]; then
		echo "ok: at most max rows, rows + dealloc >= 10,001 keys made, the new key counts 100 of 100"
	else
		echo "CHECK FAILED: rows <= 1000, 'after' = 100 and rows + dealloc >= 10001 expected"
		status=1
	fi
	stop_server
fi
[ $keep = 1 ] && echo "# kept: $work"
exit $status

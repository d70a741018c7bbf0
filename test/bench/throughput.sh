#!/usr/bin/env bash
# throughput.sh - pgbench throughput with and without postgres_extension, for
# the record (wall-clock numbers are noisy: never assert them).
#
# Configurations (shared_preload_libraries; the server restarts for each):
#   base   none
#   pgss   pg_stat_statements
#   ours   postgres_extension
#   both   pg_stat_statements,postgres_extension
# Tests, each -T seconds, -M prepared, -j 2:
#   S2     pgbench -S (SELECT by primary key), 2 clients
#   S64    pgbench -S, 64 clients
#   tag8   custom script, 8 clients: BEGIN; SET LOCAL postgres_extension.tag
#          = '<route>'; SELECT account; UPDATE account; SELECT teller;
#          INSERT history; COMMIT -- four scripts, one per route tag, with
#          weights 4:3:2:1
# The configurations are interleaved: each round runs every configuration
# once, starting from a different one each round, after a restart and a
# short -S warm-up.  The table gives, per test and configuration, the median
# tps (pgbench's "without initial connection time") over the rounds, its
# ratio to base, and the spread (min-max).
#
# Usage: test/bench/throughput.sh [-r ROUNDS] [-T SECONDS] [-s SCALE]
#                                 [-c base,pgss,ours,both] [-t S2,S64,tag8]
#                                 [-d DIR] [-k] [-p PORT]
#   -r ROUNDS   rounds (default 5)
#   -T SECONDS  duration of each test run (default 10)
#   -s SCALE    pgbench scale (default 5: 500,000 accounts, in shared_buffers)
#   -c, -t      configurations and tests to run
#   -d DIR      scratch directory (default: a new /tmp/pgxt-throughput.XXXXXX;
#               new, empty, or left by an earlier run); removed unless -k
#   -p PORT     server port (default 54328; Unix socket in DIR only)
# Server settings: shared_buffers=256MB, synchronous_commit=off (a commit
# waits for no disk flush: the extension's share is what is left),
# max_connections=100.  Environment: PG_BINDIR (default: `pg_config
# --bindir`).  Run as root (the server runs as user postgres) or as the user
# owning DIR.  Takes rounds x configs x (tests x T + about 8) seconds: about
# 13 minutes by default.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"

rounds=5
secs=10
scale=5
configs=base,pgss,ours,both
tests=S2,S64,tag8
work=
keep=0
port=54328
while getopts "r:T:s:c:t:d:kp:h" opt; do
	case $opt in
		r) rounds=$OPTARG ;;
		T) secs=$OPTARG ;;
		s) scale=$OPTARG ;;
		c) configs=$OPTARG ;;
		t) tests=$OPTARG ;;
		d) work=$OPTARG ;;
		k) keep=1 ;;
		p) port=$OPTARG ;;
		*) bench_usage; exit 2 ;;
	esac
done
bench_bindir
bench_workdir throughput

libs_of() {
	case $1 in
		base) echo "" ;;
		pgss) echo "pg_stat_statements" ;;
		ours) echo "postgres_extension" ;;
		both) echo "pg_stat_statements,postgres_extension" ;;
		*) echo "throughput.sh: unknown configuration $1" >&2; exit 2 ;;
	esac
}
IFS=, read -r -a cl <<< "$configs"
IFS=, read -r -a tl <<< "$tests"
for c in "${cl[@]}"; do libs_of "$c" > /dev/null; done

start_server() {	# LIBS
	"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -w -l "$work/server.log" \
		-o "-c shared_preload_libraries='$1' -c port=$port -c listen_addresses='' -c unix_socket_directories='$work' -c shared_buffers=256MB -c synchronous_commit=off -c max_connections=100" \
		start > /dev/null
	server_up=1
}
pgbench_() {
	"${as_pg[@]}" "$bindir/pgbench" -h "$work" -p "$port" "$@" postgres
}

# --- the cluster and the custom scripts
"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -A trust --no-sync > "$work/initdb.log" 2>&1
start_server ""
pgbench_ -i -q -s "$scale" > "$work/init.log" 2>&1
"${as_pg[@]}" "$bindir/psql" -X -q -h "$work" -p "$port" -d postgres \
	-c "CREATE EXTENSION pg_stat_statements" -c "CREATE EXTENSION postgres_extension" \
	-c "VACUUM ANALYZE"
stop_server
weight=4
tag_files=()
for route in checkout browse search login; do
	cat > "$work/tag_$route.sql" <<EOF
\\set aid random(1, 100000 * :scale)
\\set tid random(1, 10 * :scale)
\\set bid random(1, :scale)
\\set delta random(-5000, 5000)
BEGIN;
SET LOCAL postgres_extension.tag = '$route';
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT tbalance FROM pgbench_tellers WHERE tid = :tid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
COMMIT;
EOF
	tag_files+=(-f "$work/tag_$route.sql@$weight")
	weight=$((weight - 1))
done
chmod a+r "$work"/tag_*.sql

run_test() {	# TEST -> tps
	local out
	case $1 in
		S2) out=$(pgbench_ -n -S -M prepared -c 2 -j 2 -T "$secs" 2>&1) ;;
		S64) out=$(pgbench_ -n -S -M prepared -c 64 -j 2 -T "$secs" 2>&1) ;;
		tag8) out=$(pgbench_ -n -M prepared -c 8 -j 2 -T "$secs" "${tag_files[@]}" 2>&1) ;;
		*) echo "throughput.sh: unknown test $1" >&2; exit 2 ;;
	esac
	echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p'
}

echo "# throughput: $rounds rounds x ${#cl[@]} configurations, ${secs}s per test, scale $scale, $(nproc) CPUs"
ncfg=${#cl[@]}
for ((r = 0; r < rounds; r++)); do
	for ((k = 0; k < ncfg; k++)); do
		c=${cl[$(((r + k) % ncfg))]}
		start_server "$(libs_of "$c")"
		pgbench_ -n -S -M prepared -c 2 -j 2 -T 2 > /dev/null 2>&1
		line="round $((r + 1)) $c:"
		for t in "${tl[@]}"; do
			tps=$(run_test "$t")
			[ -n "$tps" ] || { echo "throughput.sh: pgbench $t failed under $c" >&2; exit 1; }
			echo "$t $c $tps" >> "$work/results.txt"
			line="$line $t=$tps"
		done
		# the extension really counted (not asserted: for the record)
		if [ "$c" = ours ] || [ "$c" = both ]; then
			n=$("${as_pg[@]}" "$bindir/psql" -X -A -t -h "$work" -p "$port" -d postgres \
				-c "SELECT sum(xacts) FROM pg_stat_transactions")
			line="$line (pg_stat_transactions: $n xacts, cumulative)"
		fi
		echo "$line"
		stop_server
	done
done

echo
printf '%-5s %-5s %11s %7s   %s\n' test config median_tps ratio "min-max"
for t in "${tl[@]}"; do
	base_med=
	for c in "${cl[@]}"; do
		vals=$(awk -v t="$t" -v c="$c" '$1 == t && $2 == c { print $3 }' "$work/results.txt" | sort -n)
		med=$(echo "$vals" | median)
		[ "$c" = base ] && base_med=$med
		ratio=-
		[ -n "$base_med" ] && ratio=$(awk -v m="$med" -v b="$base_med" 'BEGIN { printf "%.3f", m / b }')
		printf '%-5s %-5s %11.1f %7s   %.1f-%.1f\n' "$t" "$c" "$med" "$ratio" \
			"$(echo "$vals" | head -1)" "$(echo "$vals" | tail -1)"
	done
done
[ $keep = 1 ] && echo "# kept: $work"
exit 0

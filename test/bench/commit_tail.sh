#!/usr/bin/env bash
# commit_tail.sh - does reading pg_stat_transactions stall commits?  The tail
# of pgbench's commit latency while a reader loops over the view, against
# the same with a control reader of equal cost that never touches the
# extension.
#
# One server with postgres_extension preloaded and 5,000 keys in
# pg_stat_transactions (5,000 tagged statements at setup; max=10000, so
# that nothing is evicted).  Both readers are one pgbench client each,
# fetching every row of its query back to back:
#   view     SELECT * FROM pg_stat_transactions (5,000 rows)
#   control  SELECT * FROM a plain table holding a copy of those rows (the
#            same rows and columns sent to the same kind of client), after
#            a PL/pgSQL loop of N iterations that burns server CPU (once
#            per query, in an InitPlan); N is calibrated at startup so
#            that both queries cost the server's backend the same CPU time
#            (utime + stime over 150 runs); the client's share is the same
#            rows: they cost the same CPU
# Both readers' transactions are tracked by the extension alike; only the
# view reader takes the statistics lock to read.
# In each round, each configuration (in alternating order) starts its
# reader, lets it run 1 s, then runs pgbench -N -c CLIENTS -j 2 -T SECONDS
# -l (simple-update, per-transaction latency logs); the reader runs on for
# 1 s after it.  Reported per configuration and round, from the logs: the
# number of transactions, p50, p99, p99.9 and max latency (ms), the
# reader's queries per second and its backend's CPU use (% of one CPU)
# during the measurement; then per round and over all rounds pooled, the
# ratios view / control.  Target: p99.9 and max within 20% of the
# control (ratio at most 1.2).
#
# Usage: test/bench/commit_tail.sh [-r ROUNDS] [-T SECONDS] [-c CLIENTS]
#                                  [-s SCALE] [-k] [-d DIR] [-p PORT]
#                                  [-o 'SERVER OPTIONS']
#   -r ROUNDS   rounds (default 3)
#   -T SECONDS  length of each measured pgbench run (default 20)
#   -c CLIENTS  pgbench clients (default 6)
#   -s SCALE    pgbench scale (default 10)
#   -d DIR      scratch directory (default: a new /tmp/pgxt-commit_tail.XXXXXX;
#               new, empty, or left by an earlier run); removed unless -k
#   -p PORT     server port (default 54330; Unix socket in DIR only)
#   -o OPTS     more server options, e.g. '-c synchronous_commit=on'
# Server settings: shared_buffers=256MB, synchronous_commit=off (a commit
# waits for no disk flush, so that the disk's noise, shared with whatever
# else runs, does not hide the extension's share), max_connections=50.
# Environment: PG_CONFIG (default pg_config on PATH) or PG_BINDIR; the
# extension must be installed in that PostgreSQL.  Run as root (the server
# runs as user postgres) or as the user owning DIR.  Takes about
# rounds x 2 x (SECONDS + 4) s plus a minute of setup and calibration.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"

rounds=3
secs=20
clients=6
scale=10
work=
keep=0
port=54330
server_opts=
while getopts "r:T:c:s:d:kp:o:h" opt; do
	case $opt in
		r) rounds=$OPTARG ;;
		T) secs=$OPTARG ;;
		c) clients=$OPTARG ;;
		s) scale=$OPTARG ;;
		d) work=$OPTARG ;;
		k) keep=1 ;;
		p) port=$OPTARG ;;
		o) server_opts=$OPTARG ;;
		*) bench_usage; exit 2 ;;
	esac
done
bench_bindir
pkglibdir=$("${PG_CONFIG:-$bindir/pg_config}" --pkglibdir)
if [ ! -f "$pkglibdir/postgres_extension.so" ]; then
	echo "commit_tail.sh: postgres_extension is not installed in $pkglibdir" >&2
	exit 2
fi
bench_workdir commit_tail

start_server() {
	"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -w -l "$work/server.log" \
		-o "-c shared_preload_libraries=postgres_extension -c postgres_extension.max=10000 -c port=$port -c listen_addresses='' -c unix_socket_directories='$work' -c shared_buffers=256MB -c synchronous_commit=off -c max_connections=50 $server_opts" \
		start > /dev/null
	server_up=1
}
psql_() {
	"${as_pg[@]}" "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$work" -p "$port" -d postgres "$@"
}
pgbench_() {
	"${as_pg[@]}" "$bindir/pgbench" -h "$work" -p "$port" "$@" postgres
}
# reader_run CONFIG SECONDS: run CONFIG's reader alone or in the background
# of a measurement; prints its queries per second.
reader_run() {
	PGAPPNAME="reader_$1" pgbench_ -n -c 1 -j 1 -T "$2" -f "$work/reader_$1.sql" 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1
}
# control_script N: the control reader's script, burning N
control_script() {
	cat > "$work/reader_control.sql" <<EOF
SELECT * FROM view_copy WHERE (SELECT burn($1)) >= 0;
EOF
	chmod a+r "$work/reader_control.sql"
}

# --- the cluster, 5,000 keys, the readers' scripts
"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -A trust --no-sync > "$work/initdb.log" 2>&1
start_server
pgbench_ -i -q -s "$scale" > "$work/init.log" 2>&1
psql_ -c "CREATE EXTENSION postgres_extension"
for i in $(seq 1 5000); do
	echo "SELECT 1 /* tag='key$i' */;"
done > "$work/keys.sql"
chmod a+r "$work/keys.sql"
PGAPPNAME=keys psql_ -f "$work/keys.sql" > /dev/null
psql_ -c "CREATE TABLE view_copy AS SELECT * FROM pg_stat_transactions" -c "VACUUM ANALYZE" \
	-c "CREATE FUNCTION burn(n int) RETURNS int LANGUAGE plpgsql AS
	    \$\$ DECLARE i int := 0; BEGIN WHILE i < n LOOP i := i + 1; END LOOP; RETURN i; END \$\$"
nkeys=$(psql_ -c "SELECT count(*) FROM pg_stat_transactions")
echo "SELECT * FROM pg_stat_transactions;" > "$work/reader_view.sql"
chmod a+r "$work/reader_view.sql"

# --- calibration: the control burns what the view costs the server more.
# Costs are CPU time of the backend (utime + stime of /proc/self/stat, read
# by the backend itself), which other processes' load does not inflate as
# it does wall-clock time.
tck=$(getconf CLK_TCK)
# cpu_ms QUERY N: the backend's CPU time (ms) per run of QUERY, over N
# runs in one session, every row sent to the client (psql, into /dev/null)
cpu_ms() {
	local cpu="(SELECT split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint FROM pg_read_file('/proc/self/stat') s)"
	{
		echo "\\o /dev/null"
		echo "SELECT $cpu AS cpu0 \\gset"
		for ((i = 0; i < $2; i++)); do echo "$1;"; done
		echo "\\o"
		echo "SELECT round(($cpu - :cpu0) * 1000.0 / $tck / $2, 3);"
	} > "$work/cpu.sql"
	chmod a+r "$work/cpu.sql"
	psql_ -f "$work/cpu.sql"
}
probe=1000000
ms_view=$(cpu_ms "SELECT * FROM pg_stat_transactions" 150)
ms_copy=$(cpu_ms "SELECT * FROM view_copy" 150)
ms_probe=$(cpu_ms "SELECT burn($probe)" 10)
burn=$(awk -v v="$ms_view" -v c="$ms_copy" -v b="$ms_probe" -v p="$probe" 'BEGIN {
	n = (b > 0) ? p * (v - c) / b : 0
	printf "%d", (n > 0) ? n : 0 }')
# two corrections, from the control's own cost
for _ in 1 2; do
	ms_control=$(cpu_ms "SELECT * FROM view_copy WHERE (SELECT burn($burn)) >= 0" 150)
	burn=$(awk -v v="$ms_view" -v c="$ms_copy" -v m="$ms_control" -v n="$burn" 'BEGIN {
		printf "%d", (m > c && v > c) ? n * (v - c) / (m - c) : n }')
done
control_script "$burn"
ms_control=$(cpu_ms "SELECT * FROM view_copy WHERE (SELECT burn($burn)) >= 0" 150)
qps_view=$(reader_run view 5)
qps_control=$(reader_run control 5)
echo "# commit_tail: $rounds rounds x 2 configurations, pgbench -N -c $clients -j 2 -T $secs -l, scale $scale, $(nproc) CPUs, $("$bindir/postgres" --version)"
echo "# $nkeys rows in pg_stat_transactions; server CPU per query: view $ms_view ms, copy $ms_copy ms, control (burn $burn) $ms_control ms"
echo "# readers alone: view $qps_view queries/s, control $qps_control queries/s"
echo "# server options: synchronous_commit=off shared_buffers=256MB $server_opts"

# --- the rounds
# percentiles LOGDIR: "xacts p50 p99 p99.9 max" (ms) of the latencies in
# the logs (3rd field, us)
percentiles() {
	cat "$1"/tx.* | awk '{ print $3 }' | sort -n | awk '
		{ v[NR] = $1 }
		function at(q,   i) { i = int(q * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; return v[i] / 1000 }
		END { printf "%d %.3f %.3f %.3f %.3f\n", NR, at(0.5), at(0.99), at(0.999), v[NR] / 1000 }'
}
configs=(view control)
: > "$work/results.txt"
# backend_ticks PID: CPU time (clock ticks) of a process so far
backend_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
printf '%-5s %-8s %8s %8s %8s %9s %9s %10s %10s\n' round config xacts p50_ms p99_ms p99.9_ms max_ms reader_qps reader_cpu%
for ((r = 1; r <= rounds; r++)); do
	for ((k = 0; k < 2; k++)); do
		c=${configs[$(((r + k + 1) % 2))]}
		logdir="$work/log_${r}_$c"
		mkdir -p "$logdir"
		if [ ${#as_pg[@]} -gt 0 ]; then chown postgres "$logdir"; fi
		reader_run "$c" $((secs + 2)) > "$work/reader_qps" &
		reader_pid=$!
		sleep 1
		backend=$(psql_ -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'reader_$c'")
		cpu0=$(backend_ticks "$backend")
		t0=$(date +%s%N)
		PGAPPNAME=bench pgbench_ -n -N -c "$clients" -j 2 -T "$secs" -l \
			--log-prefix="$logdir/tx" > "$logdir/pgbench.out" 2>&1 ||
			{ echo "commit_tail.sh: pgbench failed under $c" >&2; cat "$logdir/pgbench.out" >&2; exit 1; }
		cpu=$(awk -v c0="$cpu0" -v c1="$(backend_ticks "$backend")" -v t0="$t0" -v t1="$(date +%s%N)" -v tck="$tck" \
			'BEGIN { printf "%.1f", 100 * (c1 - c0) / tck / ((t1 - t0) / 1e9) }')
		wait "$reader_pid"
		read -r n p50 p99 p999 max <<< "$(percentiles "$logdir")"
		qps=$(cat "$work/reader_qps")
		echo "$r $c $n $p50 $p99 $p999 $max $qps $cpu" >> "$work/results.txt"
		printf '%-5s %-8s %8s %8s %8s %9s %9s %10s %10s\n' "$r" "$c" "$n" "$p50" "$p99" "$p999" "$max" "$qps" "$cpu"
	done
done

# --- ratios view / control, per round and pooled over the rounds
echo
printf '%-7s %8s %8s %9s %9s\n' round p50 p99 p99.9 max
for ((r = 1; r <= rounds; r++)); do
	awk -v r="$r" '$1 == r { for (i = 4; i <= 7; i++) x[$2, i] = $i }
		END { printf "%-7s %8.3f %8.3f %9.3f %9.3f\n", r,
			x["view", 4] / x["control", 4], x["view", 5] / x["control", 5],
			x["view", 6] / x["control", 6], x["view", 7] / x["control", 7] }' "$work/results.txt"
done
mkdir -p "$work/pooled_view" "$work/pooled_control"
for c in view control; do
	cat "$work"/log_*_"$c"/tx.* > "$work/pooled_$c/tx.all"
done
read -r nv v50 v99 v999 vmax <<< "$(percentiles "$work/pooled_view")"
read -r nc c50 c99 c999 cmax <<< "$(percentiles "$work/pooled_control")"
awk -v v50="$v50" -v v99="$v99" -v v999="$v999" -v vmax="$vmax" \
	-v c50="$c50" -v c99="$c99" -v c999="$c999" -v cmax="$cmax" -v nv="$nv" -v nc="$nc" 'BEGIN {
	printf "%-7s %8.3f %8.3f %9.3f %9.3f\n", "pooled", v50 / c50, v99 / c99, v999 / c999, vmax / cmax
	printf "\npooled: view %d xacts, p50 %.3f, p99 %.3f, p99.9 %.3f, max %.3f ms; control %d xacts, p50 %.3f, p99 %.3f, p99.9 %.3f, max %.3f ms\n",
		nv, v50, v99, v999, vmax, nc, c50, c99, c999, cmax
	printf "target (p99.9 and max within 20%% of the control): %s\n",
		(v999 <= 1.2 * c999 && vmax <= 1.2 * cmax) ? "met" : "not met"
}'
[ "$keep" = 1 ] && echo "# kept: $work"
exit 0

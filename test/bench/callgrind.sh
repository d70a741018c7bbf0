#!/usr/bin/env bash
# callgrind.sh - deterministic per-transaction cost of postgres_extension, in
# instructions, measured with valgrind's callgrind in "postgres --single".
#
# For each configuration (which libraries are in shared_preload_libraries)
#   base   none
#   pgss   pg_stat_statements
#   ours   postgres_extension
#   both   pg_stat_statements,postgres_extension
# and each workload (N transactions, ids spread over a 100,000-row table)
#   a      BEGIN; SELECT by primary key; UPDATE by primary key; COMMIT;
#   b      one autocommit SELECT by primary key
# it counts the instructions of a single-user run of the workload and of the
# same run on an empty script (same flags, same cluster), and prints
#   (workload run - empty run) / N          instructions per transaction
# and the ratio to the base configuration.  Every run starts from a fresh copy
# of one template cluster, so the runs differ only in the configuration.
# Nothing is timed: the numbers are deterministic (to a few instructions).
#
# The measurement only counts if the hooks really tracked: for every
# workload and configuration an unmeasured run of the same script (no
# valgrind) ends with
#   SELECT sum(xacts) FROM pg_stat_transactions   (configs with ours: = N;
#                                                   with evictions, 1..N)
#   SELECT count(*) FROM pg_stat_transactions_fingerprints
#                                                  (configs with ours)
#   SHOW compute_query_id                          (must stay 'auto')
#   EXPLAIN (VERBOSE) SELECT 1                     ("Query Identifier" only
#                                                   when query ids are
#                                                   computed; see below)
# and the "check" column reports it.  Query ids must be computed when
# pg_stat_statements is loaded, and when ours is loaded with
# postgres_extension.fingerprints=on among the -g settings (it then asks
# the core for them, EnableQueryId()); in every other case they must not
# be.  Fingerprints must be recorded when ours is loaded, query ids are
# computed and -g does not set postgres_extension.fingerprints=off: then
# the fingerprints counted are the workload's distinct fingerprints (1 for
# every workload but f10k, min(N, 10,000) for it), or 1 to that many when
# some were evicted (fingerprint_dealloc > 0), and the column says
# "fingerprints F" (with ", fp dealloc D" after evictions); otherwise none
# must be recorded, and the column says nothing of them.  Exit status 1 if
# a check fails.
#
# With -W ("warm") it also measures the steady state: each workload is run
# a second time as a script of 2N transactions, the N of the workload
# repeated, and a second row per workload and configuration, workload
# "W:warm", gives
#   (2N-transaction run - N-transaction run) / N     instructions per
#                                                    transaction
# There the second half of the run finds every key and fingerprint of the
# workload in place (unless evicted), and what a run pays once (creating
# its entries, the statistics file written at shutdown, the first use of
# each catalog entry...) cancels out: it is the cost per transaction once
# the workload's entries exist.  The first rows, the default measure
# ("cold"), include those one-time costs spread over N transactions; cold
# minus warm, times N, is the one-time cost of the run (per fingerprint
# created: divide by the distinct fingerprints).  The checks of the 2N run
# are those above with 2N transactions tracked and the same distinct
# fingerprints as the N run.
#
# One cost of the core is not deterministic: the backend flushes its
# table statistics at most once a second of wall-clock time, so the number
# of flushes in a run follows how fast valgrind ran it, that is how loaded
# the machine was.  For workloads a and b it is a few instructions per
# transaction; for the f workloads, which touch 100 tables, it reached
# +-800 instructions per transaction between two configurations of one run
# on a loaded machine, more than what is measured.  -g 'track_counts=off'
# removes it (no table statistics at all, in every configuration alike);
# compare f1 and f10k with it.
#
# Usage: test/bench/callgrind.sh [-n N] [-w a,b] [-c base,pgss,ours,both] [-W]
#                                [-j JOBS] [-d DIR] [-k] [-L LIB] [-g 'GUC=V ...']
#   -n N     transactions per workload (default 3000)
#   -w LIST  workloads (default a,b); also "c1" / "c10k": autocommit SELECT
#            by primary key tagged by a comment /*tag='tK'*/, one tag for all
#            (c1) or tag K = i mod 10000 (c10k) (see scale.sh); and "f1" /
#            "f10k": BEGIN; SELECT v FROM fpII WHERE id = ...; SELECT v
#            FROM fpJJ WHERE id = ...; COMMIT; over 100 tables fp00..fp99
#            (1,000 rows each, created in the template only when an f
#            workload is asked for), so that the two statements come from 100
#            shapes of distinct query ids (an alias would not do: the query
#            id ignores it; nor would 100 columns of one table: resolving a
#            column name compares it with every column's, and those string
#            comparisons cost hundreds of instructions more or less from one
#            memory layout to another); f1 always takes the same pair
#            (II, JJ) = (00, 01), f10k takes II = i / 100 mod 100 and
#            JJ = i mod 100 for transaction i: 10,000 distinct ordered pairs,
#            so 10,000 distinct transaction fingerprints (a pair II = JJ is
#            one step, by the loop rule, and still a fingerprint of its own)
#   -c LIST  configurations (default base,pgss,ours,both)
#   -W       also the warm measure (see above): twice the valgrind runs' time
#   -j JOBS  valgrind runs in parallel (default: number of CPUs)
#   -d DIR   scratch directory (default: a new /tmp/pgxt-callgrind.XXXXXX);
#            new, empty, or left by an earlier run; removed at the end
#            unless -k, which also keeps the callgrind profiles there
#            (cg.<workload>.<config>, for callgrind_annotate; with -W also
#            cg.<workload>.W.<config>, the 2N run: callgrind_annotate of
#            it against the N run's shows what the steady state costs)
#   -L LIB   library preloaded as "ours" (default postgres_extension); a path
#            to another build's .so measures it without installing it (the
#            SQL views then still call the installed library, so the
#            tracked check is skipped for that run and reported as such)
#   -g GUCS  extra settings for every run, e.g. -g 'postgres_extension.max=10000'
# Environment: PG_BINDIR (default: `pg_config --bindir`).  To measure a
# build with the full check but without installing it over the system's,
# copy /usr/lib/postgresql/15, /usr/share/postgresql/15 and
# /usr/include/postgresql under one new prefix P (the binaries find the
# rest relative to themselves), `make PG_CONFIG=P/usr/lib/postgresql/15/bin/
# pg_config install`, and run with PG_BINDIR=P/usr/lib/postgresql/15/bin.
# Run as root (the server runs as user postgres via runuser) or as the user
# owning DIR.
# Needs valgrind, PostgreSQL 15 server and contrib (pg_stat_statements),
# and the extension installed (make install).
#
# Output: one table row per workload and configuration:
#   workload config instr/xact +instr/xact ratio check
# (with -W, the rows of workload W:warm after those of W).
# Takes about 1 minute at the default size on 2 CPUs (-W: about 3).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"

nxacts=3000
workloads=a,b
configs=base,pgss,ours,both
jobs=$(nproc 2>/dev/null || echo 2)
work=
keep=0
lib=postgres_extension
gucs=
warm=0

while getopts "n:w:c:j:d:kL:g:Wh" opt; do
	case $opt in
		n) nxacts=$OPTARG ;;
		w) workloads=$OPTARG ;;
		c) configs=$OPTARG ;;
		j) jobs=$OPTARG ;;
		d) work=$OPTARG ;;
		k) keep=1 ;;
		L) lib=$OPTARG ;;
		g) gucs=$OPTARG ;;
		W) warm=1 ;;
		*) bench_usage; exit 2 ;;
	esac
done

bench_bindir
postgres=$bindir/postgres
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not found" >&2; exit 2; }
[ -x "$postgres" ] || { echo "callgrind.sh: no $postgres" >&2; exit 2; }

bench_workdir callgrind

# Extra -c flags for every run, identical for the measured and empty runs.
guc_flags=()
for g in $gucs; do guc_flags+=(-c "$g"); done

libs_of() {
	case $1 in
		base) echo "" ;;
		pgss) echo "pg_stat_statements" ;;
		ours) echo "$lib" ;;
		both) echo "pg_stat_statements,$lib" ;;
		*) echo "callgrind.sh: unknown configuration $1" >&2; exit 2 ;;
	esac
}

has_ours() { [ "$1" = ours ] || [ "$1" = both ]; }

# One command per line, as single-user mode reads them.
gen_workload() {
	awk -v n="$nxacts" -v w="$1" 'BEGIN {
		for (i = 0; i < n; i++) {
			aid = (i * 7919) % 100000 + 1
			if (w == "a") {
				print "BEGIN;"
				print "SELECT abalance FROM accounts WHERE aid = " aid ";"
				print "UPDATE accounts SET abalance = abalance + 1 WHERE aid = " aid ";"
				print "COMMIT;"
			} else if (w == "b")
				print "SELECT abalance FROM accounts WHERE aid = " aid ";"
			else if (w == "c1")
				print "SELECT abalance FROM accounts WHERE aid = " aid " /*tag='\''t1'\''*/;"
			else if (w == "c10k")
				print "SELECT abalance FROM accounts WHERE aid = " aid " /*tag='\''t" (i % 10000) "'\''*/;"
			else if (w == "f1" || w == "f10k") {
				id = (i * 7919) % 1000 + 1
				if (w == "f1") {
					s1 = 0
					s2 = 1
				} else {
					s1 = int(i / 100) % 100
					s2 = i % 100
				}
				print "BEGIN;"
				printf "SELECT v FROM fp%02d WHERE id = %d;\n", s1, id
				printf "SELECT v FROM fp%02d WHERE id = %d;\n", s2, id
				print "COMMIT;"
			} else
				exit 2
		}
	}'
}

# single RUNDIR LIBS SCRIPT OUT [valgrind args...]: the server runs in
# RUNDIR on its data directory RUNDIR/d, with a fixed, minimal environment:
# its arguments and environment sit on its stack, and where the stack
# starts moves a few instructions per transaction (alignment-dependent
# paths of memcpy, strcmp...), so they must not depend on the scratch
# directory's name.
single() {
	local rundir=$1 libs=$2 script=$3 out=$4
	shift 4
	(cd "$rundir" && "${as_pg[@]}" env -i PATH=/usr/bin:/bin PWD=/ \
		"$@" "$postgres" --single -D d \
		-c shared_preload_libraries="$libs" "${guc_flags[@]}" postgres \
		< "$script" > "$out" 2>&1)
}

fresh_copy() {	# TEMPLATE RUNDIR: RUNDIR/d becomes a copy of TEMPLATE
	rm -rf "$2"
	mkdir "$2"
	[ ${#as_pg[@]} = 0 ] || chown postgres "$2"
	"${as_pg[@]}" cp -a "$1" "$2/d"
}

# --- the template cluster: a 100,000-row table, the extension's views
"${as_pg[@]}" "$bindir/initdb" -D "$work/tmpl" -A trust --no-sync -E UTF8 \
	--locale=C > "$work/initdb.log" 2>&1
{
	cat <<'EOF'
CREATE TABLE accounts (aid int PRIMARY KEY, abalance int NOT NULL, filler char(84) NOT NULL DEFAULT '')
INSERT INTO accounts (aid, abalance) SELECT g, 0 FROM generate_series(1, 100000) g
EOF
	# the f workloads' tables, only for them: the other workloads keep the
	# catalog they were always measured with
	if [[ ,$workloads, == *,f* ]]; then
		awk 'BEGIN {
			for (t = 0; t < 100; t++) {
				printf "CREATE TABLE fp%02d (id int PRIMARY KEY, v int NOT NULL)\n", t
				printf "INSERT INTO fp%02d SELECT g, g FROM generate_series(1, 1000) g\n", t
			}
		}'
	fi
	cat <<'EOF'
CREATE EXTENSION postgres_extension
VACUUM (FREEZE, ANALYZE)
CHECKPOINT
EOF
} > "$work/setup.sql"
"${as_pg[@]}" "$postgres" --single -D "$work/tmpl" postgres \
	< "$work/setup.sql" > "$work/setup.log" 2>&1 ||
	{ cat "$work/setup.log" >&2; exit 2; }

: > "$work/empty.sql"
IFS=, read -r -a wl <<< "$workloads"
IFS=, read -r -a cl <<< "$configs"
for w in "${wl[@]}"; do
	gen_workload "$w" > "$work/$w.sql" || { echo "callgrind.sh: unknown workload $w" >&2; exit 2; }
	# -W: the workload twice over, 2N transactions
	[ $warm = 0 ] || cat "$work/$w.sql" "$work/$w.sql" > "$work/$w.W.sql"
done
# the scripts measured: "W" (N transactions) and, with -W, "W.W" (2N)
runs=()
for w in "${wl[@]}"; do
	runs+=("$w")
	[ $warm = 0 ] || runs+=("$w.W")
done

# --- measured runs (parallel): one empty run per configuration, one per
#     workload and configuration
measure() {	# NAME CONFIG SCRIPT SLOT
	local name=$1 cfg=$2 script=$3 data
	data=$work/run.$4
	fresh_copy "$work/tmpl" "$data"
	single "$data" "$(libs_of "$cfg")" "$script" "$work/out.$name" \
		valgrind --tool=callgrind --log-file="$work/vg.$name" \
		--callgrind-out-file="$work/cg.$name" ||
		{ echo "callgrind.sh: run $name failed:" >&2; tail -5 "$work/out.$name" >&2; return 1; }
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/vg.$name" > "$work/count.$name"
	rm -rf "$data"
	[ $keep = 1 ] || rm -f "$work/cg.$name"
}

tasks=()
for c in "${cl[@]}"; do
	libs_of "$c" > /dev/null
	tasks+=("empty.$c $c $work/empty.sql")
	for r in "${runs[@]}"; do tasks+=("$r.$c $c $work/$r.sql"); done
done
# unmeasured check runs: the workload, then the checks
for w in "${runs[@]}"; do
	for c in "${cl[@]}"; do
		{
			cat "$work/$w.sql"
			if has_ours "$c"; then
				# one statement: a second one would find the first's
				# own transaction, and its fingerprint, counted
				echo "SELECT coalesce(sum(xacts), 0)::int8 AS tracked, count(*) AS keys, (SELECT dealloc FROM pg_stat_transactions_info) AS dealloc, (SELECT count(*) FROM pg_stat_transactions_fingerprints) AS fps, (SELECT fingerprint_dealloc FROM pg_stat_transactions_info) AS fpdealloc FROM pg_stat_transactions"
			fi
			echo "SHOW compute_query_id"
			echo "EXPLAIN (VERBOSE, COSTS OFF) SELECT 1"
		} > "$work/check.$w.$c.sql"
	done
done
checkrun() {	# WORKLOAD CONFIG SLOT
	local data
	data=$work/run.$3
	fresh_copy "$work/tmpl" "$data"
	single "$data" "$(libs_of "$2")" "$work/check.$1.$2.sql" \
		"$work/out.check.$1.$2" || true
	rm -rf "$data"
}

failed=0
running=0
slot=0
for t in "${tasks[@]}"; do
	slot=$((slot + 1))
	# shellcheck disable=SC2086
	measure $t $slot &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n || failed=1
		running=$((running - 1))
	fi
done
for w in "${runs[@]}"; do
	for c in "${cl[@]}"; do
		slot=$((slot + 1))
		checkrun "$w" "$c" $slot &
		running=$((running + 1))
		if [ $running -ge "$jobs" ]; then
			wait -n || failed=1
			running=$((running - 1))
		fi
	done
done
while [ $running -gt 0 ]; do
	wait -n || failed=1
	running=$((running - 1))
done
[ $failed = 0 ] || { echo "callgrind.sh: a run failed (see $work)" >&2; trap - EXIT; exit 2; }

# --- the table
echo "# callgrind: $nxacts transactions per workload$([ $warm = 0 ] || echo " (warm: $((2 * nxacts)) - $nxacts)"), $(basename "$postgres") $("$postgres" --version | sed 's/^[^0-9]*\([0-9][0-9.]*\).*/\1/'), ours = $lib${gucs:+, $gucs}"
printf '%-9s %-6s %12s %12s %8s  %s\n' workload config instr/xact +instr/xact ratio check
# postgres_extension.fingerprints as set by -g (the last one wins)
fp_guc=auto
for g in $gucs; do
	case $g in postgres_extension.fingerprints=*) fp_guc=${g#*=} ;; esac
done
status=0
# the rows of workload w (cold: its N run minus the empty run) and, with
# -W, of w:warm (its 2N run minus its N run); ntracked: the transactions
# its check run must have tracked
for row in "${runs[@]}"; do
	w=${row%.W}
	basex=
	for c in "${cl[@]}"; do
		if [ "$row" = "$w" ]; then
			label=$w
			ntracked=$nxacts
			tot=$(cat "$work/count.$w.$c")
			emp=$(cat "$work/count.empty.$c")
		else
			label=$w:warm
			ntracked=$((2 * nxacts))
			tot=$(cat "$work/count.$w.W.$c")
			emp=$(cat "$work/count.$w.$c")
		fi
		perx=$(awk -v t="$tot" -v e="$emp" -v n="$nxacts" 'BEGIN { printf "%.1f", (t - e) / n }')
		[ "$c" = base ] && basex=$perx
		out=$work/out.check.$row.$c
		check=""
		ok=1
		if has_ours "$c"; then
			tracked=$(sed -n 's/.*tracked = "\([0-9]*\)".*/\1/p' "$out")
			keys=$(sed -n 's/.*keys = "\([0-9]*\)".*/\1/p' "$out")
			dealloc=$(sed -n 's/.*[ :]dealloc = "\([0-9]*\)".*/\1/p' "$out")
			fps=$(sed -n 's/.*fps = "\([0-9]*\)".*/\1/p' "$out")
			fpdealloc=$(sed -n 's/.*fpdealloc = "\([0-9]*\)".*/\1/p' "$out")
			if [ "$lib" != postgres_extension ]; then
				check="tracked: not checked (-L)"
			elif [ "${dealloc:-0}" = 0 ] && [ "$tracked" = "$ntracked" ]; then
				check="tracked: $tracked xacts"
			elif [ "${dealloc:-0}" != 0 ] && [ "${tracked:-0}" -gt 0 ] &&
				[ "$tracked" -le "$ntracked" ]; then
				# evicted keys took their counts with them
				check="tracked: $tracked xacts in $keys keys, dealloc $dealloc"
			else
				check="tracked: ${tracked:-error} xacts, want $ntracked"
				ok=0
			fi
		fi
		qmode=$(sed -n 's/.*compute_query_id = "\([a-z]*\)".*/\1/p' "$out")
		if grep -q 'Query Identifier' "$out"; then qid=on; else qid=off; fi
		want_qid=off
		case $c in
			pgss|both) want_qid=on ;;
			ours) [ "$fp_guc" != on ] || want_qid=on ;;
		esac
		if has_ours "$c" && [ "$lib" = postgres_extension ]; then
			# fingerprints: recorded exactly when query ids are
			# computed and the setting is not off
			want_fps=0
			if [ "$want_qid" = on ] && [ "$fp_guc" != off ]; then
				want_fps=1
				[ "$w" != f10k ] || want_fps=$((nxacts < 10000 ? nxacts : 10000))
			fi
			if [ "${fpdealloc:-0}" = 0 ] && [ "${fps:-x}" = "$want_fps" ]; then
				[ "$want_fps" = 0 ] || check="$check, fingerprints $fps"
			elif [ "${fpdealloc:-0}" != 0 ] && [ "$want_fps" != 0 ] &&
				[ "${fps:-0}" -gt 0 ] && [ "$fps" -le "$want_fps" ]; then
				check="$check, fingerprints $fps, fp dealloc $fpdealloc"
			else
				check="$check, fingerprints ${fps:-error} (fp dealloc ${fpdealloc:-?}), want $want_fps"
				ok=0
			fi
		fi
		check="${check:+$check, }compute_query_id=${qmode:-?}, queryid $qid"
		[ "$qid" = "$want_qid" ] || ok=0
		[ "$qmode" = auto ] || ok=0
		[ $ok = 1 ] || { check="$check  CHECK FAILED"; status=1; }
		if [ -n "$basex" ]; then
			plus=$(awk -v p="$perx" -v b="$basex" 'BEGIN { printf "%+.1f", p - b }')
			ratio=$(awk -v p="$perx" -v b="$basex" 'BEGIN { printf "%.4f", p / b }')
		else
			plus=- ratio=-
		fi
		printf '%-9s %-6s %12s %12s %8s  %s\n' "$label" "$c" "$perx" "$plus" "$ratio" "$check"
	done
done
[ $keep = 1 ] && echo "# kept: $work"
exit $status

#!/usr/bin/env bash
# PostgreSQL's own test suites with and without postgres_extension
# preloaded: the core regression suite (src/test/regress, parallel
# schedule), the isolation suite (src/test/isolation) and
# pg_stat_statements' tests, each run twice in a temporary instance of the
# build test/pgbuild.sh makes (default: 18 with assertions), once with
# the server's usual settings and once with postgres_extension added to
# shared_preload_libraries.  The extension must change no result: the
# script prints, per suite and run, the tests and failures, and exits
# non-zero if the two runs of a suite differ (failed tests or diffs) or a
# server log holds a "TRAP:" (failed assertion).
#
# Not part of CI: about 4 minutes on 2 CPUs with an assert-enabled build,
# once its test programs are built.
#
# Usage: bash test/core_suites.sh [MAJOR [cassert]]   (default: 18 cassert)
# Environment: PGBUILD_CACHE (see pgbuild.sh); KEEP_WORK=1 keeps the
# scratch directory (results, diffs and server logs of every run).
# Run as root: the build and the servers run as the user postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

major=${1:-18}
flavour=${2-cassert}
run_user=postgres

pg_config=$(bash test/pgbuild.sh "$major" ${flavour:+"$flavour"})
bindir=$("$pg_config" --bindir)
version=$("$pg_config" --version | sed 's/^PostgreSQL \([^ ]*\).*/\1/')
cache=$(dirname "$(dirname "$(dirname "$pg_config")")")
tarball=$(find "$cache/src" -maxdepth 1 -name "postgresql-${major}_$version.orig.tar.*" | head -n 1)
[ -n "$tarball" ] || { echo "core_suites.sh: no source tarball of $version in $cache/src" >&2; exit 1; }

echo "== installing postgres_extension into $("$pg_config" --pkglibdir)"
make -s clean PG_CONFIG="$pg_config"
make -s PG_CONFIG="$pg_config"
make -s PG_CONFIG="$pg_config" install >/dev/null
make -s clean PG_CONFIG="$pg_config"

work=$(mktemp -d /tmp/pgxt-core-suites.XXXXXX)
if [ "${KEEP_WORK:-0}" = 1 ]; then
	echo "== scratch directory (kept): $work"
else
	trap 'rm -rf "$work"' EXIT
fi
chown "$run_user" "$work"
as_pg() { runuser -u "$run_user" -- "$@"; }

# The test programs and modules of the same source, configured as the
# installed build was.
echo "== building the test programs of PostgreSQL $version"
as_pg tar -xf "$tarball" -C "$work"
src=$(echo "$work"/postgresql-*/)
src=${src%/}
configure_args=$("$pg_config" --configure)
(cd "$src" && eval "as_pg ./configure $configure_args" > "$work/configure.log" 2>&1)
as_pg make -s -C "$src/src/test/regress" -j"$(nproc)" > "$work/build.log" 2>&1
as_pg make -s -C "$src/src/test/isolation" -j"$(nproc)" >> "$work/build.log" 2>&1
# shellcheck disable=SC2016
pgss_tests=$(as_pg make -s --no-print-directory -C "$src/contrib/pg_stat_statements" \
	-f Makefile -f - print-regress <<< 'print-regress: ; @echo $(REGRESS)')

echo "shared_preload_libraries = 'postgres_extension'" > "$work/ours.conf"
echo "shared_preload_libraries = 'pg_stat_statements,postgres_extension'" > "$work/pgss_ours.conf"
: > "$work/none.conf"
chown "$run_user" "$work"/*.conf

# suite NAME MODE: run suite NAME (regress, isolation, pgss) in mode
# without or with; its output goes to $work/NAME.MODE/.
suite() {
	local name=$1 mode=$2 out=$work/$1.$2 extra
	as_pg mkdir -p "$out"
	case "$name.$mode" in
		pgss.with) extra=$work/pgss_ours.conf ;;
		*.with) extra=$work/ours.conf ;;
		*) extra=$work/none.conf ;;
	esac
	local rc=0
	case "$name" in
		regress)
			(cd "$src/src/test/regress" && as_pg ./pg_regress \
				--temp-instance="$out/instance" --bindir="$bindir" --outputdir="$out" \
				--inputdir=. --dlpath=. --max-concurrent-tests=20 \
				--temp-config="$extra" --schedule=./parallel_schedule) \
				> "$out/stdout.txt" 2>&1 || rc=$?
			;;
		isolation)
			(cd "$src/src/test/isolation" && as_pg ./pg_isolation_regress \
				--temp-instance="$out/instance" --bindir="$bindir" --outputdir="$out" \
				--inputdir=. --temp-config="$extra" --schedule=./isolation_schedule) \
				> "$out/stdout.txt" 2>&1 || rc=$?
			;;
		pgss)
			# shellcheck disable=SC2086
			(cd "$src/contrib/pg_stat_statements" && as_pg ../../src/test/regress/pg_regress \
				--temp-instance="$out/instance" --bindir="$bindir" --outputdir="$out" \
				--inputdir=. --temp-config=pg_stat_statements.conf \
				--temp-config="$extra" $pgss_tests) \
				> "$out/stdout.txt" 2>&1 || rc=$?
			;;
	esac
	# "ok N - name" / "not ok N - name" (16+), "test name ... ok" (up to 15)
	local n_ok n_bad
	n_ok=$(grep -cE '^ok +[0-9]+ +[+-] |\.\.\. ok' "$out/stdout.txt" || true)
	n_bad=$(grep -cE '^not ok +[0-9]+ +[+-] |\.\.\. FAILED' "$out/stdout.txt" || true)
	grep -E '^not ok +[0-9]+ +[+-] |\.\.\. FAILED' "$out/stdout.txt" |
		sed -E 's/^not ok +[0-9]+ +[+-] +([^ ]+).*/\1/; s/^test +([^ ]+).*/\1/' \
		> "$out/failed.txt" || true
	printf '%-10s %-8s %4d tests, %3d failed (exit %d)\n' "$name" "$mode" \
		$(( n_ok + n_bad )) "$n_bad" "$rc" | tee -a "$work/summary.txt"
}

echo "== PostgreSQL $version${flavour:+ ($flavour)}: suite, run, tests, failures"
for s in regress isolation pgss; do
	suite "$s" without
	suite "$s" with
done

status=0
for s in regress isolation pgss; do
	a=$work/$s.without b=$work/$s.with
	if ! cmp -s "$a/failed.txt" "$b/failed.txt"; then
		echo "$s: the failed tests differ:"
		diff "$a/failed.txt" "$b/failed.txt" || true
		status=1
	fi
	# the diffs of failed tests, without their file names and timestamps
	for f in "$a" "$b"; do
		if [ -f "$f/regression.diffs" ]; then
			grep -vE '^(diff|---|\+\+\+) ' "$f/regression.diffs" > "$f/diffs.cmp"
		else
			: > "$f/diffs.cmp"
		fi
	done
	if ! cmp -s "$a/diffs.cmp" "$b/diffs.cmp"; then
		echo "$s: the differences from the expected output differ"
		status=1
	fi
done
# the runs "with" really loaded the extension (its watchdog started)
for s in regress isolation pgss; do
	if ! grep -q 'postgres_extension watchdog started' "$work/$s.with/log/postmaster.log"; then
		echo "$s: postgres_extension was not loaded in the run with it"
		status=1
	fi
done
traps=$(grep -l 'TRAP:' "$work"/*/log/postmaster.log 2>/dev/null || true)
if [ -n "$traps" ]; then
	echo "TRAP in: $traps"
	status=1
fi
[ $status = 0 ] && echo "core suites: the same results with and without postgres_extension" ||
	echo "core suites: results differ"
cd "$top"
exit $status

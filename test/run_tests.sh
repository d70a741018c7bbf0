#!/usr/bin/env bash
# Run the whole test suite of postgres_extension on Debian 12, as root, on
# every PostgreSQL major it is tested with:
#   15  Debian's packages (the main target; PG_CONFIG chooses another 15)
#   13  built from Debian's source package by test/pgbuild.sh
#   17  likewise, when its source package can be downloaded (skipped, and
#       said so, when the archive does not have its files)
#   18  likewise, with assertions (--enable-cassert --enable-debug)
# For each: lint against that version's headers (every source compiled with
# -Wall -Wextra -Werror, cppcheck), build the extension with -Werror and
# install it into that version, then run the pg_regress tests (sql/,
# expected/) and the TAP tests (test/t/, with that version's own TAP
# framework) as the unprivileged user "postgres" in a scratch copy of the
# tree.  A "TRAP:" (failed assertion) in any server log fails the version.
# One summary line per version, then one for the whole run.
#
# Usage: bash test/run_tests.sh
# Environment:
#   PG_VERSIONS="15 13 17 18"  the versions to run, in this order (default:
#                              all); PG_VERSIONS=15 is the quick local run
#   TAP_TESTS=0                skip the TAP tests
#   REGRESS="counts tags", PROVE_TESTS="test/t/020_watchdog.pl"  a subset
#   PG_CONFIG                  the PostgreSQL 15 to test (default Debian's)
#   PGBUILD_CACHE              where pgbuild.sh keeps its builds
#   KEEP_WORK=1                keep the scratch directory (results, logs)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

versions=${PG_VERSIONS:-15 13 17 18}
pg15_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
run_user=${RUN_USER:-postgres}

PG_MAJOR=15 PG_CONFIG=$pg15_config SETUP_BUILD=0 \
	EXTRA_PACKAGES="prometheus-postgres-exporter prometheus shellcheck ${EXTRA_PACKAGES:-}" \
	bash test/setup.sh
# PgBouncer and the real clients of test/t/07x_*.pl (never fails: those
# tests skip, saying so, what could not be installed)
bash test/clients/install.sh

work=$(mktemp -d /tmp/postgres_extension-test.XXXXXX)
if [ "${KEEP_WORK:-0}" = 1 ]; then
	echo "== scratch directory (kept): $work"
else
	trap 'rm -rf "$work"' EXIT
fi
chown "$run_user" "$work"

tap=1
[ "${TAP_TESTS:-1}" = 0 ] && tap=
subset=()
[ -n "${REGRESS:-}" ] && subset+=(REGRESS="$REGRESS")
[ -n "${PROVE_TESTS:-}" ] && subset+=(PROVE_TESTS="$PROVE_TESTS")

total_passed=0
total_failed=0
summaries=()
scripts_checked=0

# run_version MAJOR: lint, build, install and test against one major
# version; adds to total_passed/total_failed and appends its summary line.
run_version() {
	local major=$1 flavour='' pg_config rc=0 label started=$SECONDS
	case "$major" in
		15) pg_config=$pg15_config ;;
		18) flavour=cassert ;;
	esac
	if [ -z "${pg_config:-}" ]; then
		echo "== PostgreSQL $major${flavour:+ ($flavour)}: test/pgbuild.sh"
		pg_config=$(bash test/pgbuild.sh "$major" $flavour) || rc=$?
		if [ $rc -eq 3 ] && [ "$major" = 17 ]; then
			summaries+=("PostgreSQL 17: skipped: its source package cannot be downloaded from Debian's archive")
			return
		elif [ $rc -ne 0 ]; then
			summaries+=("PostgreSQL $major: FAILED: no build (test/pgbuild.sh exit $rc)")
			total_failed=$(( total_failed + 1 ))
			return
		fi
	fi
	label="PostgreSQL $("$pg_config" --version | sed 's/^PostgreSQL \([^ ]*\).*/\1/')${flavour:+ ($flavour)}"
	echo
	echo "==================== $label ($pg_config)"

	# the scripts (version-independent) are checked once per run
	local lint_status=0
	PG_CONFIG=$pg_config LINT_SCRIPTS=$(( scripts_checked == 0 ? 1 : 0 )) \
		bash test/lint.sh || lint_status=$?
	scripts_checked=1

	# a clean copy of the tree, built as the test user, installed as root
	local dir=$work/pg$major tree
	tree=$dir/tree
	mkdir -p "$dir"
	cp -a "$top/." "$tree"
	rm -rf "$tree/.git"
	chown -R "$run_user" "$dir"
	local regress_status=0 tap_status=0
	echo "== building and installing postgres_extension"
	if ! runuser -u "$run_user" -- make -C "$tree" -s clean PG_CONFIG="$pg_config" ||
		! runuser -u "$run_user" -- make -C "$tree" -s PG_CONFIG="$pg_config" COPT=-Werror ||
		! make -C "$tree" -s PG_CONFIG="$pg_config" install >/dev/null
	then
		summaries+=("$label: FAILED: the extension does not build")
		total_failed=$(( total_failed + 1 ))
		return
	fi

	# pg_regress, then the TAP tests (which find this version's binaries,
	# pg_config among them, first on PATH), each run even if the other fails
	runuser -u "$run_user" -- make -C "$tree" -s installcheck \
		PG_CONFIG="$pg_config" TAP_TESTS= "${subset[@]}" \
		> "$dir/regress.txt" 2>&1 || regress_status=$?
	cat "$dir/regress.txt"
	if [ -n "$tap" ]; then
		runuser -u "$run_user" -- make -C "$tree" -s installcheck \
			PG_CONFIG="$pg_config" REGRESS= TAP_TESTS=1 PROVE_FLAGS="--timer" "${subset[@]}" \
			> "$dir/tap.txt" 2>&1 || tap_status=$?
		cat "$dir/tap.txt"
	else
		: > "$dir/tap.txt"
	fi
	if [ $(( regress_status + tap_status )) -ne 0 ]; then
		for f in "$tree/regression.diffs" "$tree/log/postmaster.log" \
			"$tree"/tmp_check/log/regress_log_*; do
			[ -f "$f" ] || continue
			echo "===== $f (last 80 lines)"
			tail -n 80 "$f"
		done
	fi

	# Failed assertions: the pg_regress server logs to log/postmaster.log
	# (kept after a successful run, unlike its instance), the TAP servers to
	# tmp_check/log/*.log; regress_log_* are the tests' own transcripts.
	local traps
	traps=$(find "$tree/log" "$tree/tmp_check/log" -type f ! -name 'regress_log_*' \
		-exec grep -l 'TRAP:' {} + 2>/dev/null || true)
	local ntraps=0
	if [ -n "$traps" ]; then
		ntraps=$(echo "$traps" | wc -l)
		for f in $traps; do
			echo "===== TRAP in $f"
			grep -B 5 -A 20 'TRAP:' "$f" | head -n 60
		done
	fi

	# pg_regress prints "test NAME ... ok" up to 15, "ok N - NAME" from 16
	local regress_ok regress_bad tap_files tap_bad tap_skipped tap_ok
	regress_ok=$(grep -cE '^(ok|test) .*\.\.\. ok|^ok +[0-9]+ +[+-] ' "$dir/regress.txt" || true)
	regress_bad=$(grep -cE '\.\.\. FAILED|^not ok +[0-9]+ +[+-] ' "$dir/regress.txt" || true)
	# a failure that names no test (the server did not start, ...) counts once
	[ $regress_status -ne 0 ] && [ "$regress_bad" = 0 ] && regress_bad=1
	tap_files=$(grep -E '^Files=' "$dir/tap.txt" | sed 's/Files=\([0-9]*\).*/\1/' || true)
	tap_bad=$(grep -cE '^test/t/[^ ]+\.pl +\(Wstat' "$dir/tap.txt" || true)
	[ $tap_status -ne 0 ] && [ "$tap_bad" = 0 ] && tap_bad=1
	tap_skipped=$(grep -cE '^(\[[0-9:]+\] )?test/t/[^ ]+\.pl \.+ skipped' "$dir/tap.txt" || true)
	tap_ok=$(( ${tap_files:-0} - tap_bad - tap_skipped ))
	local lint_ok=$(( lint_status == 0 ? 1 : 0 ))
	local failed=$(( regress_bad + tap_bad + 1 - lint_ok + (ntraps > 0 ? 1 : 0) ))
	local line="$label: lint: $lint_ok passed, $(( 1 - lint_ok )) failed; pg_regress: $regress_ok passed, $regress_bad failed; TAP files: $tap_ok passed, $tap_bad failed, $tap_skipped skipped"
	[ -n "$flavour" ] && line="$line; server logs with TRAP: $ntraps"
	line="$line ($(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s)"
	summaries+=("$line")
	total_passed=$(( total_passed + regress_ok + tap_ok + lint_ok ))
	total_failed=$(( total_failed + failed ))
}

for v in $versions; do
	case "$v" in
		13|15|17|18) run_version "$v" ;;
		*) summaries+=("PostgreSQL $v: FAILED: not a tested version (13, 15, 17, 18)")
		   total_failed=$(( total_failed + 1 )) ;;
	esac
done

echo
printf '%s\n' "${summaries[@]}"
echo "suite: $total_passed passed, $total_failed failed ($(( SECONDS / 60 )) min $(( SECONDS % 60 )) s)"
[ $total_failed -eq 0 ]

#!/usr/bin/env bash
# Run the whole test suite of postgres_extension on Debian 12, as root:
# install what is needed, build and install the extension, then run the
# pg_regress tests (sql/, expected/) and the TAP tests (test/t/) as the
# unprivileged user "postgres" in a scratch copy of the tree.
#
# Usage: bash test/run_tests.sh        (TAP_TESTS=0 skips the TAP tests;
#        REGRESS="counts tags" and PROVE_TESTS="test/t/020_watchdog.pl" run
#        a subset)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

EXTRA_PACKAGES="prometheus-postgres-exporter prometheus shellcheck ${EXTRA_PACKAGES:-}" bash test/setup.sh
# PgBouncer and the real clients of test/t/07x_*.pl (never fails: those
# tests skip, saying so, what could not be installed)
bash test/clients/install.sh
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR:-15}/bin/pg_config}

run_user=${RUN_USER:-postgres}
work=$(mktemp -d /tmp/postgres_extension-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -a "$top/." "$work/tree"
rm -rf "$work/tree/.git"
chown -R "$run_user" "$work"

lint_status=0
bash test/lint.sh || lint_status=$?

tap=1
[ "${TAP_TESTS:-1}" = 0 ] && tap=
status=0
subset=()
[ -n "${REGRESS:-}" ] && subset+=(REGRESS="$REGRESS")
[ -n "${PROVE_TESTS:-}" ] && subset+=(PROVE_TESTS="$PROVE_TESTS")
runuser -u "$run_user" -- make -C "$work/tree" -s installcheck \
	PG_CONFIG="$PG_CONFIG" TAP_TESTS="$tap" PROVE_FLAGS="--timer" "${subset[@]}" \
	> "$work/output.txt" 2>&1 || status=$?
cat "$work/output.txt"

if [ $status -ne 0 ]; then
	for f in "$work/tree/regression.diffs" "$work"/tree/tmp_check/log/regress_log_*; do
		[ -f "$f" ] || continue
		echo "===== $f (last 80 lines)"
		tail -n 80 "$f"
	done
fi

# One summary line for the whole suite.
regress_ok=$(grep -cE '^(ok|test) .*\.\.\. ok' "$work/output.txt" || true)
regress_bad=$(grep -cE '\.\.\. FAILED' "$work/output.txt" || true)
tap_files=$(grep -E '^Files=' "$work/output.txt" | sed 's/Files=\([0-9]*\).*/\1/' || true)
tap_bad=$(grep -cE '^test/t/[^ ]+\.pl +\(Wstat' "$work/output.txt" || true)
tap_ok=$(( ${tap_files:-0} - tap_bad ))
echo
lint_ok=$(( lint_status == 0 ? 1 : 0 ))
echo "lint: $lint_ok passed, $(( 1 - lint_ok )) failed; pg_regress: $regress_ok passed, $regress_bad failed; TAP files: $tap_ok passed, $tap_bad failed"
failed=$(( regress_bad + tap_bad + 1 - lint_ok ))
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then
	failed=1
fi
echo "suite: $(( regress_ok + tap_ok + lint_ok )) passed, $failed failed"
[ $failed -eq 0 ]

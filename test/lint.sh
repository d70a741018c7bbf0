#!/usr/bin/env bash
# Static checks: compile every source with the server's warning flags plus
# -Wall -Wextra as errors, then cppcheck on src/ (findings in PostgreSQL's
# own headers are not ours and are suppressed), then shellcheck on the
# shell scripts (LINT_SCRIPTS=0 skips them: they do not depend on the
# server version).  Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
inc=$("$PG_CONFIG" --includedir-server)

status=0
for f in src/*.c; do
	# shellcheck disable=SC2046
	gcc -fsyntax-only $("$PG_CONFIG" --cflags) -Wall -Wextra -Wno-unused-parameter \
		-Werror -I"$inc" -Isrc "$f" || status=1
done

if command -v cppcheck >/dev/null; then
	cppcheck -j 2 --quiet --error-exitcode=1 --inline-suppr \
		--enable=warning,style,performance,portability \
		--suppress=missingInclude --suppress=missingIncludeSystem \
		--suppress='*:/usr/include/*' --suppress="*:$inc/*" \
		-I"$inc" -Isrc src/*.c || status=1
else
	echo "lint: cppcheck not installed, skipped"
fi
if [ "${LINT_SCRIPTS:-1}" = 0 ]; then
	:
elif command -v shellcheck >/dev/null; then
	shellcheck -x .ci/run test/*.sh test/bench/*.sh || status=1
else
	echo "lint: shellcheck not installed, skipped"
fi
[ $status -eq 0 ] && echo "lint: 1 passed, 0 failed" || echo "lint: 0 passed, 1 failed"
exit $status

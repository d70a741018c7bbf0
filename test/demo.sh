#!/usr/bin/env bash
# Demo of postgres_extension: who holds the connections?
#
# Replays an incident on a throwaway server: the application "api" has a
# pool of 20 connections and starves, yet every query is fast.  The cause
# is one endpoint, POST /slack/modal, that opens a transaction it does not
# need and calls another service (Slack) while holding it.
#
# Act 1, with request tags: pg_stat_statements ranks the busy but innocent
# endpoints first; pg_stat_transactions ranks the culprit's tag first.
# Act 2, the same workload with no tags at all (as the team in the incident
# had): pg_stat_transactions can only say "api"; the transaction
# fingerprints, joined to pg_stat_statements, name the culprit by its
# statements and show that its idle time follows its SELECT, where the
# client calls Slack.
#
# Run as root on Debian 12:  bash test/demo.sh
# It runs test/setup.sh (packages, build, install), creates a cluster in a
# temporary directory as the user "postgres", runs the endpoints of
# test/demo/endpoints as concurrent pgbench clients, prints the report, and
# removes the cluster.  It exits non-zero if anything fails, including the
# culprit not coming out first (by tag in act 1, by fingerprint in act 2)
# or its idle time in act 2 not following its SELECT.
#
# Environment:
#   DEMO_SECONDS=30           duration of the workload of act 1
#   DEMO_WATCHDOG_SECONDS=6   duration of the watchdog step (when available)
#   DEMO_ACT2_SECONDS=15      duration of the workload of act 2
#   DEMO_CHART=1              0: no SVG chart (and no gnuplot-nox install)
#   DEMO_OUTPUT_DIR=/tmp      where the SVG chart is written
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DEMO_SECONDS:-30}
watchdog_duration=${DEMO_WATCHDOG_SECONDS:-6}
act2_duration=${DEMO_ACT2_SECONDS:-15}
chart=${DEMO_CHART:-1}
out_dir=${DEMO_OUTPUT_DIR:-/tmp}
run_user=postgres
culprit='POST /slack/modal'
# statements of test/demo/slack_modal.sql, as pg_stat_statements shows them
culprit_statements='slack_modals|u\.email|POST /slack/modal'

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (it installs packages and the extension)" >&2
	exit 1
fi

say() { printf '\n== %s\n' "$*"; }

say "setting up (test/setup.sh)"
bash test/setup.sh
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR:-15}/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)

# A throwaway cluster, removed on exit whatever happens.
work=$(mktemp -d /tmp/postgres_extension-demo.XXXXXX)
pgbench_pids=""
cleanup() {
	status=$?
	trap - EXIT INT TERM
	for pid in $pgbench_pids; do
		kill "$pid" 2>/dev/null || true
	done
	if [ -f "$work/data/postmaster.pid" ]; then
		runuser -u "$run_user" -- "$bindir/pg_ctl" -D "$work/data" -m immediate \
			-w stop >/dev/null 2>&1 || true
	fi
	if [ $status -ne 0 ] && [ -f "$work/server.log" ]; then
		echo "== demo failed (exit $status); last lines of the server log:" >&2
		tail -n 30 "$work/server.log" >&2
	fi
	rm -rf "$work"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp -a test/demo "$work/demo"
chown -R "$run_user" "$work"
cd "$work"

# A free TCP port on loopback; clients use the socket in $work.
port=$(perl -MIO::Socket::INET -e \
	'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0, ReuseAddr => 1)->sockport')

say "starting a throwaway server in $work (port $port, socket in $work)"
as_pg() { runuser -u "$run_user" -- "$@"; }
as_pg "$bindir/initdb" -D "$work/data" -A trust -U "$run_user" -E UTF8 \
	--locale=C >/dev/null
cat >> "$work/data/postgresql.conf" <<EOF
shared_preload_libraries = 'pg_stat_statements,postgres_extension'
compute_query_id = on
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
max_connections = 40
logging_collector = off
EOF
as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null

psql_() {
	as_pg "$bindir/psql" -h "$work" -p "$port" -U "$run_user" -d postgres -X -q \
		-v ON_ERROR_STOP=1 "$@"
}
# one value
value() { psql_ -A -t -c "$1"; }

say "loading the application's data (test/demo/schema.sql)"
psql_ -f "$work/demo/schema.sql"
value "SELECT pg_stat_statements_reset(), pg_stat_transactions_reset()" >/dev/null

# Start every endpoint of test/demo/endpoints as its own pgbench, as
# application_name "api", for $1 seconds, in the background; the scripts
# are read from the directory $2 (default: the demo's own, with tags).
start_workload() {
	local secs=$1 dir=${2:-$work/demo} clients script _tag
	pgbench_pids=""
	while read -r clients script _tag; do
		case "$clients" in '#'* | '') continue ;; esac
		as_pg env PGAPPNAME=api "$bindir/pgbench" -h "$work" -p "$port" \
			-U "$run_user" -n -T "$secs" -c "$clients" -j 1 -f "$dir/$script" \
			postgres > "$work/pgbench-$script.log" 2>&1 &
		pgbench_pids="$pgbench_pids $!"
	done < "$work/demo/endpoints"
}
wait_workload() {
	local pid failed=0
	for pid in $pgbench_pids; do
		wait "$pid" || failed=1
	done
	pgbench_pids=""
	if [ $failed -ne 0 ]; then
		echo "demo.sh: a pgbench run failed:" >&2
		tail -n 5 "$work"/pgbench-*.log >&2
		exit 1
	fi
}

pool=$(awk '!/^#/ && NF { n += $1 } END { print n }' "$work/demo/endpoints")
say "act 1: replaying the incident for $duration s: $pool pooled connections of application 'api'"
awk '!/^#/ && NF { n = $1; $1 = $2 = ""; sub(/^ +/, ""); printf "   %2d connections serving %s\n", n, $0 }' \
	"$work/demo/endpoints"
start_workload "$duration"
sleep $(( duration / 2 ))
say "halfway: what pg_stat_activity shows (the usual dashboard)"
psql_ <<'EOF'
SELECT count(*) AS "api sessions",
       count(*) FILTER (WHERE state = 'active') AS active,
       count(*) FILTER (WHERE state = 'idle in transaction') AS "idle in transaction",
       count(*) FILTER (WHERE state = 'idle') AS idle,
       coalesce(round(1000 * extract(epoch FROM max(now() - query_start) FILTER (WHERE state = 'active')), 1), 0)
         AS "longest running query (ms)"
  FROM pg_stat_activity WHERE application_name = 'api';
EOF
echo "   Queries are fast; sessions 'idle in transaction' come and go, and"
echo "   pg_stat_activity does not say which request left them there."
say "halfway: pg_stat_transactions_activity (this extension): open transactions per tag"
psql_ <<'EOF'
SELECT tag, count(*) AS "open transactions",
       count(*) FILTER (WHERE state = 'idle in transaction') AS "idle in transaction"
  FROM pg_stat_transactions_activity WHERE application_name = 'api'
 GROUP BY tag ORDER BY 2 DESC, 1;
EOF
wait_workload

say "pg_stat_statements, top 5 by total_exec_time: the culprit is not there"
psql_ <<'EOF'
SELECT rank AS "#", calls, round(total_exec_time)::bigint AS "total ms",
       round(mean_exec_time::numeric, 2) AS "mean ms", query
  FROM (SELECT rank() OVER (ORDER BY total_exec_time DESC) AS rank, calls,
               total_exec_time, mean_exec_time,
               left(regexp_replace(query, '\s+', ' ', 'g'), 64) AS query
          FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')
           AND query !~* '^(begin|commit)') s
 ORDER BY rank LIMIT 5;
EOF
psql_ -A -t -v re="$culprit_statements" -v tag="$culprit" <<'EOF'
SELECT format('   %s''s own statements: best rank #%s of %s, %s%% of all execution time.',
              :'tag', min(rank) FILTER (WHERE mine), count(*),
              round((100 * sum(total_exec_time) FILTER (WHERE mine) / sum(total_exec_time))::numeric, 1))
  FROM (SELECT rank() OVER (ORDER BY total_exec_time DESC) AS rank, total_exec_time,
               query ~ :'re' AS mine
          FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')
           AND query !~* '^(begin|commit)') s;
EOF

say "pg_stat_transactions, by total_hold_time: who holds the connections"
psql_ -v secs="$duration" <<'EOF'
SELECT tag, xacts,
       round(total_hold_time / 1000)::bigint AS "held s",
       round(total_active_time / 1000)::bigint AS "active s",
       round(total_idle_time / 1000)::bigint AS "idle s",
       round((100 * total_hold_time / sum(total_hold_time) OVER ())::numeric, 1) AS "% of conn. time",
       round((total_hold_time / 1000 / :secs)::numeric, 1) AS "avg conns held",
       round(p95_hold_time::numeric, 1) AS "p95 ms"
  FROM pg_stat_transactions WHERE application_name = 'api'
 ORDER BY total_hold_time DESC;
EOF
say "pg_stat_transactions, by total_idle_time: who keeps the server waiting"
psql_ <<'EOF'
SELECT tag, round(total_idle_time / 1000)::bigint AS "idle s",
       round((100 * total_idle_time / nullif(sum(total_idle_time) OVER (), 0))::numeric, 1) AS "% of idle time",
       round(max_idle_time::numeric, 1) AS "max idle ms",
       round((total_idle_time / nullif(total_hold_time, 0) * 100)::numeric, 1) AS "% of its hold"
  FROM pg_stat_transactions WHERE application_name = 'api'
 ORDER BY total_idle_time DESC;
EOF

say "connection time per tag (# executing statements, - idle in transaction)"
psql_ -A -t <<'EOF'
WITH s AS (
  SELECT tag, total_active_time AS a, total_idle_time AS i,
         max(total_hold_time) OVER () AS m
    FROM pg_stat_transactions WHERE application_name = 'api')
SELECT format('   %-20s %6s s |%s%s', tag, round((a + i) / 1000),
              repeat('#', round(50 * a / nullif(m, 0))::int),
              repeat('-', round(50 * i / nullif(m, 0))::int))
  FROM s ORDER BY a + i DESC;
EOF

# The verdict, checked: the demo fails if the story does not hold.
top_hold=$(value "SELECT tag FROM pg_stat_transactions WHERE application_name = 'api' ORDER BY total_hold_time DESC LIMIT 1")
top_idle=$(value "SELECT tag FROM pg_stat_transactions WHERE application_name = 'api' ORDER BY total_idle_time DESC LIMIT 1")
top_exec=$(echo "SELECT query ~ :'re' FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 1" |
	psql_ -A -t -v re="$culprit_statements")
say "verdict"
psql_ -A -t -v tag="$culprit" -v secs="$duration" -v pool="$pool" <<'EOF'
SELECT format('   %s held %s%% of the connection time in transactions (%s of %s connections on average),'
              || E'\n   and was executing statements for %s%% of that time: the rest it held idle,'
              || E'\n   waiting on the client (its call to Slack).',
              tag, round(100 * total_hold_time / (SELECT sum(total_hold_time) FROM pg_stat_transactions
                                                  WHERE application_name = 'api')),
              round((total_hold_time / 1000 / :secs)::numeric, 1), :pool,
              round((100 * total_active_time / total_hold_time)::numeric, 1))
  FROM pg_stat_transactions WHERE application_name = 'api' AND tag = :'tag';
EOF
if [ "$top_hold" != "$culprit" ] || [ "$top_idle" != "$culprit" ] || [ "$top_exec" != f ]; then
	echo "demo.sh: unexpected result: top by hold '$top_hold', by idle '$top_idle'," \
		"culprit statement first in pg_stat_statements: $top_exec" >&2
	exit 1
fi

# An SVG chart of the same, with gnuplot (installed here if missing).
if [ "$chart" != 0 ]; then
	if ! command -v gnuplot >/dev/null; then
		echo "== installing gnuplot-nox for the chart"
		export DEBIAN_FRONTEND=noninteractive
		if ! { apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1 ||
			{ apt-get update -qq &&
				apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null; }; }; then
			echo "   could not install gnuplot-nox: no chart (DEMO_CHART=0 skips it)" >&2
			chart=0
		fi
	fi
fi
if [ "$chart" != 0 ]; then
	svg="$out_dir/postgres_extension-demo.svg"
	psql_ -A -t -F $'\t' -c "SELECT '\"' || tag || '\"', round((total_active_time / 1000)::numeric, 1),
	        round((total_idle_time / 1000)::numeric, 1)
	   FROM pg_stat_transactions WHERE application_name = 'api' ORDER BY total_hold_time DESC" \
		> "$work/chart.dat"
	gnuplot -e "datafile='$work/chart.dat'; outfile='$svg'; secs=$duration; pool=$pool" \
		"$work/demo/chart.gp"
	say "chart written to $svg"
fi

# Sections for features that may not exist yet: shown when their view does.
if [ "$(value "SELECT to_regclass('pg_stat_transactions_history') IS NOT NULL")" = t ]; then
	say "pg_stat_transactions_history: the same, per time bucket"
	psql_ <<'EOF'
SELECT to_char(bucket_start, 'HH24:MI:SS') AS "bucket start", tag, xacts,
       round((total_hold_time / 1000)::numeric, 1) AS "held s",
       round((total_idle_time / 1000)::numeric, 1) AS "idle s",
       round(max_hold_time::numeric, 1) AS "max hold ms"
  FROM pg_stat_transactions_history
 WHERE application_name = 'api'
 ORDER BY bucket_start, total_hold_time DESC;
EOF
fi

if [ "$(value "SELECT to_regclass('pg_stat_transactions_timeouts') IS NOT NULL")" = t ]; then
	say "watchdog, log mode: report transactions of $culprit idle for over 50 ms"
	sql="ALTER SYSTEM SET postgres_extension.timeout_rules = 'tag=\"POST /slack/modal\" idle=50ms';
ALTER SYSTEM SET postgres_extension.timeout_action = 'log';
SELECT pg_reload_conf();"
	while IFS= read -r line; do echo "   $line"; done <<< "$sql"
	echo "$sql" | psql_ -A -t >/dev/null
	echo "   and the workload again for $watchdog_duration s"
	start_workload "$watchdog_duration"
	wait_workload
	say "pg_stat_transactions_timeouts, per tag (the ring keeps the most recent events)"
	psql_ <<'EOF'
SELECT application_name, tag, kind, action, count(*) AS events,
       round(min(elapsed_ms)::numeric, 1) AS "min elapsed ms",
       round(max(elapsed_ms)::numeric, 1) AS "max elapsed ms"
  FROM pg_stat_transactions_timeouts GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC;
EOF
	say "SELECT * FROM pg_stat_transactions_timeouts (the latest 3)"
	psql_ -c "SELECT * FROM pg_stat_transactions_timeouts ORDER BY seq DESC LIMIT 3"
	if grep -qF "$culprit" "$work/server.log"; then
		say "the server log (first 2 lines about $culprit)"
		{ grep -F "$culprit" "$work/server.log" | grep -v 'STATEMENT:' | head -n 2 | cut -c 1-220; } || true
	fi
fi

# Act 2: the same incident as it happened, with no tags at all.
if [ "$(value "SELECT to_regclass('pg_stat_transactions_fingerprints') IS NOT NULL")" != t ]; then
	echo "demo.sh: act 2 needs the view pg_stat_transactions_fingerprints (extension 1.1)" >&2
	exit 1
fi
# The endpoints' scripts without their tags: no SET of the tag, no tag in
# comments (comment lines dropped too).
untagged="$work/demo-untagged"
mkdir "$untagged"
for f in "$work"/demo/*.sql; do
	sed -e '/^--/d' -e '/postgres_extension\.tag/d' -e 's| */\* *tag=[^*]*\*/||g' "$f" \
		> "$untagged/${f##*/}"
done
chown -R "$run_user" "$untagged"
if grep -l -e 'postgres_extension\.tag' -e 'tag=' "$untagged"/*.sql; then
	echo "demo.sh: act 2: tags left in the scripts above" >&2
	exit 1
fi
say "act 2: the same workload for $act2_duration s, with no tags at all"
echo "   This is the incident as it happened: every connection is application 'api',"
echo "   no request sets a tag or comments its statements.  The watchdog is back to"
echo "   its defaults, and the statistics of both extensions are reset."
psql_ -A -t >/dev/null <<'EOF'
ALTER SYSTEM RESET postgres_extension.timeout_rules;
ALTER SYSTEM RESET postgres_extension.timeout_action;
SELECT pg_reload_conf();
SELECT pg_stat_statements_reset(), pg_stat_transactions_reset();
EOF
start_workload "$act2_duration" "$untagged"
sleep $(( act2_duration / 2 ))
say "act 2, halfway: pg_stat_transactions_activity, by the statement each open transaction ran last"
psql_ <<'EOF'
SELECT a.state, a.steps AS "after step",
       left(regexp_replace(coalesce(s.query, '?'), '\s+', ' ', 'g'), 60) AS "latest statement",
       count(*) AS sessions
  FROM pg_stat_transactions_activity a
  LEFT JOIN pg_stat_statements s
         ON s.queryid = a.queryid AND s.userid = a.usesysid AND s.dbid = a.datid
        AND s.toplevel
 WHERE a.application_name = 'api'
 GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3;
EOF
wait_workload

say "act 2: pg_stat_transactions: all it can say is 'api'"
psql_ -v secs="$act2_duration" <<'EOF'
SELECT application_name, tag, xacts,
       round(total_hold_time / 1000)::bigint AS "held s",
       round((total_hold_time / 1000 / :secs)::numeric, 1) AS "avg conns held",
       round((100 * total_idle_time / nullif(total_hold_time, 0))::numeric, 1) AS "% idle"
  FROM pg_stat_transactions WHERE application_name = 'api';
EOF
echo "   'api' holds the connections, mostly idle in transaction: which of its"
echo "   transactions, and idle after which statement?"

# The fingerprints of 'api', ranked by hold time, each with its statements'
# texts in order (pg_stat_statements, by query id) and its idle time after
# each step.  Used by the tables and the verdict below.
fingerprints_sql="
CREATE TEMP VIEW api_fingerprints AS
SELECT f.rank, f.fingerprint, f.xacts, f.explicit_xacts, f.total_hold_time,
       f.total_idle_time, f.idle_before_first_time,
       q.step, q.idle_after, regexp_replace(coalesce(s.query, '?'), '\s+', ' ', 'g') AS query,
       CASE WHEN length(s.query) > 44 THEN left(regexp_replace(s.query, '\s+', ' ', 'g'), 41) || '...'
            ELSE coalesce(s.query, '?') END AS short
  FROM (SELECT *, rank() OVER (ORDER BY total_hold_time DESC) AS rank
          FROM pg_stat_transactions_fingerprints WHERE application_name = 'api') f
 CROSS JOIN unnest(f.queryids, f.idle_after_times) WITH ORDINALITY AS q(queryid, idle_after, step)
  LEFT JOIN pg_stat_statements s
         ON s.queryid = q.queryid AND s.dbid = f.dbid AND s.userid = f.userid AND s.toplevel;"

say "act 2: pg_stat_transactions_fingerprints joined to pg_stat_statements, top 5 by hold time"
psql_ -v secs="$act2_duration" <<EOF
$fingerprints_sql
SELECT rank AS "#", xacts, round(total_hold_time / 1000)::bigint AS "held s",
       round((100 * total_hold_time / sum(total_hold_time) OVER ())::numeric, 1) AS "% of conn. time",
       round((total_hold_time / 1000 / :secs)::numeric, 1) AS "avg conns held",
       round((100 * total_idle_time / nullif(total_hold_time, 0))::numeric, 1) AS "% idle",
       statements
  FROM (SELECT rank, xacts, total_hold_time, total_idle_time,
               string_agg(short, ' ; ' ORDER BY step) AS statements
          FROM api_fingerprints GROUP BY 1, 2, 3, 4) f
 ORDER BY rank, statements LIMIT 5;
EOF

say "act 2: the first fingerprint, step by step: where the application sits idle"
psql_ <<EOF
$fingerprints_sql
SELECT step, statement,
       round((idle / 1000)::numeric, 1) AS "idle after, s",
       round((idle / xacts)::numeric, 1) AS "idle after, ms per xact"
  FROM (SELECT 0::bigint AS step, 'BEGIN' AS statement, idle_before_first_time AS idle, xacts
          FROM api_fingerprints WHERE rank = 1 AND step = 1 AND explicit_xacts = xacts
        UNION ALL
        SELECT step, left(query, 72), idle_after, xacts
          FROM api_fingerprints WHERE rank = 1) s
 ORDER BY step;
EOF

# The verdict of act 2, checked: the first fingerprint by hold time must be
# the culprit's transaction, its SELECT then its INSERT, and its idle time
# must follow the SELECT (the client's call to Slack).
verdict=$(psql_ -A -t -F '|' <<EOF
$fingerprints_sql
SELECT (SELECT string_agg(query, ' ; ' ORDER BY step) FROM api_fingerprints WHERE rank = 1),
       (SELECT count(DISTINCT fingerprint) FROM api_fingerprints WHERE rank = 1),
       (SELECT step FROM api_fingerprints WHERE rank = 1 ORDER BY idle_after DESC, step LIMIT 1),
       (SELECT query FROM api_fingerprints WHERE rank = 1 ORDER BY idle_after DESC, step LIMIT 1);
EOF
)
IFS='|' read -r top_statements top_count idle_step idle_statement <<< "$verdict"
if [ "$top_count" != 1 ] ||
	! [[ $top_statements =~ ^SELECT\ [^\;]*u\.email[^\;]*\ \;\ INSERT\ INTO\ slack_modals[^\;]*$ ]]; then
	echo "demo.sh: act 2: the first fingerprint by hold time is not $culprit's transaction" \
		"(its SELECT, then its INSERT INTO slack_modals): it is '$top_statements'" \
		"($top_count fingerprint(s) first)" >&2
	exit 1
fi
if [ "$idle_step" != 1 ] || ! [[ $idle_statement =~ ^SELECT ]]; then
	echo "demo.sh: act 2: the culprit's largest idle time follows its step $idle_step" \
		"('$idle_statement'), not its SELECT (step 1)" >&2
	exit 1
fi
say "act 2: verdict"
psql_ -A -t -v secs="$act2_duration" -v pool="$pool" <<EOF
$fingerprints_sql
SELECT format('   The transaction %s'
              || E'\n   held %s%% of api''s connection time (%s of %s connections on average), %s%% of it idle.'
              || E'\n   After its step %s, its %s, the application kept it idle %s ms per transaction'
              || E'\n   (%s%% of its idle time): the call to Slack.  Found without a single tag.',
              string_agg(short, ' ; ' ORDER BY step),
              round(100 * min(total_hold_time) / (SELECT sum(total_hold_time)
                                                 FROM pg_stat_transactions_fingerprints
                                                WHERE application_name = 'api')),
              round((min(total_hold_time) / 1000 / :secs)::numeric, 1), :pool,
              round((100 * min(total_idle_time) / min(total_hold_time))::numeric, 1),
              (array_agg(step ORDER BY idle_after DESC, step))[1],
              (array_agg(split_part(query, ' ', 1) ORDER BY idle_after DESC, step))[1],
              round(max(idle_after / xacts)::numeric, 1),
              round((100 * max(idle_after) / nullif(min(total_idle_time), 0))::numeric, 1))
  FROM api_fingerprints WHERE rank = 1;
EOF

say "done; the server and $work are removed"

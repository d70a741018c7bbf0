# shellcheck shell=bash
# common.sh - pieces shared by the benchmark scripts of test/bench
# (callgrind.sh, throughput.sh, scale.sh), which source it from their own
# directory right after "set -euo pipefail"; not meant to be run on its own.
#
# Provides:
#   bench_usage          print the calling script's usage header
#   bench_bindir         set bindir: PG_BINDIR, or `pg_config --bindir`
#   bench_workdir NAME   set up the scratch directory work (and as_pg) and
#                        the EXIT trap that removes it (bench_cleanup)
#   bench_cleanup        stop the server if server_up=1, remove work unless
#                        keep=1
#   stop_server          stop the server of $work/data, server_up=0
#   median               the median of the numbers on stdin, one a line
# and the variables bindir, work, as_pg (the prefix that runs a command as
# user postgres: runuser when run as root, empty otherwise) and server_up.
# The calling script sets keep (1: keep the scratch directory, -k) and, to
# use a default scratch directory, leaves work empty (-d DIR sets it).

# Print the comment block at the top of the calling script, from its second
# line to its "set -euo pipefail", without the leading "# ".
bench_usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

# Set bindir, the server's binaries: PG_BINDIR if set, otherwise what
# pg_config (PG_CONFIG, default pg_config on PATH) says.
bench_bindir() {
	bindir=${PG_BINDIR:-$("${PG_CONFIG:-pg_config}" --bindir)}
}

# bench_workdir NAME: make the scratch directory work, for the script
# NAME.sh: a new /tmp/pgxt-NAME.XXXXXX if work is empty; else work itself,
# if new or empty, or recreated if an earlier run left it (it holds a
# .pgxt-bench marker); refuses (exit 2) any other non-empty directory.
# Makes work absolute, marks it, sets the EXIT trap (bench_cleanup) and,
# when run as root, gives work to user postgres and sets as_pg to run
# commands as postgres.
bench_workdir() {
	if [ -z "$work" ]; then
		work=$(mktemp -d "/tmp/pgxt-$1.XXXXXX")
	elif [ -e "$work/.pgxt-bench" ]; then
		rm -rf "$work"	# a scratch directory of an earlier run
		mkdir -p "$work"
	elif [ -e "$work" ] && [ -n "$(ls -A "$work")" ]; then
		echo "$1.sh: $work exists and is not empty" >&2
		exit 2
	else
		mkdir -p "$work"
	fi
	work=$(cd "$work" && pwd)
	touch "$work/.pgxt-bench"
	server_up=0
	trap bench_cleanup EXIT
	as_pg=()
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$work"
		as_pg=(runuser -u postgres --)
	fi
}

# The EXIT trap: stop the server (immediate mode) if one runs on
# $work/data, then remove the scratch directory unless keep=1.
bench_cleanup() {
	if [ "$server_up" = 1 ]; then
		"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop > /dev/null 2>&1 || true
	fi
	# shellcheck disable=SC2154	# keep: set by the sourcing script
	[ "$keep" = 1 ] || rm -rf "$work"
}

# Stop the server of $work/data (fast mode, waiting); the script's own
# start_server starts it and sets server_up=1.
stop_server() {
	"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -w stop > /dev/null
	server_up=0
}

# The median of the numbers read from stdin, one a line (the mean of the
# middle two if there is an even number of them).
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

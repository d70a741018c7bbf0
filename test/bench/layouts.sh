#!/usr/bin/env bash
# layouts.sh - callgrind.sh's figures over several memory layouts.
#
# Loading a library moves where the server's later allocations land, and
# with them the alignment of the query strings and hash keys that core's
# string functions (strlen, memcmp, strncpy...) work on; their cost per
# call depends on that alignment.  So one callgrind.sh run measures the
# extension plus a layout shift of up to a few tens of instructions per
# transaction, either way, that would move again with any unrelated
# change.  This script runs callgrind.sh L times, each with cluster_name
# set to a string of a different length (0, 4, ..., 4(L-1) bytes) in every
# configuration, base included: a setting that only shifts the heap.  It
# prints, per workload and configuration, the minimum, median and maximum
# of the instructions per transaction over base (for base itself: its own
# instructions per transaction), the ratio of the median,
# and callgrind.sh's check column of the first layout; a failed run or
# check fails the script (exit 1).  With pgss and both among the
# configurations, a last row per workload, config "both-p", gives the same
# for both minus pgss, layout by layout (what the extension adds to
# pg_stat_statements), and its ratio to pgss's median.
#
# Usage: test/bench/layouts.sh [-l L] [-n N] [-w LIST] [-c LIST] [-j JOBS]
#                               [-W] [-g 'GUC=V ...']
#   -l L     layouts (default 8)
#   -n, -w, -c, -j, -W, -g: as in callgrind.sh (defaults 3000, a,b,
#            base,pgss,ours,both, number of CPUs, cold only, none); -c must
#            include base; the -g settings go to every run, after
#            cluster_name; with -W each workload W also has its rows
#            W:warm, the steady state (see callgrind.sh)
# Takes L times as long as callgrind.sh: about 8 minutes at the defaults on
# 2 CPUs (-W: about three times that).  Needs what callgrind.sh needs.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"

nlayouts=8
configs=base,pgss,ours,both
gucs=
args=()
while getopts "l:n:w:c:j:g:Wh" opt; do
	case $opt in
		l) nlayouts=$OPTARG ;;
		c) configs=$OPTARG ;;
		g) gucs=$OPTARG ;;
		n|w|j) args+=("-$opt" "$OPTARG") ;;
		W) args+=(-W) ;;
		*) bench_usage; exit 2 ;;
	esac
done
[[ $nlayouts =~ ^[1-9][0-9]*$ ]] ||
	{ echo "layouts.sh: -l wants a positive number" >&2; exit 2; }
[[ ,$configs, == *,base,* ]] ||
	{ echo "layouts.sh: -c must include base, the reference" >&2; exit 2; }

here=$(dirname "$0")
rows=$(mktemp)
trap 'rm -f "$rows" "$rows".*' EXIT
status=0
for ((i = 0; i < nlayouts; i++)); do
	pad=$(printf '%*s' $((4 * i)) '' | tr ' ' x)
	out=$(bash "$here/callgrind.sh" "${args[@]}" -c "$configs" \
		-g "cluster_name=$pad${gucs:+ $gucs}") || status=1
	if [ "$i" = 0 ]; then
		printf '%s\n' "$out" | sed -n '1{s/^# callgrind: /# layouts.sh: '"$nlayouts"' layouts of callgrind: /; s/cluster_name= *//; s/, $//; p}'
		# "workload config check...", the check column of layout 0
		printf '%s\n' "$out" | awk '$1 != "#" && $1 != "workload" && NF >= 5 {
			w = $1; c = $2; for (f = 1; f <= 5; f++) $f = ""
			sub(/^ +/, ""); print w, c, $0 }' > "$rows.check"
	fi
	# rows "layout workload config instr/xact", from callgrind.sh's
	# "workload config instr/xact +instr/xact ratio check..."
	printf '%s\n' "$out" | awk -v i="$i" '
		$1 != "#" && $1 != "workload" && NF >= 5 { print i, $1, $2, $3 }' > "$rows.$i"
	if [ ! -s "$rows.$i" ]; then
		echo "layouts.sh: layout $i gave no figures" >&2
		status=1
	fi
	cat "$rows.$i" >> "$rows"
	rm -f "$rows.$i"
done

# per layout, each configuration minus base of the same workload and layout
awk 'NR == FNR { if ($3 == "base") base[$1 " " $2] = $4; next }
	{ b = base[$1 " " $2]; if (b != "") print $1, $2, $3, $4 - b, b }' \
	"$rows" "$rows" > "$rows.over"
mv "$rows.over" "$rows"

checks=$(cat "$rows.check")
rm -f "$rows.check"
printf '%-9s %-6s %10s %10s %10s %8s  %s\n' workload config min median max ratio check
# one line per workload and configuration, in callgrind.sh's order
awk '!seen[$2 " " $3]++ { print $2, $3 }' "$rows" | while read -r w c; do
	plus=$(awk -v w="$w" -v c="$c" '$2 == w && $3 == c { print $4 }' "$rows" | sort -g)
	med=$(printf '%s\n' "$plus" | median)
	base=$(awk -v w="$w" '$2 == w && $3 == "base" { print $5 }' "$rows" | median)
	check=$(printf '%s\n' "$checks" | awk -v w="$w" -v c="$c" '$1 == w && $2 == c {
		$1 = $2 = ""; sub(/^ +/, ""); print; exit }')
	if [ "$c" = base ]; then
		# its own instructions per transaction, not +0.0
		abs=$(awk -v w="$w" '$2 == w && $3 == "base" { print $5 }' "$rows" | sort -g)
		awk -v w="$w" -v lo="$(printf '%s\n' "$abs" | head -1)" -v m="$base" \
			-v hi="$(printf '%s\n' "$abs" | tail -1)" -v k="$check" \
			'BEGIN { printf "%-9s %-6s %10.1f %10.1f %10.1f %8.4f  %s\n", w, "base", lo, m, hi, 1, k }'
		continue
	fi
	awk -v w="$w" -v c="$c" -v lo="$(printf '%s\n' "$plus" | head -1)" \
		-v m="$med" -v hi="$(printf '%s\n' "$plus" | tail -1)" -v b="$base" \
		-v k="$check" \
		'BEGIN { printf "%-9s %-6s %+10.1f %+10.1f %+10.1f %8.4f  %s\n", w, c, lo, m, hi, (b + m) / b, k }'
done
# with pg_stat_statements and both: what ours adds to pg_stat_statements,
# per layout (both - pgss of the same layout), and its share of pgss
if [[ ,$configs, == *,pgss,* ]] && [[ ,$configs, == *,both,* ]]; then
	awk '!seen[$2]++ { print $2 }' "$rows" | while read -r w; do
		over=$(awk -v w="$w" '$2 == w && $3 == "pgss" { p[$1] = $4 }
			$2 == w && $3 == "both" { b[$1] = $4 }
			END { for (l in b) if (l in p) print b[l] - p[l] }' "$rows" | sort -g)
		[ -n "$over" ] || continue
		pgss=$(awk -v w="$w" '$2 == w && $3 == "pgss" { print $4 + $5 }' "$rows" | median)
		awk -v w="$w" -v lo="$(printf '%s\n' "$over" | head -1)" \
			-v m="$(printf '%s\n' "$over" | median)" \
			-v hi="$(printf '%s\n' "$over" | tail -1)" -v p="$pgss" \
			'BEGIN { printf "%-9s %-6s %+10.1f %+10.1f %+10.1f %8.4f  both over pgss\n", w, "both-p", lo, m, hi, (p + m) / p }'
	done
fi
[ $status = 0 ] || echo "layouts.sh: a callgrind.sh run failed or a tracked check did not pass" >&2
exit $status

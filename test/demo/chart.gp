# Stacked bars of connection time per tag, from a tab-separated file of
# "tag<TAB>active seconds<TAB>idle seconds" lines.  Used by test/demo.sh:
#   gnuplot -e "datafile='chart.dat'; outfile='chart.svg'; secs=30; pool=20" chart.gp
if (!exists("term")) term = "svg size 900,460 dynamic font 'sans,12'"
set terminal @term
set output outfile
set title sprintf("Connection time held in transactions per tag, application api (%d s, pool of %d)", secs, pool)
set ylabel "connection-seconds"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set xtics nomirror font ",11"
set key top right
set grid ytics
set yrange [0:*]
set datafile separator "\t"
plot datafile using 2:xtic(1) title "executing statements" lc rgb "#4878a8", \
     "" using 3 title "idle in transaction (waiting on the client)" lc rgb "#d8804a"

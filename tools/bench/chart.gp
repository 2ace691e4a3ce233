# tools/bench/chart.gp: req/s and CPU us/request per proxy and scenario.
#   gnuplot -e "datafile='X.chart.dat'; outfile='X.svg'; subtitle='...'" chart.gp
# datafile: index 0 = rates (req/s; conn/s for the new-connection scenario),
# index 1 = proxy CPU us per request; columns: scenario zproxy nginx HAProxy.
if (!exists("subtitle")) subtitle = ''
set terminal svg size 1000,420 dynamic font "sans,11" background rgb "white"
set output outfile
set multiplot layout 1,2 title "zproxy vs nginx vs HAProxy (1 worker each)\n{/*0.8 ".subtitle."}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right autotitle columnheader
set grid ytics
set yrange [0:*]
set xtics nomirror scale 0 font ",9"
set linetype 1 lc rgb "#1f77b4"
set linetype 2 lc rgb "#2ca02c"
set linetype 3 lc rgb "#d62728"
set title "throughput (req/s; new connections: conn/s)"
set ylabel "per second"
plot datafile index 0 using 2:xtic(1) lt 1, '' index 0 using 3 lt 2, '' index 0 using 4 lt 3
set title "proxy CPU per request (user+sys, lower is better)"
set ylabel "microseconds"
plot datafile index 1 using 2:xtic(1) lt 1, '' index 1 using 3 lt 2, '' index 1 using 4 lt 3
unset multiplot

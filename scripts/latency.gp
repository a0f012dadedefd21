# scripts/latency.gp - the demo's latency plot: what one log call costs the
# hot thread, at each percentile, for every logger of the run.
#   gnuplot -e "data='latency.dat'; out='latency.png'" scripts/latency.gp
set terminal pngcairo size 900,520 noenhanced font ",11"
set output out
set title "Caller latency of log->info(\"order {} filled qty {} px {:.2f}\", ...) to a file"
set xlabel "percentile"
set ylabel "ns per call (log scale)"
set logscale y
set grid ytics mytics xtics
set key top left
set xtics ("p50" 1, "p75" 2, "p90" 3, "p95" 4, "p99" 5, "p99.5" 6, "p99.9" 7, "p99.95" 8, "p99.99" 9, "p99.999" 10)
plot data using ($0+1):2 with linespoints lw 2 pt 7 title columnheader(2), \
     data using ($0+1):3 with linespoints lw 2 pt 5 title columnheader(3), \
     data using ($0+1):4 with linespoints lw 2 pt 9 title columnheader(4)

set terminal svg size 960,560 dynamic enhanced font 'sans,11' background rgb 'white'
names = "runtime-reference runtime-libuv runtime-libev runtime-libevent runtime-glib runtime-sdevent runtime-tevent threads prefork asyncio uvloop"
olnames = "runtime-reference runtime-libuv runtime-libev runtime-libevent runtime-glib runtime-sdevent runtime-tevent threads prefork asyncio uvloop"
set key outside right
set grid
set logscale x 2
set xlabel 'connections (wrk, closed loop)'
set output 'http-rps.svg'
set ylabel 'requests/s (median of runs; bars: min-max)'
set yrange [0:*]
set title 'HTTP /plaintext under wrk: requests/s vs connections'
plot for [i=0:10] 'http-rps.dat' index i using 1:2:3:4 with yerrorlines lw 2 title word(names,i+1)
set output 'http-latency.svg'
set logscale y
set yrange [*:*]
set ylabel 'latency, us (log)'
set title 'closed-loop service time at k connections (wrk): p50 solid, p99 dashed'
plot for [i=0:10] 'http-rps.dat' index i using 1:5 with linespoints lw 2 lc i+1 title word(names,i+1).' p50', for [i=0:10] 'http-rps.dat' index i using 1:7 with linespoints lw 1 dt 2 lc i+1 notitle
unset logscale
set output 'http-openloop.svg'
set logscale y
set xrange [40:90]
set xtics (50, 80)
set xlabel 'offered load, % of the server''s wrk peak (open loop, constant rate)'
set ylabel 'latency from intended send time, us (log)'
set title 'open-loop latency: p50 solid, p99 dashed (median of runs; bars: min-max)'
plot for [i=0:10] 'http-openloop.dat' index i using 1:2:3:4 with yerrorlines lw 2 lc i+1 title word(olnames,i+1).' p50', for [i=0:10] 'http-openloop.dat' index i using 1:6:7:8 with yerrorlines lw 1 dt 2 lc i+1 notitle
unset logscale
set xrange [*:*]
set xtics autofreq
set terminal pngcairo size 960,560 enhanced font 'sans,10'
names = "runtime-reference runtime-libuv runtime-libev runtime-libevent runtime-glib runtime-sdevent runtime-tevent threads prefork asyncio uvloop"
olnames = "runtime-reference runtime-libuv runtime-libev runtime-libevent runtime-glib runtime-sdevent runtime-tevent threads prefork asyncio uvloop"
set key outside right
set grid
set logscale x 2
set xlabel 'connections (wrk, closed loop)'
set output 'http-rps.png'
set ylabel 'requests/s (median of runs; bars: min-max)'
set yrange [0:*]
set title 'HTTP /plaintext under wrk: requests/s vs connections'
plot for [i=0:10] 'http-rps.dat' index i using 1:2:3:4 with yerrorlines lw 2 title word(names,i+1)
set output 'http-latency.png'
set logscale y
set yrange [*:*]
set ylabel 'latency, us (log)'
set title 'closed-loop service time at k connections (wrk): p50 solid, p99 dashed'
plot for [i=0:10] 'http-rps.dat' index i using 1:5 with linespoints lw 2 lc i+1 title word(names,i+1).' p50', for [i=0:10] 'http-rps.dat' index i using 1:7 with linespoints lw 1 dt 2 lc i+1 notitle
unset logscale
set output 'http-openloop.png'
set logscale y
set xrange [40:90]
set xtics (50, 80)
set xlabel 'offered load, % of the server''s wrk peak (open loop, constant rate)'
set ylabel 'latency from intended send time, us (log)'
set title 'open-loop latency: p50 solid, p99 dashed (median of runs; bars: min-max)'
plot for [i=0:10] 'http-openloop.dat' index i using 1:2:3:4 with yerrorlines lw 2 lc i+1 title word(olnames,i+1).' p50', for [i=0:10] 'http-openloop.dat' index i using 1:6:7:8 with yerrorlines lw 1 dt 2 lc i+1 notitle
unset logscale
set xrange [*:*]
set xtics autofreq

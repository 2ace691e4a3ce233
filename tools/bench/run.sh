#!/usr/bin/env bash
# tools/bench/run.sh: zproxy against nginx and HAProxy on this machine.
#
#   tools/bench/run.sh [--quick] [--reps N] [--scenario NAME[,NAME...]] [--keep]
#
# Scenarios (default: all of them):
#   ka13      wrk -t1 -c64 --latency, keep-alive, 13-byte body
#   ka100k    the same with a 100 KiB body
#   close     zproxy-bench --close -c64 --procs 2: a new connection per request,
#             in short rounds that rotate over the proxies, the null proxy
#             (tools/bench/nullproxy.c: the socket work alone) and no proxy
#   idle      zproxy-bench --idle 9000 --procs 2: proxy RSS growth per idle connection
#   idle36k   zproxy and nginx with 2 workers (reuseport): 36,000 idle connections
#             held at once, RSS growth per connection and the split per worker
#   routes    zproxy only: 10 vs 10,000 routes, 13-byte keep-alive
#   tls       tools/bench/tls.sh: TLS handshakes/s (full, resumed) and TLS
#             keep-alive req/s, zproxy vs nginx (HAProxy is not in it)
#   syscalls  strace -c and perf stat on the worker during a fixed number of requests
#
# Each proxy runs one worker (HAProxy: nbthread 1) with logs off and upstream
# keep-alive, from tools/bench/*.in in a temporary directory, in front of
# tools/bench/backend.c. Repetitions are interleaved: in every rep each proxy
# runs the scenario in turn (the first proxy rotates from rep to rep). The
# figures are medians over reps. Results: tools/bench/results/<date>.{md,csv,svg}.
# See docs/performance.md for the method.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR="$ROOT/tools/bench"
RESULTS_DIR="$BENCH_DIR/results"

REPS=3
DUR=8
IDLE_CONNS=9000
IDLE_HOLD=3
SC_REQ_SMALL=20000
SC_REQ_BIG=3000
SC_REQ_CLOSE=5000
# one load process tops out near 11,000 new connections/s here, the rate
# all three proxies then show: two processes make the machine the limit
CLOSE_PROCS=2
# The close rate moves with the machine's background load by 20-30% over
# tens of seconds, more than the proxies differ. Short runs that rotate
# over the proxies give each the same share of the slow and fast phases:
# CLOSE_ROUNDS per rep, CLOSE_DUR seconds each.
CLOSE_ROUNDS=4
CLOSE_DUR=2
QUICK=0
KEEP=0
SCENARIOS="ka13,ka100k,close,idle,idle36k,routes,syscalls,tls"
IDLE36K_CONNS=36000
ROUTES_SMALL=10
ROUTES_LARGE=10000
PROXIES=(zproxy nginx haproxy)

usage() {
    sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

REPS_SET=0
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --reps) REPS=${2:?--reps needs a number}; REPS_SET=1; shift ;;
    --reps=*) REPS=${1#*=}; REPS_SET=1 ;;
    --scenario) SCENARIOS=${2:?--scenario needs a name}; shift ;;
    --scenario=*) SCENARIOS=${1#*=} ;;
    --keep) KEEP=1 ;;
    -h | --help) usage 0 ;;
    *) echo "run.sh: unknown option \"$1\"" >&2; usage 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then
    DUR=3
    IDLE_HOLD=2
    SC_REQ_SMALL=5000
    SC_REQ_BIG=1000
    SC_REQ_CLOSE=1000
    CLOSE_ROUNDS=2
    [ "$REPS_SET" = 1 ] || REPS=1
fi
case "$REPS" in '' | *[!0-9]* | 0) echo "run.sh: --reps must be a positive number" >&2; exit 2 ;; esac
for s in ${SCENARIOS//,/ }; do
    case "$s" in ka13 | ka100k | close | idle | idle36k | routes | syscalls | tls) ;;
    *) echo "run.sh: unknown scenario \"$s\" (ka13 ka100k close idle idle36k routes syscalls tls)" >&2; exit 2 ;;
    esac
done
want() { [[ ",$SCENARIOS," == *",$1,"* ]]; }

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- packages
need_pkgs=()
for p in nginx haproxy wrk strace gnuplot-nox procps iproute2 jq python3 make gcc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages: ${need_pkgs[*]} (run as root, or install them)"
    log "installing ${need_pkgs[*]}"
    # Debian starts a freshly installed nginx/haproxy service; a policy-rc.d
    # that denies it keeps the system's services as they were. Only one we
    # created is removed again.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
    rc=$?
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ $rc = 0 ] || die "apt-get install failed"
fi
HAVE_PERF=0
if command -v perf >/dev/null 2>&1 && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null true >/dev/null 2>&1; then
    HAVE_PERF=1
fi

# ---------------------------------------------------------------- build
if [ ! -f "$ROOT/objs/Makefile" ] || [ "$ROOT/auto/modules" -nt "$ROOT/objs/Makefile" ] ||
    [ "$ROOT/Makefile.in" -nt "$ROOT/objs/Makefile" ]; then
    log "./configure (none yet, or older than auto/modules or Makefile.in)"
    (cd "$ROOT" && ./configure >/dev/null) || die "./configure failed"
fi
log "make (zproxy, zproxy-bench)"
if ! make -C "$ROOT" -s >/dev/null 2>"${TMPDIR:-/tmp}/zp-bench-make.$$"; then
    if [ -x "$ROOT/objs/zproxy" ] && [ -x "$ROOT/objs/zproxy-bench" ]; then
        log "warning: make failed, benchmarking the binaries already in objs/:"
        tail -5 "${TMPDIR:-/tmp}/zp-bench-make.$$" >&2
    else
        cat "${TMPDIR:-/tmp}/zp-bench-make.$$" >&2
        die "make failed"
    fi
fi
rm -f "${TMPDIR:-/tmp}/zp-bench-make.$$"
ZPROXY="$ROOT/objs/zproxy"
ZBENCH="$ROOT/objs/zproxy-bench"

T=$(mktemp -d /tmp/zp-bench.XXXXXX) || die "mktemp failed"
mkdir -p "$T/nginx-tmp" "$T/out"
cc -std=c11 -O2 -Wall -Wextra -o "$T/backend" "$BENCH_DIR/backend.c" || die "cannot build backend.c"
cc -std=c11 -O2 -Wall -Wextra -o "$T/nullproxy" "$BENCH_DIR/nullproxy.c" || die "cannot build nullproxy.c"

# ---------------------------------------------------------------- processes
declare -A MASTER PORT
BG_PIDS=()

cleanup() {
    local p alive pids=() workers=()
    trap - EXIT INT TERM
    # only what this script started: the proxies' masters (TERM = fast stop,
    # they stop their workers), then the backend and tools; workers left
    # behind by a master that died get the same signals by pid.
    for p in "${MASTER[@]}"; do
        workers+=($(pgrep -P "$p" 2>/dev/null))
        pids+=("$p")
    done
    for p in "${BG_PIDS[@]}"; do pids+=("$p"); done
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 50); do
        alive=0
        for p in "${pids[@]}" "${workers[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}" "${workers[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    if [ "$KEEP" = 1 ]; then
        log "kept $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # port: until a 200 comes back (10 s)
    local i
    for i in $(seq 100); do
        curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null | grep -q 200 && return 0
        sleep 0.1
    done
    return 1
}

# routes N: N-1 decoy routes of three kinds (prefix, exact, pattern) under
# /api/v1/, plus the pattern route the "routes" scenario requests. No regex
# decoys: regexes are tried in order, so they grow with their number by design.
gen_routes() {
    local n=$1 i
    [ "$n" -gt 0 ] || return 0
    for ((i = 0; i < n - 1; i++)); do
        case $((i % 3)) in
        0) echo "        route /api/v1/svc$i/ { proxy_pass http://backend; }" ;;
        1) echo "        route = /api/v1/health$i { proxy_pass http://backend; }" ;;
        2) echo "        route /api/v1/users$i/:id/orders { proxy_pass http://backend; }" ;;
        esac
    done
    echo "        route /api/v1/target/:id/items { proxy_pass http://backend; }"
}

render() { # template out name port nroutes
    local routes="$T/routes-$3.inc"
    gen_routes "$5" >"$routes"
    python3 - "$1" "$2" "$T" "$3" "$BACKEND_PORT" "$4" "$routes" <<'EOF'
import sys
tpl, out, d, name, bport, port, routes = sys.argv[1:]
s = open(tpl).read()
for k, v in (("@DIR@", d), ("@NAME@", name), ("@BACKEND_PORT@", bport), ("@PORT@", port),
             ("@ROUTES@", open(routes).read().rstrip("\n"))):
    s = s.replace(k, v)
open(out, "w").write(s)
EOF
}

# two2w FILE: the same proxy with 2 workers, each with its own reuseport
# socket (the kernel spreads connections evenly by address hash) and as
# many connections as the 20,000-descriptor cap of a process allows.
two2w() {
    sed -i -e 's/^worker_processes 1;/worker_processes 2;/' \
        -e 's/worker_connections 10240;/worker_connections 19800;/' \
        -e 's/^\( *listen 127\.0\.0\.1:[0-9]*\);/\1 reuseport;/' "$1"
}

start_proxy() { # name kind [nroutes] [2w]
    local name=$1 kind=$2 nroutes=${3:-0} variant=${4:-} port pid
    port=$(free_port)
    case $kind in
    zproxy)
        render "$BENCH_DIR/zproxy.conf.in" "$T/$name.conf" "$name" "$port" "$nroutes"
        [ "$variant" = 2w ] && two2w "$T/$name.conf"
        "$ZPROXY" -p "$T" -c "$T/$name.conf" >"$T/$name.out" 2>&1 &
        ;;
    nginx)
        render "$BENCH_DIR/nginx.conf.in" "$T/$name.conf" "$name" "$port" 0
        [ "$variant" = 2w ] && two2w "$T/$name.conf"
        nginx -p "$T" -c "$T/$name.conf" >"$T/$name.out" 2>&1 &
        ;;
    haproxy)
        render "$BENCH_DIR/haproxy.cfg.in" "$T/$name.cfg" "$name" "$port" 0
        haproxy -W -db -f "$T/$name.cfg" >"$T/$name.out" 2>&1 &
        ;;
    esac
    pid=$!
    MASTER[$name]=$pid
    PORT[$name]=$port
    if ! wait_port "$port"; then
        cat "$T/$name.out" "$T"/*error.log 2>/dev/null >&2
        die "$name did not answer on 127.0.0.1:$port"
    fi
    local body
    body=$(curl -s "http://127.0.0.1:$port/" | wc -c)
    [ "$body" = 13 ] || die "$name: expected a 13-byte body, got $body bytes"
    log "$name: master $pid, worker $(worker_pid "$name"), port $port"
}

worker_pid() { pgrep -P "${MASTER[$1]}" | head -1; }

cpu_ticks() { # master pid: utime+stime of the master and its children, in ticks
    local t=0 p s f
    for p in "$1" $(pgrep -P "$1"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        read -r -a f <<<"$s"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}

user_ticks() { # master pid: utime only (the route table is user-space work)
    local t=0 p s f
    for p in "$1" $(pgrep -P "$1"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        read -r -a f <<<"$s"
        t=$((t + f[11]))
    done
    echo "$t"
}

rss_kb() { # master pid: VmRSS of the master and its children, kB
    local t=0 p v
    for p in "$1" $(pgrep -P "$1"); do
        v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

CLK_TCK=$(getconf CLK_TCK)
RAW="$T/raw.csv"
echo "rep,proxy,scenario,metric,value" >"$RAW"
rec() { echo "$1,$2,$3,$4,$5" >>"$RAW"; }

to_ms() { # wrk latency "812.00us" / "5.18ms" / "1.02s" -> ms
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v) }
        else if (v ~ /m$/) { sub(/m$/, "", v); v *= 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
        printf "%.3f", v }'
}

cpu_us_per() { # ticks0 ticks1 requests
    awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.2f", (b - a) / hz * 1e6 / n; else print "" }'
}

run_wrk() { # rep name scenario path
    local rep=$1 name=$2 sc=$3 path=$4 m=${MASTER[$2]} out c0 c1 u0 u1 reqs rps p50 p99 errs
    out="$T/out/$sc-$name-$rep.txt"
    c0=$(cpu_ticks "$m")
    u0=$(user_ticks "$m")
    wrk -t1 -c64 -d"${DUR}s" --latency "http://127.0.0.1:${PORT[$name]}$path" >"$out" 2>&1
    c1=$(cpu_ticks "$m")
    u1=$(user_ticks "$m")
    reqs=$(awk '/requests in/{print $1; exit}' "$out")
    rps=$(awk '/^Requests\/sec/{print $2}' "$out")
    p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$out")")
    p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$out")")
    errs=$(awk '/Non-2xx/{e+=$NF} /Socket errors/{gsub(/,/,""); e+=$4+$6+$8+$10} END{print e+0}' "$out")
    [ -n "$reqs" ] || { log "warning: $name $sc: no wrk result"; cat "$out" >&2; return; }
    rec "$rep" "$name" "$sc" rps "$rps"
    rec "$rep" "$name" "$sc" p50_ms "$p50"
    rec "$rep" "$name" "$sc" p99_ms "$p99"
    rec "$rep" "$name" "$sc" cpu_us_req "$(cpu_us_per "$c0" "$c1" "$reqs")"
    rec "$rep" "$name" "$sc" user_us_req "$(cpu_us_per "$u0" "$u1" "$reqs")"
    rec "$rep" "$name" "$sc" errors "$errs"
    [ "$errs" = 0 ] || log "warning: $name $sc: $errs errors"
    log "rep $rep $sc $name: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, $(cpu_us_per "$c0" "$c1" "$reqs") us CPU/req"
}

# A new connection per request. Besides the proxy's CPU, the CPU of the
# load generator and of the backend is recorded: on 2 cores they share the
# machine with the proxy, and loopback TCP charges much of one side's work
# to the other. "direct" (the load straight at the backend, no proxy) is
# the ceiling any proxy's rate stays under here; "null" (nullproxy.c) is
# the most a proxy could reach: all the socket work, none of the rest.
run_close() { # rep name
    local rep=$1 name=$2 port m out c0 c1 b0 b1 n
    case $name in
    direct) port=$BACKEND_PORT; m="" ;;
    null) port=$NULL_PORT; m=$NULL_PID ;;
    *) port=${PORT[$name]}; m=${MASTER[$name]} ;;
    esac
    out="$T/out/close-$name-$rep.json"
    c0=$([ -n "$m" ] && cpu_ticks "$m" || echo 0)
    b0=$(cpu_ticks "$BACKEND_PID")
    "$ZBENCH" --port "$port" --close --concurrency 64 --procs "$CLOSE_PROCS" --duration "$CLOSE_DUR" --json >"$out" 2>"$out.err"
    c1=$([ -n "$m" ] && cpu_ticks "$m" || echo 0)
    b1=$(cpu_ticks "$BACKEND_PID")
    n=$(jq -r '.responses // 0' "$out" 2>/dev/null)
    [ -n "$n" ] && [ "$n" != 0 ] || { log "warning: $name close: no result"; cat "$out.err" >&2; return; }
    rec "$rep" "$name" close rps "$(jq -r '.requests_per_s' "$out")"
    rec "$rep" "$name" close conn_s "$(jq -r '.connections_per_s' "$out")"
    rec "$rep" "$name" close p50_ms "$(jq -r '.latency_us.p50 / 1000' "$out")"
    rec "$rep" "$name" close p99_ms "$(jq -r '.latency_us.p99 / 1000' "$out")"
    [ -n "$m" ] && rec "$rep" "$name" close cpu_us_req "$(cpu_us_per "$c0" "$c1" "$n")"
    rec "$rep" "$name" close peer_cpu_us_req "$(jq -r --arg b "$(cpu_us_per "$b0" "$b1" "$n")" \
        '(.cpu_s.user + .cpu_s.system) * 1e6 / .responses + ($b | tonumber)' "$out")"
    rec "$rep" "$name" close errors "$(jq -r '.requests - .ok' "$out")"
    log "rep $rep close $name: $(jq -r '.connections_per_s' "$out") conn/s$([ -n "$m" ] && echo ", $(cpu_us_per "$c0" "$c1" "$n") us CPU/req")"
    sleep 0.5 # let the closes settle
}

stop_proxy() { # name: TERM to the master, wait for it and its workers
    local m=${MASTER[$1]} w i
    w=$(pgrep -P "$m")
    kill -TERM "$m" 2>/dev/null
    for i in $(seq 50); do
        kill -0 "$m" 2>/dev/null || break
        sleep 0.1
    done
    for i in $w; do kill -KILL "$i" 2>/dev/null; done
    kill -KILL "$m" 2>/dev/null
    wait "$m" 2>/dev/null
    unset "MASTER[$1]"
}

# A fresh instance for every idle run: a proxy that has already served load
# reuses heap it never gave back (nginx, HAProxy), which would hide the cost
# of a connection. Its RSS before the run is also "master + idle worker".
run_idle() { # rep name
    local rep=$1 name=$2 out r0 r1 held bp i m
    out="$T/out/idle-$name-$rep.txt"
    start_proxy "idle-$name" "$name"
    m=${MASTER[idle-$name]}
    sleep 0.5
    r0=$(rss_kb "$m")
    rec "$rep" "$name" start rss_kb "$r0"
    "$ZBENCH" --port "${PORT[idle-$name]}" --idle "$IDLE_CONNS" --idle-hold "$IDLE_HOLD" --procs 2 --json >"$out" 2>&1 &
    bp=$!
    BG_PIDS+=("$bp")
    for i in $(seq 600); do
        grep -q '^idle ready' "$out" && break
        kill -0 "$bp" 2>/dev/null || break
        sleep 0.1
    done
    held=$(awk '/^idle ready/{print $3}' "$out")
    # idle for a while, not just after the burst of connects: a proxy may
    # give back what the burst used (zproxy trims its heap 1 s after it)
    sleep "$((IDLE_HOLD > 2 ? IDLE_HOLD - 1 : 1))"
    r1=$(rss_kb "$m")
    wait "$bp"
    stop_proxy "idle-$name"
    if [ -z "$held" ] || [ "$held" = 0 ]; then
        log "warning: $name idle: no connection held"; cat "$out" >&2; return
    fi
    rec "$rep" "$name" idle held "$held"
    rec "$rep" "$name" idle rss_before_kb "$r0"
    rec "$rep" "$name" idle rss_held_kb "$r1"
    rec "$rep" "$name" idle kb_per_conn "$(awk -v a="$r0" -v b="$r1" -v n="$held" 'BEGIN{printf "%.3f", (b-a)/n}')"
    log "rep $rep idle $name: $held held, RSS $r0 -> $r1 kB ($(awk -v a="$r0" -v b="$r1" -v n="$held" 'BEGIN{printf "%.2f", (b-a)/n}') KB/conn)"
    sleep 1
}

# 36,000 idle connections on two workers: both must hold their half (the
# descriptor cap is 20,000 per process), all of them must be held, and
# the memory per connection is measured as in run_idle.
run_idle36k() { # rep name
    local rep=$1 name=$2 out r0 r1 held bp i m w split=""
    out="$T/out/idle36k-$name-$rep.txt"
    start_proxy "idle36k-$name" "$name" 0 2w
    m=${MASTER[idle36k-$name]}
    sleep 0.5
    r0=$(rss_kb "$m")
    "$ZBENCH" --port "${PORT[idle36k-$name]}" --idle "$IDLE36K_CONNS" --idle-hold "$((IDLE_HOLD + 2))" \
        --procs 3 --json >"$out" 2>&1 &
    bp=$!
    BG_PIDS+=("$bp")
    for i in $(seq 1200); do
        grep -q '^idle ready' "$out" && break
        kill -0 "$bp" 2>/dev/null || break
        sleep 0.1
    done
    held=$(awk '/^idle ready/{print $3}' "$out")
    sleep "$((IDLE_HOLD > 2 ? IDLE_HOLD - 1 : 1))"
    r1=$(rss_kb "$m")
    for w in $(pgrep -P "$m"); do
        split="$split${split:+/}$(ls "/proc/$w/fd" 2>/dev/null | wc -l)"
    done
    wait "$bp"
    stop_proxy "idle36k-$name"
    if [ -z "$held" ] || [ "$held" = 0 ]; then
        log "warning: $name idle36k: no connection held"; cat "$out" >&2; return
    fi
    rec "$rep" "$name" idle36k held "$held"
    rec "$rep" "$name" idle36k rss_before_kb "$r0"
    rec "$rep" "$name" idle36k rss_held_kb "$r1"
    rec "$rep" "$name" idle36k kb_per_conn "$(awk -v a="$r0" -v b="$r1" -v n="$held" 'BEGIN{printf "%.3f", (b-a)/n}')"
    log "rep $rep idle36k $name: $held of $IDLE36K_CONNS held (descriptors per worker $split)," \
        "RSS $r0 -> $r1 kB ($(awk -v a="$r0" -v b="$r1" -v n="$held" 'BEGIN{printf "%.2f", (b-a)/n}') KB/conn)"
    sleep 2
}

run_syscalls() { # name label path requests [zproxy-bench flags]
    local name=$1 label=$2 path=$3 n=$4 flags=${5:-} w sp pp
    w=$(worker_pid "$name")
    strace -c -f -p "$w" -o "$T/out/strace-$name-$label.txt" 2>/dev/null &
    sp=$!
    BG_PIDS+=("$sp")
    sleep 0.5
    "$ZBENCH" --port "${PORT[$name]}" --path "$path" --requests "$n" --concurrency 64 $flags --json \
        >"$T/out/strace-$name-$label.json" 2>&1
    sleep 0.3
    kill -INT "$sp" 2>/dev/null
    wait "$sp" 2>/dev/null
    echo "$n" >"$T/out/strace-$name-$label.n"
    if [ "$HAVE_PERF" = 1 ]; then
        perf stat -e raw_syscalls:sys_enter -x, -o "$T/out/perf-$name-$label.txt" -p "$w" 2>/dev/null &
        pp=$!
        BG_PIDS+=("$pp")
        sleep 0.5
    fi
    # TCP segments sent on the machine (every party, both hops) during the
    # run: other traffic on the machine adds to it, so run it quiet
    NSTAT_HISTORY="$T/nstat.hist" nstat -n 2>/dev/null
    "$ZBENCH" --port "${PORT[$name]}" --path "$path" --requests "$n" --concurrency 64 $flags --json \
        >"$T/out/perf-$name-$label.json" 2>&1
    NSTAT_HISTORY="$T/nstat.hist" nstat -z TcpOutSegs 2>/dev/null |
        awk '$1 == "TcpOutSegs" {print $2}' >"$T/out/segs-$name-$label.n"
    if [ "$HAVE_PERF" = 1 ]; then
        sleep 0.3
        kill -INT "$pp" 2>/dev/null
        wait "$pp" 2>/dev/null
    fi
    log "syscalls $label $name: done"
}

# The order of the calls for 3 requests on one connection (the third is
# the one to read), for the syscall list in docs/performance.md.
run_sequence() { # name
    local name=$1 w sp
    w=$(worker_pid "$name")
    strace -f -tt -p "$w" -o "$T/out/seq-$name.txt" 2>/dev/null &
    sp=$!
    BG_PIDS+=("$sp")
    sleep 0.5
    "$ZBENCH" --port "${PORT[$name]}" --requests 3 --concurrency 1 >/dev/null 2>&1
    sleep 0.3
    kill -INT "$sp" 2>/dev/null
    wait "$sp" 2>/dev/null
}

# ---------------------------------------------------------------- run
START_TS=$(date +%s)
STAMP=$(date +%Y-%m-%d-%H%M)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# start_helper NAME ARGS...: runs $T/NAME, which prints "ready <port>";
# sets HELPER_PID and HELPER_PORT
start_helper() {
    local name=$1
    shift
    "$T/$name" "$@" >"$T/$name.out" 2>&1 &
    HELPER_PID=$!
    BG_PIDS+=($!)
    for _ in $(seq 50); do grep -q '^ready' "$T/$name.out" && break; sleep 0.1; done
    HELPER_PORT=$(awk '/^ready/{print $2}' "$T/$name.out")
    [ -n "$HELPER_PORT" ] || die "$name did not start"
    log "$name on 127.0.0.1:$HELPER_PORT"
}

start_helper backend --port 0
BACKEND_PID=$HELPER_PID
BACKEND_PORT=$HELPER_PORT
if want close; then
    start_helper nullproxy --port 0 --backend "$BACKEND_PORT"
    NULL_PID=$HELPER_PID
    NULL_PORT=$HELPER_PORT
fi

for p in "${PROXIES[@]}"; do
    start_proxy "$p" "$p"
done
if want routes; then
    start_proxy "zproxy-r$ROUTES_SMALL" zproxy "$ROUTES_SMALL"
    start_proxy "zproxy-r$ROUTES_LARGE" zproxy "$ROUTES_LARGE"
    for r in "$ROUTES_SMALL" "$ROUTES_LARGE"; do
        c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[zproxy-r$r]}/api/v1/target/42/items")
        [ "$c" = 200 ] || die "zproxy-r$r: /api/v1/target/42/items gave $c"
    done
fi
sleep 1
# RSS of master + worker after start, before any load
for p in "${PROXIES[@]}"; do rec 0 "$p" start rss_kb "$(rss_kb "${MASTER[$p]}")"; done

for ((rep = 1; rep <= REPS; rep++)); do
    order=()
    for ((i = 0; i < ${#PROXIES[@]}; i++)); do
        order+=("${PROXIES[$(((i + rep - 1) % ${#PROXIES[@]}))]}")
    done
    log "rep $rep/$REPS, order: ${order[*]}"
    if want ka13; then for p in "${order[@]}"; do run_wrk "$rep" "$p" ka13 /; sleep 0.5; done; fi
    if want ka100k; then for p in "${order[@]}"; do run_wrk "$rep" "$p" ka100k /big; sleep 0.5; done; fi
    if want close; then
        corder=("${PROXIES[@]}" null direct)
        for ((round = 1; round <= CLOSE_ROUNDS; round++)); do
            for ((i = 0; i < ${#corder[@]}; i++)); do
                run_close "$rep.$round" "${corder[$(((i + rep + round) % ${#corder[@]}))]}"
            done
        done
    fi
    if want idle; then for p in "${order[@]}"; do run_idle "$rep" "$p"; done; fi
    if want idle36k; then
        for p in "${order[@]}"; do [ "$p" = haproxy ] || run_idle36k "$rep" "$p"; done
    fi
    if want routes; then
        if [ $((rep % 2)) = 1 ]; then rorder=("$ROUTES_SMALL" "$ROUTES_LARGE"); else rorder=("$ROUTES_LARGE" "$ROUTES_SMALL"); fi
        for r in "${rorder[@]}"; do
            run_wrk "$rep" "zproxy-r$r" routes /api/v1/target/42/items
            sleep 0.5
        done
    fi
done

if want tls; then
    # its own proxies (a 13-byte answer from the proxy itself, TLS only);
    # its rows go into the same raw table
    log "tls: tools/bench/tls.sh --reps $REPS --duration $DUR"
    if "$BENCH_DIR/tls.sh" --reps "$REPS" --duration "$DUR" --csv "$T/tls.csv" >"$T/out/tls.txt" 2>&1; then
        cat "$T/tls.csv" >>"$RAW"
    else
        log "warning: tls.sh failed:"; tail -20 "$T/out/tls.txt" >&2
    fi
fi

if want syscalls; then
    for p in "${PROXIES[@]}"; do
        run_syscalls "$p" ka13 / "$SC_REQ_SMALL"
        run_syscalls "$p" ka100k /big "$SC_REQ_BIG"
        run_syscalls "$p" close / "$SC_REQ_CLOSE" --close
        run_sequence "$p"
    done
fi

# RSS of master + worker after all the load
for p in "${PROXIES[@]}"; do rec 0 "$p" end rss_kb "$(rss_kb "${MASTER[$p]}")"; done

END_TS=$(date +%s)
mkdir -p "$RESULTS_DIR"
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "stamp=$STAMP"
    echo "elapsed_s=$((END_TS - START_TS))"
    echo "reps=$REPS"
    echo "duration_s=$DUR"
    echo "close_rounds=$CLOSE_ROUNDS"
    echo "close_duration_s=$CLOSE_DUR"
    echo "quick=$QUICK"
    echo "scenarios=$SCENARIOS"
    echo "idle_conns=$IDLE_CONNS"
    echo "idle36k_conns=$IDLE36K_CONNS"
    echo "routes=$ROUTES_SMALL,$ROUTES_LARGE"
    echo "cpus=$(nproc)"
    echo "cpu_model=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "load_start=$LOAD0"
    echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "zproxy=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo '+dirty')"
    echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "haproxy=$(haproxy -v 2>/dev/null | awk 'NR==1{print $3}')"
    echo "wrk=$(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
    echo "syscall_counter=strace -c -f$([ "$HAVE_PERF" = 1 ] && echo ' + perf stat raw_syscalls:sys_enter')"
    echo "sc_requests=$SC_REQ_SMALL,$SC_REQ_BIG,$SC_REQ_CLOSE"
} >"$T/meta.txt"

python3 "$BENCH_DIR/report.py" --tmp "$T" --out "$RESULTS_DIR/$STAMP" || die "report failed"
if command -v gnuplot >/dev/null 2>&1 && [ -f "$RESULTS_DIR/$STAMP.chart.dat" ]; then
    gnuplot -e "datafile='$RESULTS_DIR/$STAMP.chart.dat'; outfile='$RESULTS_DIR/$STAMP.svg'; subtitle='$(date -u +%Y-%m-%d), $(nproc) shared cores, medians of $REPS rep(s)'" \
        "$BENCH_DIR/chart.gp" && log "chart: $RESULTS_DIR/$STAMP.svg"
fi
cp "$RAW" "$RESULTS_DIR/$STAMP.raw.csv"
for f in "$T"/out/seq-*.txt; do
    [ -f "$f" ] || continue
    # strip addresses and data so the files diff across runs
    sed -E 's/^[0-9]+ +//' "$f" | cut -c1-160 >"$RESULTS_DIR/$STAMP.$(basename "$f")"
done
log "results: $RESULTS_DIR/$STAMP.md, $STAMP.csv, $STAMP.raw.csv ($((END_TS - START_TS)) s)"

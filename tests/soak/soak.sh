#!/bin/bash
# tests/soak/soak.sh: a bounded soak of zproxy under churn (issue #6).
#
#     tests/soak/soak.sh [--seconds N] [--keep] [--strict]
#
# Starts zproxy (2 workers, loopback, free ports) in front of 3 zpt_backend
# processes in one upstream group, and for N seconds (default 300):
#   - drives mixed load: zproxy-bench keep-alive GET /size/13, zproxy-bench
#     --close GET /size/100000, a curl loop of 256 KiB POST /upload (the
#     answer's length is checked) and a curl loop of GET /size/100000 (the
#     size is checked);
#   - every 15 s SIGKILLs a random backend and restarts it on the same port
#     3 s later;
#   - every 10 s sends HUP to the master (reload: new workers);
#   - at start, middle and end pauses the load, lets it settle and samples
#     the descriptor count and RSS of the master and of the current workers.
# At the end it prints a report: worker crashes ("exited on signal" in
# error.log), requests answered vs failed (failures within a churn window,
# from a backend kill to 2 s after its restart, counted apart, with their
# causes), and the samples. Exit status: 0 ok, 1 a crash, the master gone
# or growth beyond the margin, 2 a setup error; with --strict also 1 when
# a request failed outside the churn windows.
#
# Needs: objs/zproxy, objs/zproxy-bench, objs/tests/backend/zpt_backend
# (make test-build), curl, python3 (for the report). Not part of make test.
# Every process it starts is killed by pid at exit. The work directory is
# removed unless --keep.

set -u

DURATION=300
KEEP=0
STRICT=0
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) DURATION="$2"; shift 2 ;;
    --seconds=*) DURATION="${1#*=}"; shift ;;
    --keep) KEEP=1; shift ;;
    --strict) STRICT=1; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "soak: unknown option $1" >&2; exit 2 ;;
    esac
done
case "$DURATION" in ''|*[!0-9]*) echo "soak: --seconds needs a number" >&2; exit 2 ;; esac
[ "$DURATION" -ge 30 ] || { echo "soak: --seconds must be >= 30" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ZP=${ZP_BIN:-$ROOT/objs/zproxy}
BENCH=$ROOT/objs/zproxy-bench
BACKEND=$ROOT/objs/tests/backend/zpt_backend
for f in "$ZP" "$BENCH" "$BACKEND"; do
    [ -x "$f" ] || { echo "soak: $f missing (make test-build)" >&2; exit 2; }
done
command -v curl >/dev/null && command -v python3 >/dev/null ||
    { echo "soak: needs curl and python3" >&2; exit 2; }

W=$(mktemp -d /tmp/zp-soak.XXXXXX)
mkdir -p "$W/conf" "$W/logs" "$W/run"
LOADPIDS=""
BPID=("" "" "")
BPORT=("" "" "")
MASTER=""

now() { date +%s.%N | cut -c1-14; }
log() { echo "[$(date +%T)] $*"; }

cleanup() {
    local p
    touch "$W/run/stop"
    # each loop iteration is bounded (bench: 3 s + 5 s timeout, curl: 10 s)
    for p in $LOADPIDS; do wait "$p" 2>/dev/null; done
    for i in 0 1 2; do [ -n "${BPID[$i]}" ] && backend_kill "$i"; done
    if [ -n "$MASTER" ] && kill -0 "$MASTER" 2>/dev/null; then
        kill -TERM "$MASTER" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$MASTER" 2>/dev/null
    fi
    wait 2>/dev/null
    if [ "$KEEP" = 1 ]; then echo "soak: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# backend_start i port: starts backend i (port 0: a free one), waits for "ready".
backend_start() {
    local i=$1 port=$2 out="$W/run/backend$1.out"
    : >"$out"
    "$BACKEND" --port "$port" --id "B$i" >"$out" 2>&1 &
    BPID[$i]=$!
    disown "${BPID[$i]}" # no "Killed" job notices; backend_kill waits for it
    for _ in $(seq 100); do
        grep -q '^ready' "$out" && break
        sleep 0.05
    done
    grep -q '^ready' "$out" || { echo "soak: backend $i did not start: $(cat "$out")" >&2; exit 2; }
    BPORT[$i]=$(awk '/^ready/ {print $2}' "$out")
}

# backend_kill i: SIGKILL backend i, wait (bounded) until it is gone.
backend_kill() {
    local p=${BPID[$1]}
    kill -KILL "$p" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    BPID[$1]=""
}

for i in 0 1 2; do backend_start $i 0; done
PORT=$(free_port)

cat >"$W/conf/zproxy.conf" <<EOF
worker_processes 2;
daemon off;
pid logs/zproxy.pid;
error_log logs/error.log info;
events { worker_connections 4096; }
http {
    access_log logs/access.log;
    client_max_body_size 16m;
    upstream pool {
        server 127.0.0.1:${BPORT[0]} max_fails=1 fail_timeout=2s;
        server 127.0.0.1:${BPORT[1]} max_fails=1 fail_timeout=2s;
        server 127.0.0.1:${BPORT[2]} max_fails=1 fail_timeout=2s;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$PORT;
        proxy_connect_timeout 2s;
        proxy_read_timeout 10s;
        route / { proxy_pass http://pool; }
    }
}
EOF

"$ZP" -p "$W" -c conf/zproxy.conf >"$W/logs/stderr.log" 2>&1 &
MASTER=$!
for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/size/13" && break
    sleep 0.1
done
curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/size/13" ||
    { echo "soak: zproxy did not start"; cat "$W/logs/stderr.log" "$W/logs/error.log"; exit 2; }
log "zproxy master $MASTER on 127.0.0.1:$PORT, backends ${BPORT[*]}, ${DURATION}s"

# ---- load loops: each stops at run/stop, waits while run/pause exists ------

# pause_point name: while run/pause exists, acknowledges with run/paused.name.
pause_point() {
    while [ -e "$W/run/pause" ] && [ ! -e "$W/run/stop" ]; do
        touch "$W/run/paused.$1"
        sleep 0.1
    done
    rm -f "$W/run/paused.$1"
}

bench_loop() { # name mode path concurrency
    local name=$1 mode=$2 path=$3 c=$4 t0 t1 out
    while [ ! -e "$W/run/stop" ]; do
        pause_point "$name"
        [ -e "$W/run/stop" ] && break
        t0=$(now)
        out=$("$BENCH" --port "$PORT" --concurrency "$c" --duration 3 "$mode" --path "$path" \
            --timeout-ms 5000 --json 2>>"$W/run/$name.err")
        t1=$(now)
        echo "$t0 $t1 $out" >>"$W/run/$name.log"
    done
}

curl_upload_loop() {
    local t0 code size
    while [ ! -e "$W/run/stop" ]; do
        pause_point upload
        [ -e "$W/run/stop" ] && break
        t0=$(now)
        code=$(curl -s -o "$W/run/upload.body" -w '%{http_code}' --max-time 10 \
            -H 'Expect:' --data-binary @"$W/run/upload.data" "http://127.0.0.1:$PORT/upload" \
            2>/dev/null)
        rc=$?
        if [ $rc = 0 ] && [ "$code" = 200 ] && ! grep -q '^length=262144 ' "$W/run/upload.body"; then
            rc=bad-body
        fi
        echo "$t0 $(now) $code $rc" >>"$W/run/upload.log"
    done
}

curl_get_loop() {
    local t0 out code size
    while [ ! -e "$W/run/stop" ]; do
        pause_point get
        [ -e "$W/run/stop" ] && break
        t0=$(now)
        out=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 10 \
            "http://127.0.0.1:$PORT/size/100000" 2>/dev/null)
        rc=$?
        code=${out% *}
        size=${out#* }
        if [ $rc = 0 ] && [ "$code" = 200 ] && [ "$size" != 100000 ]; then
            rc=short-body
        fi
        echo "$t0 $(now) $code $rc" >>"$W/run/get.log"
    done
}

head -c 262144 /dev/urandom >"$W/run/upload.data"

# ---- samples ------------------------------------------------------------------

# The current workers (not "shutting down") of the master.
workers() {
    local p
    for p in $(cat "/proc/$MASTER/task/$MASTER/children" 2>/dev/null); do
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'worker process$\|worker process *$'; then
            echo "$p"
        fi
    done
}

fdcount() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# Established connections of pid to the backends (the keep-alive pool, legitimately
# open); connections in CLOSE-WAIT etc. are not subtracted, so a leak still shows.
pooled() {
    ss -tnpH state established "( dport = :${BPORT[0]} or dport = :${BPORT[1]} or dport = :${BPORT[2]} )" \
        2>/dev/null | grep -c "pid=$1,"
}
rsskb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# sample label: pauses the load, waits (bounded) for 2 workers and no old
# ones, lets connections settle, records fd and RSS, resumes the load.
sample() {
    local label=$1 nloops=$2 n all ws p fds=0 pool=0 rss=0 line
    touch "$W/run/pause"
    for _ in $(seq 200); do
        [ "$nloops" = 0 ] && break # every loop acknowledged (at most ~8 s for a bench run)
        n=$(ls "$W/run"/paused.* 2>/dev/null | wc -l)
        [ "$n" -ge "$nloops" ] && break
        sleep 0.1
    done
    for _ in $(seq 100); do # old workers gone
        all=$(cat "/proc/$MASTER/task/$MASTER/children" 2>/dev/null | wc -w)
        ws=$(workers | wc -l)
        [ "$all" -le 3 ] && [ "$ws" = 2 ] && break
        sleep 0.1
    done
    sleep 3 # lingering closes and client keep-alive connections end
    line="$label master_fd=$(fdcount "$MASTER") master_rss_kb=$(rsskb "$MASTER")"
    for p in $(workers); do
        fds=$((fds + $(fdcount "$p")))
        pool=$((pool + $(pooled "$p")))
        rss=$((rss + $(rsskb "$p")))
        line="$line worker$p:fd=$(fdcount "$p"),rss_kb=$(rsskb "$p")"
    done
    line="$line workers=$(workers | wc -l) workers_fd=$fds workers_pooled=$pool"
    line="$line workers_fd_nopool=$((fds - pool)) workers_rss_kb=$rss"
    echo "$line" >>"$W/run/samples"
    log "sample $line"
    rm -f "$W/run/pause"
}

bench_loop ka --keepalive /size/13 8 &
LOADPIDS="$LOADPIDS $!"
bench_loop close --close /size/100000 4 &
LOADPIDS="$LOADPIDS $!"
curl_upload_loop &
LOADPIDS="$LOADPIDS $!"
curl_get_loop &
LOADPIDS="$LOADPIDS $!"

sleep 5
sample start 4

# ---- the churn ----------------------------------------------------------------

DOWN=-1
DOWN_AT=0
HUPS=0
KILLS=0
NEXT_HUP=10
NEXT_KILL=15
MID_DONE=0
T0=$SECONDS
t=0
# wall-clock schedule: the loop body can take a while on a loaded machine
while [ "$t" -lt "$DURATION" ]; do
    sleep 0.5
    t=$((SECONDS - T0))
    if ! kill -0 "$MASTER" 2>/dev/null; then
        log "master $MASTER is gone"
        break
    fi
    if [ "$DOWN" -ge 0 ] && [ "$t" -ge $((DOWN_AT + 3)) ]; then
        backend_start "$DOWN" "${BPORT[$DOWN]}"
        echo "up $DOWN $(now)" >>"$W/run/events"
        DOWN=-1
    fi
    if [ "$t" -ge "$NEXT_KILL" ]; then
        NEXT_KILL=$((NEXT_KILL + 15))
        if [ "$DOWN" -lt 0 ] && [ "$t" -le $((DURATION - 5)) ]; then
            DOWN=$((RANDOM % 3))
            DOWN_AT=$t
            echo "kill $DOWN $(now)" >>"$W/run/events"
            backend_kill "$DOWN"
            KILLS=$((KILLS + 1))
        fi
    fi
    if [ "$t" -ge "$NEXT_HUP" ]; then
        NEXT_HUP=$((NEXT_HUP + 10))
        kill -HUP "$MASTER" 2>/dev/null
        echo "hup $(now)" >>"$W/run/events"
        HUPS=$((HUPS + 1))
    fi
    if [ "$MID_DONE" = 0 ] && [ "$t" -ge $((DURATION / 2)) ]; then
        MID_DONE=1
        sample middle 4
    fi
done
if [ "$DOWN" -ge 0 ]; then
    backend_start "$DOWN" "${BPORT[$DOWN]}"
    echo "up $DOWN $(now)" >>"$W/run/events"
fi

touch "$W/run/stop"
for p in $LOADPIDS; do wait "$p" 2>/dev/null; done
LOADPIDS=""
# settle, then the end sample (no load is running: run/pause is only a formality)
sample end 0

# ---- report -------------------------------------------------------------------

CRASHES=$(grep -c 'exited on signal' "$W/logs/error.log")
MASTER_ALIVE=1
kill -0 "$MASTER" 2>/dev/null || MASTER_ALIVE=0

python3 - "$W" "$DURATION" "$HUPS" "$KILLS" "$CRASHES" "$MASTER_ALIVE" "$STRICT" <<'PY'
import json, re, sys, collections
w, duration, hups, kills, crashes, master_alive, strict = sys.argv[1:8]
run = w + "/run/"

# churn windows: [kill, up + 2 s]
windows, pending = [], {}
for line in open(run + "events"):
    f = line.split()
    if f[0] == "kill":
        pending[f[1]] = float(f[2])
    elif f[0] == "up" and f[1] in pending:
        windows.append((pending.pop(f[1]), float(f[2]) + 2.0))
for k, t in pending.items():
    windows.append((t, 1e18))

def in_churn(t0, t1):
    return any(t0 <= b and t1 >= a for a, b in windows)

bad = 0
print("\n==== soak report (%ss, %s HUPs, %s backend kills) ====" % (duration, hups, kills))
for name, desc in (("ka", "bench keep-alive GET /size/13 c=8"),
                   ("close", "bench --close GET /size/100000 c=4")):
    tot = collections.Counter(); churn = collections.Counter(); runs = nchurn = 0
    try:
        lines = open(run + name + ".log").read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        t0, t1, js = line.split(" ", 2)
        try:
            j = json.loads(js)
        except ValueError:
            tot["bench_no_report"] += 1
            continue
        runs += 1
        c = in_churn(float(t0), float(t1))
        nchurn += c
        tot["ok"] += j["ok"]
        for k, v in j["errors"].items():
            tot[k] += v
            if c:
                churn[k] += v
    errs = {k: v for k, v in tot.items() if k != "ok" and v}
    churn = collections.Counter({k: v for k, v in churn.items() if v})
    other = {k: v - churn[k] for k, v in errs.items() if v - churn[k]}
    print("%-38s ok=%d failed=%d %s" % (desc, tot["ok"], sum(errs.values()), errs or ""))
    print("%-38s   %d runs of 3 s, %d overlapping churn; failures in churn runs %s, outside %s"
          % ("", runs, nchurn, dict(churn) or 0, other or 0))
    bad += sum(other.values())

for name, desc in (("upload", "curl POST /upload 256 KiB"), ("get", "curl GET /size/100000")):
    ok = 0; churn = collections.Counter(); other = collections.Counter()
    try:
        lines = open(run + name + ".log").read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        f = line.split()
        if len(f) < 4:
            continue
        t0, t1, code, rc = f[:4]
        if code == "200" and rc == "0":
            ok += 1
            continue
        why = "http_%s" % code if rc == "0" else "curl_rc_%s(http %s)" % (rc, code)
        (churn if in_churn(float(t0), float(t1)) else other)[why] += 1
    print("%-38s ok=%d failed=%d; in churn %s, outside %s"
          % (desc, ok, sum(churn.values()) + sum(other.values()), dict(churn) or 0, dict(other) or 0))
    bad += sum(other.values())

samples = {}
for line in open(run + "samples"):
    f = line.split()
    d = dict(x.split("=", 1) for x in f[1:] if "=" in x)
    samples[f[0]] = {k: int(v) for k, v in d.items() if v.isdigit()}
print("\nsample   master_fd master_rss_kb workers workers_fd pooled fd_nopool workers_rss_kb")
for k in ("start", "middle", "end"):
    s = samples.get(k, {})
    print("%-8s %9s %13s %7s %10s %6s %9s %14s" % (k, s.get("master_fd"), s.get("master_rss_kb"),
          s.get("workers"), s.get("workers_fd"), s.get("workers_pooled"),
          s.get("workers_fd_nopool"), s.get("workers_rss_kb")))

fail = []
if int(crashes):
    fail.append("%s worker crash(es) in error.log" % crashes)
if master_alive != "1":
    fail.append("the master died")
s0, s1 = samples.get("start", {}), samples.get("end", {})
def grew(key, margin_abs, margin_rel=0.0):
    a, b = s0.get(key), s1.get(key)
    if a is None or b is None:
        fail.append("no %s sample" % key)
    elif b > a + max(margin_abs, a * margin_rel):
        fail.append("%s grew %d -> %d" % (key, a, b))
grew("master_fd", 2)
grew("workers_fd_nopool", 8)
grew("master_rss_kb", 4096, 0.25)
grew("workers_rss_kb", 8192, 0.25)
if s1.get("workers") != 2:
    fail.append("%s workers at the end" % s1.get("workers"))
if strict == "1" and bad:
    fail.append("%d request(s) failed outside churn windows" % bad)
print("\nrequests failed outside churn windows: %d" % bad)
print("worker crashes: %s" % crashes)
print("RESULT: " + ("FAIL: " + "; ".join(fail) if fail else "PASS"))
sys.exit(1 if fail else 0)
PY
RC=$?
echo
echo "error.log lines by level:"
sed -n 's/^[0-9\/]* [0-9:]* \[\([a-z]*\)\].*/\1/p' "$W/logs/error.log" | sort | uniq -c
echo "most frequent error/warn messages (upstream address and client stripped):"
grep -E '\[(error|warn|crit|alert|emerg)\]' "$W/logs/error.log" |
    sed -E 's/^[^]]*\] [0-9#]+: (\*[0-9]+ )?//; s/, client:.*//; s/127\.0\.0\.1:[0-9]+/ADDR/g' |
    sort | uniq -c | sort -rn | head -12
exit $RC

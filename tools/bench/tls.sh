#!/usr/bin/env bash
# tools/bench/tls.sh: TLS termination, zproxy against nginx, standalone.
#
#   tools/bench/tls.sh [--quick] [--reps N] [--duration S] [--key rsa|ec]
#                      [--clients N] [--csv FILE] [--keep]
#
# Scenarios, each proxy with one worker answering a 13-byte body itself
# (no upstream: the TLS layer is what is measured), same certificate,
# TLSv1.2+TLSv1.3, ssl_ciphers HIGH:!aNULL:!MD5, default groups,
# ssl_session_cache shared:SSL:1m, tickets on:
#   new      full handshakes/s: N parallel `openssl s_time -new -www /`
#            (a new connection and a full TLS 1.3 handshake per request)
#   resume   resumed handshakes/s: the same with -reuse (tickets)
#   ka       keep-alive requests/s over TLS: wrk -t1 -c64 https://...
#            (wrk is not used for "new": it resumes sessions by itself)
# Repetitions are interleaved (the first proxy alternates); the figures
# are medians. Prints a table with zproxy/nginx ratios; --csv writes
# "rep,proxy,scenario,metric,value" rows (the raw format of run.sh).
# Needs openssl, wrk, nginx, python3 (installs wrk/nginx with apt-get
# when run as root and they are missing).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

REPS=3
DUR=8
KEY=rsa
CLIENTS=2
CSV=
KEEP=0

usage() {
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
    --quick) DUR=3; REPS=1 ;;
    --reps) REPS=${2:?--reps needs a number}; shift ;;
    --duration) DUR=${2:?--duration needs seconds}; shift ;;
    --key) KEY=${2:?--key needs rsa or ec}; shift ;;
    --clients) CLIENTS=${2:?--clients needs a number}; shift ;;
    --csv) CSV=${2:?--csv needs a file}; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) usage 0 ;;
    *) echo "tls.sh: unknown option \"$1\"" >&2; usage 2 ;;
    esac
    shift
done
for v in "$REPS" "$DUR" "$CLIENTS"; do
    case "$v" in '' | *[!0-9]* | 0) echo "tls.sh: --reps, --duration and --clients take positive numbers" >&2; exit 2 ;; esac
done
case "$KEY" in rsa | ec) ;; *) echo "tls.sh: --key is rsa or ec" >&2; exit 2 ;; esac

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- packages
need=()
for p in nginx wrk openssl python3; do command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing: ${need[*]} (run as root, or install them)"
    log "installing ${need[*]}"
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # keep Debian from starting the nginx service it installs
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
    rc=$?
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ $rc = 0 ] || die "apt-get install failed"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ---------------------------------------------------------------- build
if [ ! -x "$ROOT/objs/zproxy" ]; then
    [ -f "$ROOT/objs/Makefile" ] || (cd "$ROOT" && ./configure >/dev/null) || die "./configure failed"
    make -C "$ROOT" -s >/dev/null || die "make failed"
fi
ZPROXY="$ROOT/objs/zproxy"

T=$(mktemp -d /tmp/zp-bench-tls.XXXXXX) || die "mktemp failed"
mkdir -p "$T/nginx-tmp" "$T/logs" "$T/out"

declare -A MASTER PORT
CLIENT_PIDS=()

cleanup() {
    local p
    trap - EXIT INT TERM
    # only what this script started, by pid
    for p in "${CLIENT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${!MASTER[@]}"; do stop_proxy "$p"; done
    if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
}

stop_proxy() { # name: TERM to the master, then KILL what is left of it and its workers
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
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- certificate
(
    cd "$T" || exit 1
    if [ "$KEY" = ec ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
            -out cert.pem -days 2 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test
    else
        openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
            -subj /CN=bench.test -addext subjectAltName=DNS:bench.test
    fi
) >/dev/null 2>&1 || die "cannot make the certificate"

# ---------------------------------------------------------------- proxies
write_conf() { # kind port
    case $1 in
    zproxy)
        cat >"$T/zproxy.conf" <<EOF
daemon off;
worker_processes 1;
pid $T/zproxy.pid;
error_log $T/logs/zproxy-error.log error;
worker_rlimit_nofile 20000;
events { worker_connections 10240; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers HIGH:!aNULL:!MD5;
    ssl_session_cache shared:SSL:1m;
    ssl_session_tickets on;
    server {
        listen 127.0.0.1:$2 ssl;
        server_name bench.test;
        ssl_certificate $T/cert.pem;
        ssl_certificate_key $T/key.pem;
        route / { return 200 "hello world!\n"; }
    }
}
EOF
        ;;
    nginx)
        cat >"$T/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/logs/nginx-error.log error;
worker_rlimit_nofile 20000;
events { worker_connections 10240; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    client_body_temp_path $T/nginx-tmp/body;
    proxy_temp_path $T/nginx-tmp/proxy;
    fastcgi_temp_path $T/nginx-tmp/fastcgi;
    uwsgi_temp_path $T/nginx-tmp/uwsgi;
    scgi_temp_path $T/nginx-tmp/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers HIGH:!aNULL:!MD5;
    ssl_session_cache shared:SSL:1m;
    ssl_session_tickets on;
    server {
        listen 127.0.0.1:$2 ssl;
        server_name bench.test;
        ssl_certificate $T/cert.pem;
        ssl_certificate_key $T/key.pem;
        default_type text/plain;
        location / { return 200 "hello world!\n"; }
    }
}
EOF
        ;;
    esac
}

start_proxy() { # kind
    local port i body
    port=$(free_port)
    write_conf "$1" "$port"
    case $1 in
    zproxy) "$ZPROXY" -p "$T" -c "$T/zproxy.conf" >"$T/logs/zproxy.out" 2>&1 & ;;
    nginx) "$NGINX" -p "$T" -c "$T/nginx.conf" >"$T/logs/nginx.out" 2>&1 & ;;
    esac
    MASTER[$1]=$!
    PORT[$1]=$port
    for i in $(seq 100); do
        body=$(curl -sk --max-time 1 "https://127.0.0.1:$port/" 2>/dev/null | wc -c)
        [ "$body" = 13 ] && break
        sleep 0.1
    done
    [ "$body" = 13 ] || { cat "$T/logs/"* >&2; die "$1 did not answer over TLS on 127.0.0.1:$port"; }
    log "$1: master ${MASTER[$1]}, port $port"
}

# ---------------------------------------------------------------- scenarios
RAW="$T/raw.csv"
: >"$RAW"
rec() { echo "$1,$2,$3,$4,$5" >>"$RAW"; }

run_s_time() { # rep kind scenario(new|resume)
    local rep=$1 kind=$2 sc=$3 opt i n=0 c
    [ "$sc" = new ] && opt=-new || opt=-reuse
    CLIENT_PIDS=()
    for i in $(seq "$CLIENTS"); do
        openssl s_time -connect "127.0.0.1:${PORT[$kind]}" $opt -time "$DUR" -www / \
            >"$T/out/$sc-$kind-$rep-$i.txt" 2>&1 &
        CLIENT_PIDS+=($!)
    done
    for i in "${CLIENT_PIDS[@]}"; do wait "$i"; done
    CLIENT_PIDS=()
    # "1234 connections in 8 real seconds, ...": the wall-clock count
    for i in $(seq "$CLIENTS"); do
        c=$(awk '/connections in .* real seconds/{print $1; exit}' "$T/out/$sc-$kind-$rep-$i.txt")
        [ -n "$c" ] || { log "warning: $kind $sc: no s_time result"; tail -3 "$T/out/$sc-$kind-$rep-$i.txt" >&2; return; }
        n=$((n + c))
    done
    rec "$rep" "$kind" "tls_$sc" hs_s "$(awk -v n="$n" -v d="$DUR" 'BEGIN{printf "%.1f", n / d}')"
    log "rep $rep $sc $kind: $n handshakes in ${DUR}s"
}

run_ka() { # rep kind
    local rep=$1 kind=$2 out rps errs
    out="$T/out/ka-$kind-$rep.txt"
    wrk -t1 -c64 -d"${DUR}s" "https://127.0.0.1:${PORT[$kind]}/" >"$out" 2>&1
    rps=$(awk '/^Requests\/sec/{print $2}' "$out")
    errs=$(awk '/Non-2xx/{e+=$NF} /Socket errors/{gsub(/,/,""); e+=$4+$6+$8+$10} END{print e+0}' "$out")
    [ -n "$rps" ] || { log "warning: $kind ka: no wrk result"; cat "$out" >&2; return; }
    rec "$rep" "$kind" tls_ka rps "$rps"
    rec "$rep" "$kind" tls_ka errors "$errs"
    [ "$errs" = 0 ] || log "warning: $kind ka: $errs errors"
    log "rep $rep ka $kind: $rps req/s"
}

start_proxy zproxy
start_proxy nginx

for rep in $(seq "$REPS"); do
    if [ $((rep % 2)) = 1 ]; then order="zproxy nginx"; else order="nginx zproxy"; fi
    for sc in new resume ka; do
        for kind in $order; do
            case $sc in
            ka) run_ka "$rep" "$kind" ;;
            *) run_s_time "$rep" "$kind" "$sc" ;;
            esac
        done
    done
done

[ -z "$CSV" ] || cp "$RAW" "$CSV"

# ---------------------------------------------------------------- table
python3 - "$RAW" "$REPS" "$DUR" "$KEY" "$CLIENTS" <<'EOF'
import csv, statistics, sys
raw, reps, dur, key, clients = sys.argv[1:]
vals = {}
for rep, proxy, sc, metric, value in csv.reader(open(raw)):
    if metric in ("hs_s", "rps") and value:
        vals.setdefault((sc, proxy), []).append(float(value))
names = {"tls_new": "full handshakes/s (s_time -new)",
         "tls_resume": "resumed handshakes/s (s_time -reuse)",
         "tls_ka": "keep-alive requests/s (wrk -c64)"}
print(f"\nTLS, 1 worker each, {key.upper()} certificate, {reps} rep(s) of {dur} s, "
      f"{clients} s_time client(s); medians\n")
print(f"| {'scenario':38} | {'zproxy':>10} | {'nginx':>10} | {'zproxy/nginx':>12} |")
print(f"|{'-' * 40}|{'-' * 12}|{'-' * 12}|{'-' * 14}|")
for sc in ("tls_new", "tls_resume", "tls_ka"):
    z = vals.get((sc, "zproxy"))
    n = vals.get((sc, "nginx"))
    zm = statistics.median(z) if z else None
    nm = statistics.median(n) if n else None
    ratio = f"{zm / nm:.2f}" if zm and nm else "-"
    fz = f"{zm:.0f}" if zm else "-"
    fn = f"{nm:.0f}" if nm else "-"
    print(f"| {names[sc]:38} | {fz:>10} | {fn:>10} | {ratio:>12} |")
EOF

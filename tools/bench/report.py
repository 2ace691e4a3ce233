#!/usr/bin/env python3
"""tools/bench/report.py: turns what tools/bench/run.sh measured into tables.

    report.py --tmp DIR --out PREFIX

DIR holds raw.csv (rep,proxy,scenario,metric,value), meta.txt (key=value)
and out/ (strace -c and perf stat files of the syscall runs). Writes
PREFIX.md (tables), PREFIX.csv (one row per figure) and PREFIX.chart.dat
(for chart.gp), and prints the main table. Every figure is the median over
the repetitions; ratios are zproxy (or HAProxy) over nginx, taken from the
medians of the same run.
"""
import argparse
import csv
import glob
import os
import re
import statistics
import sys
from collections import defaultdict

PROXIES = ["zproxy", "nginx", "haproxy"]

# (scenario, metric, label, unit, digits)
ROWS = [
    ("ka13", "rps", "13 B keep-alive", "req/s", 0),
    ("ka13", "p50_ms", "13 B keep-alive", "p50 ms", 2),
    ("ka13", "p99_ms", "13 B keep-alive", "p99 ms", 2),
    ("ka13", "cpu_us_req", "13 B keep-alive", "CPU us/req", 1),
    ("ka13", "sys_req", "13 B keep-alive", "syscalls/req", 2),
    ("ka100k", "rps", "100 KiB keep-alive", "req/s", 0),
    ("ka100k", "p50_ms", "100 KiB keep-alive", "p50 ms", 2),
    ("ka100k", "p99_ms", "100 KiB keep-alive", "p99 ms", 2),
    ("ka100k", "cpu_us_req", "100 KiB keep-alive", "CPU us/req", 1),
    ("ka100k", "sys_req", "100 KiB keep-alive", "syscalls/req", 2),
    ("close", "conn_s", "new connection/req", "conn/s", 0),
    ("close", "p50_ms", "new connection/req", "p50 ms", 2),
    ("close", "p99_ms", "new connection/req", "p99 ms", 2),
    ("close", "cpu_us_req", "new connection/req", "CPU us/req", 1),
    ("close", "sys_req", "new connection/req", "syscalls/req", 2),
    ("close", "conn_per_cpu_s", "new connection/req", "conn per proxy CPU-second", 0),
    ("close", "peer_cpu_us_req", "new connection/req", "load generator + backend CPU us/conn", 1),
    ("ka13", "segs_req", "TCP segments, all parties", "13 B keep-alive, per req", 2),
    ("close", "segs_req", "TCP segments, all parties", "new connection, per conn", 2),
    ("start", "rss_kb", "memory", "RSS master+worker at start, kB", 0),
    ("end", "rss_kb", "memory", "RSS master+worker after the run, kB", 0),
    ("idle", "kb_per_conn", "memory", "KB per idle keep-alive conn", 2),
    ("tls_new", "hs_s", "TLS, 13 B from the proxy", "full handshakes/s", 0),
    ("tls_resume", "hs_s", "TLS, 13 B from the proxy", "resumed handshakes/s", 0),
    ("tls_ka", "rps", "TLS, 13 B from the proxy", "keep-alive req/s", 0),
    ("idle36k", "held", "36,000 idle, 2 workers", "connections held", 0),
    ("idle36k", "kb_per_conn", "36,000 idle, 2 workers", "KB per idle conn", 2),
]


def fnum(v, d):
    if v is None:
        return "-"
    if d == 0:
        return f"{v:,.0f}"
    return f"{v:.{d}f}"


def xf(r):
    return "-" if r is None else f"{r:.2f}x"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def parse_strace(path):
    """strace -c output -> {syscall: (calls, errors)}"""
    res = {}
    if not os.path.exists(path):
        return res
    for line in open(path):
        parts = line.split()
        if len(parts) < 5 or not re.match(r"^[0-9.]+$", parts[0]):
            continue
        name = parts[-1]
        if name == "total":
            continue
        calls = int(parts[3])
        errors = int(parts[4]) if len(parts) == 6 else 0
        res[name] = (calls, errors)
    return res


def parse_perf(path):
    if not os.path.exists(path):
        return None
    for line in open(path):
        parts = line.strip().split(",")
        if len(parts) > 2 and "raw_syscalls:sys_enter" in parts[2]:
            try:
                return int(parts[0])
            except ValueError:
                return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    meta = {}
    for line in open(os.path.join(a.tmp, "meta.txt")):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            meta[k] = v

    vals = defaultdict(list)  # (proxy, scenario, metric) -> [values]
    with open(os.path.join(a.tmp, "raw.csv")) as f:
        for r in csv.DictReader(f):
            if r["value"] in ("", "null"):
                continue
            vals[(r["proxy"], r["scenario"], r["metric"])].append(float(r["value"]))

    med = {k: statistics.median(v) for k, v in vals.items()}

    # syscalls: perf's total when there is one (little overhead), else strace's
    breakdown = {}  # (proxy, label) -> {syscall: (calls/req, errors/req)}
    sys_src = {}
    for p in PROXIES + []:
        for label in ("ka13", "ka100k", "close"):
            npath = os.path.join(a.tmp, "out", f"strace-{p}-{label}.n")
            if not os.path.exists(npath):
                continue
            n = int(open(npath).read().strip())
            st = parse_strace(os.path.join(a.tmp, "out", f"strace-{p}-{label}.txt"))
            if st:
                breakdown[(p, label)] = {k: (c / n, e / n) for k, (c, e) in st.items()}
                med[(p, label, "sys_req_strace")] = sum(c for c, _ in st.values()) / n
            spath = os.path.join(a.tmp, "out", f"segs-{p}-{label}.n")
            if os.path.exists(spath) and open(spath).read().strip():
                med[(p, label, "segs_req")] = int(open(spath).read().strip()) / n
            pc = parse_perf(os.path.join(a.tmp, "out", f"perf-{p}-{label}.txt"))
            if pc is not None:
                med[(p, label, "sys_req")] = pc / n
                sys_src[(p, label)] = "perf"
            elif st:
                med[(p, label, "sys_req")] = med[(p, label, "sys_req_strace")]
                sys_src[(p, label)] = "strace"

    for p in PROXIES:
        c = med.get((p, "close", "cpu_us_req"))
        if c:
            med[(p, "close", "conn_per_cpu_s")] = 1e6 / c

    rows = list(ROWS)
    if any(k[2] == "sys_req_strace" for k in med) and any(v == "perf" for v in sys_src.values()):
        rows.insert(5, ("ka13", "sys_req_strace", "13 B keep-alive", "syscalls/req under strace", 2))
        rows.insert(11, ("ka100k", "sys_req_strace", "100 KiB keep-alive", "syscalls/req under strace", 2))
        rows.insert(17, ("close", "sys_req_strace", "new connection/req", "syscalls/req under strace", 2))

    table = []
    for sc, m, label, unit, d in rows:
        v = [med.get((p, sc, m)) for p in PROXIES]
        if all(x is None for x in v):
            continue
        table.append((sc, m, label, unit, d, v, ratio(v[0], v[1]), ratio(v[2], v[1])))

    hdr = "| scenario | figure | zproxy | nginx | HAProxy | zproxy/nginx | HAProxy/nginx |"
    sep = "|---|---|--:|--:|--:|--:|--:|"
    lines = [hdr, sep]
    for sc, m, label, unit, d, v, r0, r2 in table:
        lines.append(
            f"| {label} | {unit} | {fnum(v[0], d)} | {fnum(v[1], d)} | {fnum(v[2], d)} | "
            f"{xf(r0)} | {xf(r2)} |"
        )
    main_table = "\n".join(lines)

    # routes
    rt = []
    rs = meta.get("routes", "10,10000").split(",")
    names = [f"zproxy-r{x}" for x in rs]
    if any((names[0], "routes", "rps") in med for _ in [0]):
        rt.append(f"| figure | {rs[0]} routes | {rs[1]} routes | {rs[1]}/{rs[0]} |")
        rt.append("|---|--:|--:|--:|")
        for m, unit, d in (("rps", "req/s", 0), ("p50_ms", "p50 ms", 2), ("p99_ms", "p99 ms", 2),
                           ("cpu_us_req", "CPU us/req", 1), ("user_us_req", "user-space CPU us/req", 2)):
            x, y = med.get((names[0], "routes", m)), med.get((names[1], "routes", m))
            rt.append(f"| {unit} | {fnum(x, d)} | {fnum(y, d)} | {xf(ratio(y, x))} |")
    routes_table = "\n".join(rt)

    # targets of issue #4
    def g(p, sc, m):
        return med.get((p, sc, m))

    targets = []

    def tgt(name, value, ok):
        targets.append((name, value, None if ok is None else ("yes" if ok else "no")))

    z13, n13, h13 = g("zproxy", "ka13", "cpu_us_req"), g("nginx", "ka13", "cpu_us_req"), None
    r = ratio(z13, n13)
    tgt("13 B: CPU/request <= 0.9x nginx", xf(r), None if r is None else r <= 0.9)
    s = g("zproxy", "ka13", "sys_req")
    tgt("13 B: <= 4.2 syscalls/request", fnum(s, 2), None if s is None else s <= 4.2)
    zr, nr, hr = g("zproxy", "ka13", "rps"), g("nginx", "ka13", "rps"), g("haproxy", "ka13", "rps")
    tgt("13 B: req/s above nginx and HAProxy",
        f"{xf(ratio(zr, nr))} nginx, {xf(ratio(zr, hr))} HAProxy",
        None if None in (zr, nr, hr) else (zr > nr and zr > hr))
    zp, np_ = g("zproxy", "ka13", "p99_ms"), g("nginx", "ka13", "p99_ms")
    tgt("13 B: p99 <= nginx", f"{fnum(zp, 2)} vs {fnum(np_, 2)} ms", None if None in (zp, np_) else zp <= np_)
    r = ratio(g("zproxy", "ka100k", "cpu_us_req"), g("nginx", "ka100k", "cpu_us_req"))
    tgt("100 KiB: CPU <= 0.6x nginx", xf(r), None if r is None else r <= 0.6)
    r = ratio(g("zproxy", "ka100k", "rps"), g("nginx", "ka100k", "rps"))
    tgt("100 KiB: req/s >= 1.3x nginx", xf(r), None if r is None else r >= 1.3)
    r = ratio(g("zproxy", "close", "conn_s"), g("nginx", "close", "conn_s"))
    tgt("new connections >= 1.2x nginx's rate", xf(r), None if r is None else r >= 1.2)

    # what the machine allows: the load generator and the backend share the
    # 2 CPUs with the proxy. With all of them busy, the rate goes as one
    # over the CPU all parties spend per connection, so 1.2x nginx's rate
    # needs zproxy's own CPU per connection below this
    ceiling = []
    zc, zpeer = g("zproxy", "close", "cpu_us_req"), g("zproxy", "close", "peer_cpu_us_req")
    nc, npeer = g("nginx", "close", "cpu_us_req"), g("nginx", "close", "peer_cpu_us_req")
    dr, nr_ = g("direct", "close", "conn_s"), g("nginx", "close", "conn_s")
    if None not in (zc, zpeer, nc, npeer):
        need = (nc + npeer) / 1.2 - zpeer
        ceiling.append(
            f"- CPU per new connection, all parties: zproxy {zc:.1f} + load generator and backend "
            f"{zpeer:.1f} = {zc + zpeer:.1f} us; nginx {nc:.1f} + {npeer:.1f} = {nc + npeer:.1f} us "
            f"({(nc + npeer) / (zc + zpeer):.2f}x). For 1.2x nginx's rate on a CPU-bound machine "
            f"zproxy would have to spend at most {need:.1f} us per connection "
            f"({need / nc:.2f}x nginx's {nc:.1f}); it spends {zc:.1f} ({zc / nc:.2f}x).")
    if None not in (dr, nr_):
        ceiling.append(
            f"- The load generator straight at the backend, no proxy at all: {dr:,.0f} conn/s, "
            f"{dr / nr_:.2f}x nginx's proxied rate (a proxy costing nothing would stay under it).")
    fr, fc, zr_ = g("null", "close", "conn_s"), g("null", "close", "cpu_us_req"), g("zproxy", "close", "conn_s")
    if None not in (fr, nr_, zr_):
        ceiling.append(
            f"- The null proxy (tools/bench/nullproxy.c: the same socket calls as a proxy, no "
            f"parsing, routing, headers, timers or logs; {fnum(fc, 1)} us CPU per connection): "
            f"{fr:,.0f} conn/s, {fr / nr_:.2f}x nginx's rate, the most a proxy could reach on "
            f"this machine. zproxy reaches {zr_ / fr:.0%} of it.")
    ceiling_md = "\n".join(ceiling)
    v = g("zproxy", "start", "rss_kb")
    tgt("master + idle worker <= 12 MB RSS", "-" if v is None else f"{v / 1024:.1f} MB",
        None if v is None else v <= 12 * 1024)
    v = g("zproxy", "idle", "kb_per_conn")
    tgt("<= 0.5 KB per idle keep-alive connection", fnum(v, 2) + " KB", None if v is None else v <= 0.5)
    h, v = g("zproxy", "idle36k", "held"), g("zproxy", "idle36k", "kb_per_conn")
    tgt("36,000 idle connections on 2 workers, <= 0.5 KB each",
        "-" if h is None else f"{h:,.0f} held, {fnum(v, 2)} KB",
        None if None in (h, v) else (h >= 36000 and v <= 0.5))
    # the route table is user-space work: the kernel's share is the same
    # calls in both, and its noise is shown apart
    r = ratio(g(names[1], "routes", "cpu_us_req"), g(names[0], "routes", "cpu_us_req"))
    u = ratio(g(names[1], "routes", "user_us_req"), g(names[0], "routes", "user_us_req"))
    tgt(f"{rs[1]} routes: <= 10% more CPU than {rs[0]}",
        "-" if r is None else f"{(r - 1) * 100:+.1f}% (user space {'-' if u is None else f'{(u - 1) * 100:+.1f}%'})",
        None if r is None else r <= 1.10)
    tl = ["| target (issue #4) | measured | met |", "|---|---|---|"]
    for name, value, ok in targets:
        tl.append(f"| {name} | {value} | {ok or '-'} |")
    targets_table = "\n".join(tl)

    # syscall breakdown
    bl = []
    for label, title in (("ka13", "13 B keep-alive"), ("ka100k", "100 KiB keep-alive"),
                         ("close", "new connection per request")):
        names_ = sorted({s for p in PROXIES for s in breakdown.get((p, label), {})},
                        key=lambda s: -max(breakdown.get((p, label), {}).get(s, (0, 0))[0] for p in PROXIES))
        if not names_:
            continue
        bl.append(f"\n{title} (calls per request, errors per request in brackets; strace -c -f on the worker):\n")
        bl.append("| syscall | zproxy | nginx | HAProxy |")
        bl.append("|---|--:|--:|--:|")
        for s in names_:
            cells = []
            for p in PROXIES:
                c, e = breakdown.get((p, label), {}).get(s, (0, 0))
                cells.append("-" if c == 0 else (f"{c:.3f}" + (f" ({e:.3f})" if e else "")))
            bl.append(f"| {s} | " + " | ".join(cells) + " |")
        tot = [sum(c for c, _ in breakdown.get((p, label), {}).values()) for p in PROXIES]
        bl.append("| **total** | " + " | ".join(f"**{t:.3f}**" for t in tot) + " |")
    breakdown_md = "\n".join(bl)

    spread = []
    for sc, m, label, unit, d, v, r0, r2 in table:
        for p in PROXIES:
            xs = vals.get((p, sc, m))
            if xs and len(xs) > 1 and statistics.median(xs):
                spread.append((max(xs) - min(xs)) / statistics.median(xs))
    spread_s = f"{max(spread) * 100:.0f}%" if spread else "-"

    head = (
        f"# zproxy vs nginx vs HAProxy, {meta.get('date', '')}\n\n"
        f"{meta.get('cpus')} CPUs ({meta.get('cpu_model')}), kernel {meta.get('kernel')}, "
        f"load average {meta.get('load_start')} at start, {meta.get('load_end')} at end. "
        f"zproxy {meta.get('zproxy')}, nginx {meta.get('nginx')}, HAProxy {meta.get('haproxy')}, "
        f"wrk {meta.get('wrk')}. {meta.get('reps')} rep(s) of {meta.get('duration_s')} s per run, "
        f"interleaved (new connections: {meta.get('close_rounds', '1')} rounds of "
        f"{meta.get('close_duration_s', meta.get('duration_s'))} s per rep, rotating); medians. Largest (max-min)/median over reps of any cell: {spread_s}. "
        f"Syscalls: {meta.get('syscall_counter')} over {meta.get('sc_requests')} requests "
        f"(13 B, 100 KiB, new connections). Idle memory: a fresh instance of each proxy per rep. Run took {meta.get('elapsed_s')} s.\n"
    )
    md = (head + "\n" + main_table + "\n")
    if routes_table:
        md += f"\nRoute table (zproxy only, 13 B keep-alive, /api/v1/target/42/items):\n\n{routes_table}\n"
    md += "\n" + targets_table + "\n"
    if ceiling_md:
        md += "\nNew connections, what the machine allows:\n\n" + ceiling_md + "\n"
    if breakdown_md:
        md += "\n## Syscalls per request\n" + breakdown_md + "\n"
    open(a.out + ".md", "w").write(md)

    with open(a.out + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "figure", "zproxy", "nginx", "haproxy", "zproxy_vs_nginx", "haproxy_vs_nginx",
                    "reps"])
        for sc, m, label, unit, d, v, r0, r2 in table:
            n = max(len(vals.get((p, sc, m), [])) for p in PROXIES) or 1
            w.writerow([sc, m] + ["" if x is None else round(x, 4) for x in v] +
                       ["" if r0 is None else round(r0, 4), "" if r2 is None else round(r2, 4), n])
        for m in ("rps", "p50_ms", "p99_ms", "cpu_us_req", "user_us_req"):
            x, y = med.get((names[0], "routes", m)), med.get((names[1], "routes", m))
            if x is not None or y is not None:
                w.writerow([f"routes{rs[0]}_vs_{rs[1]}", m, "" if x is None else round(x, 4),
                            "" if y is None else round(y, 4), "", "" if ratio(y, x) is None else round(ratio(y, x), 4),
                            "", len(vals.get((names[0], "routes", m), []))])

    # chart data: index 0 req/s (conn/s for close), index 1 CPU us/req
    scen = [("ka13", "rps", '"13 B keep-alive"'), ("ka100k", "rps", '"100 KiB keep-alive"'),
            ("close", "conn_s", '"new conn./request"')]
    if all(med.get((p, sc, m)) is None for p in PROXIES for sc, m, _ in scen):
        print(md)
        return 0  # no throughput scenario ran: no chart
    with open(a.out + ".chart.dat", "w") as f:
        for key in ("rate", "cpu"):
            f.write("scenario zproxy nginx HAProxy\n")
            for sc, rm, title in scen:
                m = rm if key == "rate" else "cpu_us_req"
                v = [med.get((p, sc, m)) for p in PROXIES]
                if all(x is None for x in v):
                    continue
                f.write(title + " " + " ".join("NaN" if x is None else f"{x:.2f}" for x in v) + "\n")
            f.write("\n\n")

    print(md)


if __name__ == "__main__":
    sys.exit(main())

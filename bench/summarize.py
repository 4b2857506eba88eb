#!/usr/bin/python3
"""Parsing and statistics for bench/run.sh.

Problem: run.sh produces one sysbench report and two CPU counters per run;
turning dozens of those into medians, ratios and a gate verdict is easier
in Python than in bash.

Usage:
  summarize.py parse SYSBENCH_OUTPUT_FILE
      prints "queries qps p95_ms" (or exits 1 if the report is incomplete)
  summarize.py summary RAW_CSV MARKDOWN_OUT [--gate-threads N]
      [--min-qps-ratio R] [--max-cpu-ratio C] [--meta KEY=VALUE ...]
      prints the summary table and the gate check, writes Markdown.
"""

import csv
import re
import statistics
import sys

TARGETS = ("direct", "haproxy", "sqlyard")
# haproxy round-robin over the replicas, for the tests that only read.
SPLIT = "haproxy_split"
ALL_TARGETS = TARGETS + (SPLIT,)

CSV_FIELDS = [
    "test",
    "threads",
    "round",
    "target",
    "status",
    "queries",
    "qps",
    "p95_ms",
    "seconds",
    "sqlyard_cpu_us",
    "haproxy_cpu_us",
    "primary_questions",
    "replica_questions",
    "primary_selects",
    "replica_selects",
]


def parse_sysbench(text):
    """Returns (queries, qps, p95_ms) from a sysbench 1.0 report, or None."""
    q = re.search(r"^\s*queries:\s+(\d+)\s+\(([\d.]+) per sec\.\)", text, re.M)
    p = re.search(r"^\s*95th percentile:\s+([\d.]+)", text, re.M)
    if not q or not p:
        return None
    return int(q.group(1)), float(q.group(2)), float(p.group(1))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:.{digits}f}"


def load(path):
    """Groups successful runs: {(test, threads): {target: [row, ...]}}."""
    groups = {}
    order = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["test"], int(row["threads"]))
            if key not in groups:
                groups[key] = {t: [] for t in ALL_TARGETS}
                order.append(key)
            if row["status"] != "ok":
                continue
            groups[key][row["target"]].append(row)
    return order, groups


def cpu_per_query(row, process):
    """CPU µs per query of `process` (sqlyard|haproxy) in one run."""
    q = int(row["queries"])
    if q <= 0:
        return None
    return int(row[f"{process}_cpu_us"]) / q


def primary_share(row):
    """Share of the statements that reached the primary during a sqlyard run."""
    try:
        p, r = int(row["primary_questions"]), int(row["replica_questions"])
    except (KeyError, TypeError, ValueError):
        return None
    return p / (p + r) if p + r > 0 else None


def replica_select_share(row):
    """Share of the sysbench user's SELECTs (USER_STATISTICS Select_commands,
    counted by the servers) that replicas ran during one run."""
    try:
        p, r = int(row.get("primary_selects") or ""), int(row.get("replica_selects") or "")
    except ValueError:
        return None
    return r / (p + r) if p + r > 0 else None


def summarize(order, groups):
    lines = []
    for key in order:
        g = groups[key]
        qps = {t: median(float(r["qps"]) for r in g[t]) for t in ALL_TARGETS}
        p95 = {t: median(float(r["p95_ms"]) for r in g[t]) for t in TARGETS}
        n = {t: len(g[t]) for t in TARGETS}
        cpu_sy = median(cpu_per_query(r, "sqlyard") for r in g["sqlyard"])
        cpu_hp = median(cpu_per_query(r, "haproxy") for r in g["haproxy"])
        lines.append(
            {
                "test": key[0],
                "threads": key[1],
                "n": n,
                "qps": qps,
                "p95": p95,
                "sy_hp": ratio(qps["sqlyard"], qps["haproxy"]),
                "sy_di": ratio(qps["sqlyard"], qps["direct"]),
                "hp_di": ratio(qps["haproxy"], qps["direct"]),
                "split_hp": ratio(qps[SPLIT], qps["haproxy"]),
                "sy_split": ratio(qps["sqlyard"], qps[SPLIT]),
                "cpu_sy": cpu_sy,
                "cpu_hp": cpu_hp,
                "cpu_ratio": ratio(cpu_sy, cpu_hp),
                "sy_primary": median(primary_share(r) for r in g["sqlyard"]),
                "sy_sel_replicas": median(replica_select_share(r) for r in g["sqlyard"]),
            }
        )
    return lines


HEADER = [
    "test",
    "thr",
    "runs d/h/s",
    "qps direct",
    "qps haproxy",
    "qps sqlyard",
    "p95 ms d/h/s",
    "sy/hap",
    "sy/dir",
    "hap/dir",
    "qps hap→replicas",
    "hap→replicas/hap",
    "sy/hap→replicas",
    "cpu µs/q sy",
    "cpu µs/q hap",
    "cpu sy/hap",
    "sy on primary",
    "sy SELECTs on replicas",
]


def cells(s):
    return [
        s["test"],
        str(s["threads"]),
        "/".join(str(s["n"][t]) for t in TARGETS),
        fmt(s["qps"]["direct"]),
        fmt(s["qps"]["haproxy"]),
        fmt(s["qps"]["sqlyard"]),
        "/".join(fmt(s["p95"][t], 2) for t in TARGETS),
        fmt(s["sy_hp"], 3),
        fmt(s["sy_di"], 3),
        fmt(s["hp_di"], 3),
        fmt(s["qps"][SPLIT]),
        fmt(s["split_hp"], 3),
        fmt(s["sy_split"], 3),
        fmt(s["cpu_sy"], 1),
        fmt(s["cpu_hp"], 1),
        fmt(s["cpu_ratio"], 2),
        "-" if s["sy_primary"] is None else f"{s['sy_primary']:.0%}",
        "-" if s["sy_sel_replicas"] is None else f"{s['sy_sel_replicas']:.0%}",
    ]


def text_table(rows):
    widths = [max(len(r[i]) for r in [HEADER] + rows) for i in range(len(HEADER))]
    out = []
    for k, r in enumerate([HEADER] + rows):
        out.append("  ".join(c.rjust(w) if i > 0 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def md_table(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] + ["---:"] * (len(HEADER) - 1)) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def gate(summary, threads, min_qps_ratio, max_cpu_ratio, min_qps_other):
    """Returns (lines, all_pass): at `threads` sqlyard needs `min_qps_ratio`
    of haproxy's qps, at other thread counts `min_qps_other`; everywhere at
    most `max_cpu_ratio` times haproxy's CPU per query."""
    lines = []
    all_pass = True
    if not any(s["threads"] == threads for s in summary):
        return [f"gate: no runs at {threads} threads; not checked"], False
    for s in summary:
        need = min_qps_ratio if s["threads"] == threads else min_qps_other
        q, c = s["sy_hp"], s["cpu_ratio"]
        q_ok = q is not None and q >= need
        c_ok = c is not None and c <= max_cpu_ratio
        ok = q_ok and c_ok
        all_pass &= ok
        lines.append(
            f"{'PASS' if ok else 'FAIL'}  {s['test']} @ {s['threads']} threads: "
            f"qps sqlyard/haproxy = {fmt(q, 3)} (need >= {need:.2f}) {'ok' if q_ok else 'FAIL'}; "
            f"cpu/query sqlyard/haproxy = {fmt(c, 2)} (need <= {max_cpu_ratio:.2f}) {'ok' if c_ok else 'FAIL'}"
        )
    return lines, all_pass


def cmd_summary(argv):
    raw, md_out = argv[0], argv[1]
    gate_threads, min_qps, max_cpu, min_qps_other = 16, 0.95, 1.2, 0.90
    meta = []
    i = 2
    while i < len(argv):
        a = argv[i]
        if a == "--gate-threads":
            gate_threads = int(argv[i + 1])
            i += 2
        elif a == "--min-qps-ratio":
            min_qps = float(argv[i + 1])
            i += 2
        elif a == "--max-cpu-ratio":
            max_cpu = float(argv[i + 1])
            i += 2
        elif a == "--meta":
            meta.append(argv[i + 1])
            i += 2
        else:
            sys.exit(f"unknown argument {a}")
    order, groups = load(raw)
    summary = summarize(order, groups)
    rows = [cells(s) for s in summary]
    gate_lines, all_pass = gate(summary, gate_threads, min_qps, max_cpu, min_qps_other)

    print()
    print("Summary (medians over rounds; ratios are ratios of medians)")
    print(text_table(rows))
    print()
    print(
        f"Gate: sqlyard >= {min_qps:.0%} of haproxy qps at {gate_threads} threads and >= {min_qps_other:.0%} "
        f"at the others, cpu/query <= {max_cpu}x haproxy everywhere"
    )
    for line in gate_lines:
        print(line)
    print(f"GATE: {'PASS' if all_pass else 'FAIL'}")

    with open(md_out, "w") as f:
        f.write("# sqlyard benchmark: latest run\n\n")
        for m in meta:
            k, _, v = m.partition("=")
            f.write(f"- {k}: {v}\n")
        f.write(f"- raw runs: `{raw.split('/')[-1]}`\n\n")
        f.write("Medians over rounds; ratios are ratios of medians. p95 in ms (direct/haproxy/sqlyard). ")
        f.write("CPU µs/q: utime+stime of the proxy process during a run divided by the queries of that run. ")
        f.write("hap→replicas: haproxy balancing connections round-robin over the replicas (tests that only read): ")
        f.write("what spreading reads over the replicas costs or gains on this machine without any statement routing. ")
        f.write("sy on primary: share of the statements (server Questions counters) that reached the primary in the sqlyard runs. ")
        f.write("sy SELECTs on replicas: share of the sysbench user's SELECTs that the replicas ran in the sqlyard runs ")
        f.write("(`information_schema.USER_STATISTICS` Select_commands of user app on each server; the monitor runs as another user).\n\n")
        f.write(md_table(rows))
        f.write("\n\n## Gate\n\n")
        f.write(
            f"sqlyard >= {min_qps:.0%} of haproxy median qps at {gate_threads} threads and >= "
            f"{min_qps_other:.0%} at the other thread counts; sqlyard CPU/query <= {max_cpu}x haproxy everywhere.\n\n"
        )
        for line in gate_lines:
            f.write(f"- {line}\n")
        f.write(f"\n**GATE: {'PASS' if all_pass else 'FAIL'}**\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "parse":
        with open(sys.argv[2], errors="replace") as f:
            r = parse_sysbench(f.read())
        if r is None:
            sys.exit(1)
        print(f"{r[0]} {r[1]} {r[2]}")
    elif cmd == "summary":
        cmd_summary(sys.argv[2:])
    elif cmd == "header":
        print(",".join(CSV_FIELDS))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

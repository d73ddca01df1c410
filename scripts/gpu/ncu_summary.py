#!/usr/bin/env python3
"""ncu_summary.py RAW.csv: the few numbers of an Nsight Compute profile that
say where a kernel's time goes, from `ncu --import REP --page raw --csv`
(run.sh's profile phase keeps that file beside the details page).

Prints, per profiled launch: the duration, the tensor pipes' and the
memory system's busy fractions, DRAM bytes read and written, the L2 hit
rate, and the warp stall reasons by their share of the stalls (the
smsp__average_warps_issue_stalled_<reason>_per_issue_active ratios, or
failing those the smsp__pcsamp_warps_issue_stalled_<reason> samples).

The raw page is wide: a header row of metric names, a row of units, then a
row per launch. A long layout (rows of "Metric Name", "Metric Unit",
"Metric Value") is read too. Metrics this version of ncu does not report
are left out; nothing here fails on a missing one.
"""
import csv
import re
import sys

KEY = [
    ("duration", "gpu__time_duration.sum"),
    ("SM busy %", "sm__throughput.avg.pct_of_peak_sustained_elapsed"),
    ("tensor (wgmma) busy %", "sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_elapsed"),
    ("tensor (mma.sync) busy %", "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_elapsed"),
    ("memory busy %", "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed"),
    ("DRAM busy %", "dram__throughput.avg.pct_of_peak_sustained_elapsed"),
    ("DRAM read", "dram__bytes_read.sum"),
    ("DRAM write", "dram__bytes_write.sum"),
    ("L2 hit %", "lts__t_sector_hit_rate.pct"),
    ("shared-memory pipe busy %", "sm__memory_throughput.avg.pct_of_peak_sustained_elapsed"),
    ("issue slots busy %", "sm__inst_issued.avg.pct_of_peak_sustained_active"),
]

STALL = re.compile(r"^smsp__(average_warps_issue_stalled_(\w+?)_per_issue_active\.ratio|pcsamp_warps_issue_stalled_(\w+))$")


def launches(path):
    """Yields (name, {metric: (value, unit)}) per profiled launch."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    if not rows:
        return
    head = rows[0]
    if "Metric Name" in head:  # long: one row per metric
        ni, ui, vi = head.index("Metric Name"), head.index("Metric Unit"), head.index("Metric Value")
        ki = head.index("ID") if "ID" in head else None
        by = {}
        for r in rows[1:]:
            if len(r) <= max(ni, ui, vi):
                continue
            k = r[ki] if ki is not None else "0"
            by.setdefault(k, {})[r[ni]] = (r[vi], r[ui])
        for k, m in by.items():
            yield f"launch {k}", m
        return
    units = rows[1] if len(rows) > 1 else [""] * len(head)
    name_col = head.index("Kernel Name") if "Kernel Name" in head else None
    for r in rows[2:]:
        m = {h: (r[i], units[i] if i < len(units) else "") for i, h in enumerate(head) if i < len(r)}
        yield (r[name_col] if name_col is not None else "launch"), m


def number(s):
    try:
        return float(s.replace(",", ""))
    except ValueError:
        return None


def summarise(path):
    out = []
    for name, m in launches(path):
        out.append(f"  {name[:90]}")
        for label, metric in KEY:
            if metric in m:
                v, u = m[metric]
                out.append(f"    {label:<28} {v} {u}".rstrip())
        stalls = {}
        for metric, (v, _) in m.items():
            s = STALL.match(metric)
            x = number(v)
            if not s or x is None or x <= 0:
                continue
            reason = s.group(2) or s.group(3)
            # Prefer the per-issue ratios; the samples only where no ratio came.
            kind = "ratio" if s.group(2) else "samples"
            stalls.setdefault(kind, {})[reason] = x
        table = stalls.get("ratio") or stalls.get("samples") or {}
        table = {k: v for k, v in table.items() if not k.endswith("_not_issued") and k not in ("selected",)}
        total = sum(table.values())
        if total > 0:
            top = sorted(table.items(), key=lambda kv: -kv[1])[:6]
            out.append("    stalls: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in top))
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: ncu_summary.py RAW.csv")
    print(summarise(sys.argv[1]))

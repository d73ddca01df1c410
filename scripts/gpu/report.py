#!/usr/bin/env python3
"""report.py OUTDIR: the short table run.sh prints last, from the logs in
OUTDIR (tests_*.log, bench.log, torch.log)."""
import glob
import os
import re
import sys


def results(path):
    r = {}
    if not os.path.exists(path):
        return r
    for line in open(path, errors="replace"):
        m = re.match(r"RESULT (\S+) (\S+) (\S+)", line)
        if m:
            r[m.group(1)] = (float(m.group(2)), m.group(3))
    return r


def main():
    out = sys.argv[1]
    lines = []
    dev = ""
    for f in ("bench.log", "torch.log"):
        p = os.path.join(out, f)
        if os.path.exists(p):
            for line in open(p, errors="replace"):
                if line.startswith("device:"):
                    dev = dev or line.strip()
    lines.append(dev or "device: unknown")
    lines.append("")
    lines.append(f"{'tests':<34} {'pass':>5} {'fail':>5} {'skip':>5}  status")
    for p in sorted(glob.glob(os.path.join(out, "test_*.log"))):
        txt = open(p, errors="replace").read()
        np_ = len(re.findall(r"^\s*--- PASS", txt, re.M))
        nf = len(re.findall(r"^\s*--- FAIL", txt, re.M))
        ns = len(re.findall(r"^\s*--- SKIP", txt, re.M))
        status = "ok" if re.search(r"^PASS$", txt, re.M) and nf == 0 else "FAILED"
        if "panic:" in txt:
            status += " (panic)"
        if "test timed out" in txt:
            status += " (timeout)"
        name = os.path.basename(p)[5:-4]
        lines.append(f"{name:<34} {np_:>5} {nf:>5} {ns:>5}  {status}")
        failed = re.findall(r"^--- FAIL: (\S+)", txt, re.M)
        if failed:
            lines.append("    failed: " + ", ".join(failed))
    sp = os.path.join(out, "sanitizer.log")
    if os.path.exists(sp):
        m = re.findall(r"ERROR SUMMARY: (\d+) error", open(sp, errors="replace").read())
        lines.append(f"compute-sanitizer memcheck: " + (f"{m[-1]} errors" if m else "no summary (skipped or cut short)"))
    ours, theirs = results(os.path.join(out, "bench.log")), results(os.path.join(out, "torch.log"))
    lines.append("")
    lines.append(f"{'benchmark':<34} {'mocogo':>10} {'torch':>10} {'ratio':>7}  unit")
    keys = list(ours) + [k for k in theirs if k not in ours and not re.search(r"_(flash|efficient|cudnn)$", k)]
    for k in keys:
        o, t = ours.get(k), theirs.get(k)
        # A variant (key_<variant>) is set beside the baseline of its shape.
        base = k
        while t is None and "_" in base:
            base = base.rsplit("_", 1)[0]
            t = theirs.get(base)
        unit = (o or t)[1]
        os_ = f"{o[0]:.1f}" if o else "-"
        ts = f"{t[0]:.1f}" if t else "-"
        ratio = f"{o[0] / t[0]:.2f}" if o and t and t[0] > 0 else "-"
        lines.append(f"{k:<34} {os_:>10} {ts:>10} {ratio:>7}  {unit}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""report.py OUTDIR: the short table run.sh prints last, from the logs in
OUTDIR (tests_*.log, the sanitizer logs, bench.log, torch.log, and the
Nsight Compute digests of profile.log)."""
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
    # One line per sanitizer run (run.sh: memcheck and racecheck, each on
    # the GEMM cases and on the attention and LayerNorm cases, and memcheck
    # on the ping-pong kernels), with the
    # count of tests that passed under it.
    for log, tool, pat, what in (
        ("sanitizer.log", "memcheck", r"ERROR SUMMARY: (\d+) error", "errors"),
        ("sanitizer_attn.log", "memcheck", r"ERROR SUMMARY: (\d+) error", "errors"),
        ("sanitizer_pp.log", "memcheck", r"ERROR SUMMARY: (\d+) error", "errors"),
        ("sanitizer_deep.log", "memcheck", r"ERROR SUMMARY: (\d+) error", "errors"),
        ("racecheck.log", "racecheck", r"RACECHECK SUMMARY: (\d+) hazard", "hazards"),
        ("racecheck_attn.log", "racecheck", r"RACECHECK SUMMARY: (\d+) hazard", "hazards"),
    ):
        sp = os.path.join(out, log)
        if not os.path.exists(sp):
            continue
        txt = open(sp, errors="replace").read()
        m = re.findall(pat, txt) or re.findall(r"ERROR SUMMARY: (\d+) error", txt)
        passed = len(re.findall(r"^\s*--- PASS", txt, re.M))
        failed = len(re.findall(r"^\s*--- FAIL", txt, re.M))
        lines.append(f"compute-sanitizer {tool} ({log}): " + (f"{m[-1]} {what}" if m else "no summary (skipped or cut short)")
                     + f", {passed} (sub)tests passed, {failed} failed")
    ours, theirs = results(os.path.join(out, "bench.log")), results(os.path.join(out, "torch.log"))
    lines.append("")
    lines.append(f"{'benchmark':<34} {'mocogo':>10} {'torch':>10} {'ratio':>7}  unit")
    keys = list(ours) + [k for k in theirs if k not in ours and not re.search(r"_(flash|efficient|cudnn)$", k)]
    for k in keys:
        o, t = ours.get(k), theirs.get(k)
        # A variant (key_<variant>) is set beside the baseline of its shape.
        base = k
        if t is None and k.startswith("train_"):
            # A training-step variant names its kernels before the measure
            # (train_<model>_gemmtmas_attnhead_img_per_s): torch's key has
            # neither.
            t = theirs.get(re.sub(r"_(gemm[a-z0-9]+|attn[a-z0-9]+|staged|direct|stagger|prefetch|deepstore|residual|gelugrad|streamk)(?=_)", "", k))
        while t is None and "_" in base:
            base = base.rsplit("_", 1)[0]
            t = theirs.get(base)
        unit = (o or t)[1]
        os_ = f"{o[0]:.1f}" if o else "-"
        ts = f"{t[0]:.1f}" if t else "-"
        ratio = f"{o[0] / t[0]:.2f}" if o and t and t[0] > 0 else "-"
        lines.append(f"{k:<34} {os_:>10} {ts:>10} {ratio:>7}  {unit}")
    lines += best_variants(ours)
    # The Nsight Compute digests (run.sh's profile phase), where it ran.
    prof = os.path.join(out, "profile.log")
    if os.path.exists(prof) and os.path.getsize(prof) > 0:
        lines += ["", "Nsight Compute (profile.log)"]
        lines += [l.rstrip("\n") for l in open(prof, errors="replace")]
    print("\n".join(lines))


# Suffixes of our kernel variants: a key <shape>_<variant> is timed on the
# same shape as <shape> (the default choice), in the same process.
VARIANTS = ("mma", "mmaw", "mma4", "mmatma", "wgmma128", "wgmma256", "tma", "tmap", "tmas", "tmac", "tmapp", "tmapp192",
            "staged", "direct", "splitk", "streamk", "stagger", "prefetch", "deepstore", "narrow", "residual", "gelugrad", "head", "headalt", "tiled", "full", "nosplit")


def best_variants(ours):
    """For each shape timed under more than one kernel, the fastest and its
    ratio to the default (higher is better for TFLOP/s and GB/s): where a
    variant beats the default by more than 3% in this run, it is a
    candidate for the default once its tests have passed."""
    groups = {}
    for k, (v, unit) in ours.items():
        if unit not in ("TFLOP/s", "GB/s", "img/s"):
            continue
        suffix, measure = "", ""
        if k.endswith("_img_per_s"):
            k, measure = k[: -len("_img_per_s")], "_img_per_s"
        parts = k.split("_")
        # Peel variant suffixes (e.g. _mma_staged) off the end.
        # (train keys: _gemm<kind>, _attn<kind> from MOCOGO_GEMM_KERNEL
        # and MOCOGO_ATTN_KERNEL.)
        while len(parts) > 1 and (parts[-1] in VARIANTS or re.fullmatch(r"(gemm|attn)[a-z0-9]+", parts[-1])):
            suffix = "_" + parts.pop() + suffix
        base = "_".join(parts) + measure
        groups.setdefault(base, {})[suffix] = v
    out = []
    for base, vs in groups.items():
        if len(vs) < 2 or "" not in vs or vs[""] <= 0:
            continue
        best = max(vs, key=vs.get)
        gain = vs[best] / vs[""]
        mark = "  <- candidate" if best and gain > 1.03 else ""
        out.append(f"{base:<34} default {vs['']:>8.1f}  best {best or '(default)':<16} {vs[best]:>8.1f}  x{gain:.2f}{mark}")
    if out:
        out = ["", "fastest kernel per shape (ours; candidates beat the default by > 3%)"] + out
    return out


if __name__ == "__main__":
    main()

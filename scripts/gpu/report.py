#!/usr/bin/env python3
"""report.py OUTDIR: the short table run.sh prints last, from the logs in
OUTDIR (tests_*.log, the sanitizer logs, bench.log, torch.log, and the
Nsight Compute digests of profile.log)."""
import csv
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
    un = os.path.join(out, "uname.txt")
    if os.path.exists(un):
        lines.append(open(un, errors="replace").read().strip())
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
            t = theirs.get(re.sub(r"_(gemm[a-z0-9]+|attn[a-z0-9]+|staged|direct|stagger|prefetch|deepstore|residual|gelugrad|streamk|wideboxes|early|look4|look8|look16)(?=_)", "", k))
        while t is None and "_" in base:
            base = base.rsplit("_", 1)[0]
            t = theirs.get(base)
        unit = (o or t)[1]
        os_ = f"{o[0]:.1f}" if o else "-"
        ts = f"{t[0]:.1f}" if t else "-"
        ratio = f"{o[0] / t[0]:.2f}" if o and t and t[0] > 0 else "-"
        lines.append(f"{k:<34} {os_:>10} {ts:>10} {ratio:>7}  {unit}")
    lines += criteria(ours, theirs, dev)
    lines += tile_load_reading(ours, out)
    lines += jit_times(os.path.join(out, "jit.log"))
    lines += step_jit(os.path.join(out, "jitstep.log"))
    lines += best_variants(ours)
    lines += anchor_kernels(os.path.join(out, "torch.log"))
    # The Nsight Compute digests (run.sh's profile phase), where it ran.
    prof = os.path.join(out, "profile.log")
    if os.path.exists(prof) and os.path.getsize(prof) > 0:
        lines += ["", "Nsight Compute (profile.log)"]
        lines += [l.rstrip("\n") for l in open(prof, errors="replace")]
    print("\n".join(lines))


def criteria(ours, theirs, dev):
    """Issue 4's speed criteria, each with this run's ratio against its
    anchor from the same run: the best mma.sync kernel at 4096³ (any
    layout, against cuBLAS in that layout) ≥ 0.7; the default (Hopper)
    path at 4096³ ≥ 0.9; every ViT-S/16 GEMM shape on the default path ≥
    0.8 (the best of our variants beside it); fused attention forward and
    backward at MoCo v3's ViT-S/16 (12 heads of 32) ≥ 1.0 against PyTorch's
    best SDPA backend (6 heads of 64 shown as "info"); LayerNorm ≥ 0.8 of the
    device copy bandwidth. Only an H100's numbers count for the issue."""
    rows = []

    def row(name, key, o, t, need, shown=False):
        if o is None or t is None or t <= 0:
            missing = "ours" if o is None else "the anchor"
            rows.append(f"  {'-':<5} {name:<34} {'no number':>6}  (need {need:.2f}; {key or 'nothing'}: {missing} not timed)")
            return
        r = o / t
        verdict = "info" if shown else "PASS" if r >= need else "FAIL"
        rows.append(f"  {verdict:<5} {name:<34} {r:6.3f}  (need {need:.2f}; {key}: {o:.1f} against {t:.1f})")

    def val(d, k):
        return d[k][0] if k in d else None

    # mma.sync at 4096³: its best kernel in any layout.
    best = None
    for k, (v, _) in ours.items():
        m = re.fullmatch(r"gemm_(nn|nt|tn)_4096_(mma|mmaw|mma4|mmatma|mmatmap|mmatmal)(_staged|_direct)?", k)
        t = val(theirs, f"gemm_{m.group(1)}_4096") if m else None
        if m and t and (best is None or v / t > best[1] / best[2]):
            best = (k, v, t)
    row("GEMM 4096³, mma.sync", *(best or (None, None, None)), 0.7)
    for layout in ("nt", "nn", "tn"):
        k = f"gemm_{layout}_4096"
        row(f"GEMM 4096³ {layout.upper()}, default (Hopper)", k, val(ours, k), val(theirs, k), 0.9)
    for k in sorted(k for k in ours if re.fullmatch(r"vit_[a-z0-9]+_(fwd|dx|dw)_\d+x\d+x\d+", k)):
        row(f"ViT-S/16 {k.split('_')[1]} {k.split('_')[2]}", k, val(ours, k), val(theirs, k), 0.8)
        # The fastest fp16 variant of the same product (not yet the
        # default), where one beats it: what making it the default would
        # give.
        alts = [a for a in ours if a.startswith(k + "_") and ours[a][1] == "TFLOP/s"
                and all(p in VARIANTS and p != "nosplit" for p in a[len(k) + 1:].split("_"))]
        alt = max(alts, key=lambda a: ours[a][0], default=None)
        if alt and val(ours, k) and ours[alt][0] > val(ours, k):
            row(f"  best variant: {alt[len(k) + 1:]}", alt, val(ours, alt), val(theirs, k), 0.8, shown=True)
    for heads, name in (("h12d32", "attention fwd+bwd, 12×32"), ("h6d64", "attention fwd+bwd, 6×64")):
        k = f"attn_fwdbwd_{heads}"
        row(name, k, val(ours, k), val(theirs, k), 1.0, shown=heads != "h12d32")
    copy = val(theirs, "copy_256MiB")
    for k in sorted(k for k in ours if re.fullmatch(r"ln_(fwd|bwd)_\d+x\d+", k)):
        row(f"LayerNorm {k[3:]}", k, val(ours, k), copy, 0.8)
    if not rows:
        return []
    head = "issue 4's criteria (ratios of this run)"
    if "H200" in dev:
        # The device tool lends H200s now: the H100's SMs, tensor cores and
        # clocks with 4.8 against 3.35 TB/s of memory and 60 against 50 MB
        # of L2. The ratios are to PyTorch on the same machine.
        head += ": on an H200; the issue names an H100 (the same SMs and clocks, faster memory): say which beside them"
    elif "H100" not in dev:
        head += ": NOT AN H100, these do not count for the issue"
    return ["", head] + rows


# The clocks a 40 KB k-tile of qkv's weight-gradient partials took in the
# eleventh session's profile (193,790 cycles for 113 k-tiles at 126
# blocks), with five stages of which four were loading while the consumers
# starved; the tile-load probe keeps all five loading.
PARTIALS_CLK_PER_KTILE = 1700


# The most k-tiles a block of qkv's weight-gradient partials walks: K =
# 50432 in 7 splits of 7232 (a multiple of 64), 113 k-tiles of 64.
PARTIALS_KTILES = 113


def profiled_clk_per_ktile(out, name):
    """The clocks a k-tile took in this run's Nsight Compute profile name
    (run.sh's profile phase: ncu/<name>.raw.csv), from the longest GPC's
    elapsed cycles over the partials' 113 k-tiles a block; None where the
    profile did not run."""
    p = os.path.join(out, "ncu", name + ".raw.csv")
    if not os.path.exists(p):
        return None
    try:
        rows = list(csv.reader(open(p, errors="replace")))
        i = rows[0].index("gpc__cycles_elapsed.max")
        return float(rows[2][i].replace(",", "")) / PARTIALS_KTILES
    except (ValueError, IndexError):
        return None


def tile_load_reading(ours, out):
    """The tile-load probe's clocks a k-tile beside the partials' own, and
    what they say (docs/BENCHMARKS.md, twelfth and thirteenth sessions):
    near 4/5 of the partials' clocks, the loads' latency sets the ring's
    pace and the early release should win; near the partials' own, a rate
    limit does, and it cannot; under that, the consumer side is slow. The
    partials' clocks are this run's profile's where it ran (an H200's
    faster memory may move them), else the H100's 1700."""
    rows = []
    for k in sorted(k for k in ours if k.startswith("peak_tileload_") and k.endswith("_clk_per_ktile")):
        rows.append(f"  {k:<48} {ours[k][0]:8.0f} clk a k-tile")
    profiled = {}
    for name, what in (("gemm_tmap_vit_qkv_dw", "the partials"), ("gemm_tmapw_vit_qkv_dw", "the partials, wide boxes"),
                       ("gemm_tmape_vit_qkv_dw", "the partials, early release"),
                       ("gemm_tmapl_vit_qkv_dw", "the partials, look-ahead 8")):
        profiled[name] = profiled_clk_per_ktile(out, name)
        if profiled[name]:
            rows.append(f"  {what + ' (profile ' + name + ')':<48} {profiled[name]:8.0f} clk a k-tile")
    two = ours.get("peak_tileload_qkvdw_2d_clk_per_ktile")
    if not rows:
        return []
    partials = profiled["gemm_tmap_vit_qkv_dw"]
    source = "this run's profile" if partials else "the eleventh session's H100 profile"
    partials = partials or PARTIALS_CLK_PER_KTILE
    head = f"the weight gradients' loads alone (tile-load probe; the partials took {partials:.0f} clk a k-tile in {source})"
    if two:
        c, latency = two[0], partials * 4 / 5
        if c >= 0.9 * partials:
            say = "the loads' rate limits the partials: the early release cannot help; fewer bytes a block (multicast) or the wide boxes (3d) might"
        elif c >= 0.9 * latency:
            say = "the ring's depth limits the partials (latency): the early release should win"
        else:
            say = "the loads are faster than the partials even with all five stages loading: look at the consumers (wgmma, handshake)"
        rows.append(f"  reading: 2d at {c:.0f} against {latency:.0f} (latency, all stages loading) and {partials:.0f} (the partials): {say}")
        look = ours.get("peak_tileload_qkvdw_2d_look8_clk_per_ktile")
        if look:
            if look[0] <= 0.85 * c:
                say = "the look-ahead speeds the loads alone: DRAM's latency sets their pace"
            else:
                say = "the look-ahead does not speed the loads alone: DRAM's latency is not what sets their pace"
            rows.append(f"  reading: 2d with the look-ahead of 8 at {look[0]:.0f} against {c:.0f} without: {say}")
    return ["", head] + rows


def jit_times(path):
    """The driver's compile time for each PTX module, from run.sh's warm-up
    (jit.log): what a program pays the first time it loads a module on a
    machine whose JIT cache is cold."""
    if not os.path.exists(path):
        return []
    t = {}
    for line in open(path, errors="replace"):
        m = re.match(r"jit (\S+) ([0-9.]+) s", line)
        if m:
            t[m.group(1)] = float(m.group(2))
    if not t:
        return []
    rows = [f"  {k:<32} {v:6.1f} s" for k, v in sorted(t.items(), key=lambda kv: -kv[1])]
    return ["", f"driver JIT of the PTX modules (jit.log; a cold compile only where the machine's JIT cache was empty): {sum(t.values()):.1f} s in all, each in its own process"] + rows


def step_jit(path):
    """What a new machine's first fp16 step waits for (run.sh's jitstep,
    jitstep.log): its modules compiled cold in one process, all at once as
    Preload loads them, and one after another, each with the load average
    before it; the ratio of the two only where both compiled every module."""
    if not os.path.exists(path):
        return []
    together, each, load, notes = None, {}, {}, []
    for line in open(path, errors="replace"):
        m = re.match(r"jit together (\d+) modules ([0-9.]+) s", line)
        if m:
            together = (int(m.group(1)), float(m.group(2)))
            continue
        m = re.match(r"load (\S+) (.*)", line)
        if m:
            load[m.group(1)] = m.group(2).strip()
            continue
        m = re.match(r"jit (\S+) ([0-9.]+) s", line)
        if m:
            each[m.group(1)] = float(m.group(2))
        elif line.startswith("jitstep:"):
            notes.append("  " + line.strip())
    rows = []
    if together:
        rows.append(f"  all at once (Preload, as pretrain's warm-up): {together[1]:.1f} s for {together[0]} modules (load average before: {load.get('-together', '?')})")
    if each:
        total = sum(each.values())
        longest = max(each, key=each.get)
        rows.append(f"  one after another: {total:.1f} s for {len(each)} modules, the longest {longest} {each[longest]:.1f} s (load average before: {load.get('-oneafteranother', '?')})")
        if together and together[0] == len(each) and total > 0:
            rows.append(f"  at once / one after another: {together[1] / total:.2f}")
    if not rows and not notes:
        return []
    return ["", "an fp16 step's modules compiled cold in one process (jitstep.log; under decide beside the tests, on cores they share)"] + rows + notes


def anchor_kernels(path):
    """The kernels each of PyTorch's GEMM anchors launched (torch_baseline.py's
    KERNELS lines): cuBLAS's names carry its tile, cluster and schedule."""
    if not os.path.exists(path):
        return []
    rows = []
    for line in open(path, errors="replace"):
        m = re.match(r"KERNELS (\S+) (.*)", line.rstrip("\n"))
        if m:
            rows.append(f"  {m.group(1):<32} {m.group(2)}")
    return ["", "cuBLAS's kernels at each anchor (torch.log)"] + rows if rows else []


# Suffixes of our kernel variants: a key <shape>_<variant> is timed on the
# same shape as <shape> (the default choice), in the same process.
VARIANTS = ("mma", "mmaw", "mma4", "mmatma", "mmatmap", "mmatmal", "wgmma128", "wgmma256", "tma", "tmap", "tmas",
            "tmac", "tmapp", "tmapp192", "staged", "direct", "splitk", "streamk", "clustersplit", "wide", "wideboxes",
            "early", "look4", "look8", "look16", "stagger", "prefetch", "deepstore", "narrow", "residual", "gelugrad", "head", "headalt", "tiled",
            "full", "nosplit")


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

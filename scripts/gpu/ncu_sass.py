#!/usr/bin/env python3
"""ncu_sass.py SOURCE.csv [TOP]: where a kernel's warps wait, instruction by
instruction, from `ncu --import REP --page source --print-source sass --csv`
(run.sh's profile phase keeps that file beside the raw metrics).

ncu_summary.py gives a launch's stall reasons as a whole; this says which
instructions they sit on. In our TMA GEMMs a stall on an mbarrier wait
(SYNCS.PHASECHK) is a consumer waiting for a stage's data, the producer
waiting for a free stage, or a warpgroup waiting at the stagger barrier,
and the instruction's shared-memory offset says which barrier it is; a
stall on BAR.SYNC is a warpgroup barrier of the epilogue; on a wgmma wait
(WARPGROUP.DEPBAR) the tensor cores themselves.

Prints, per kernel in the file: the warp-stall samples in all; the TOP
(default 12) instructions by samples, each with its share, its offset from
the kernel's first instruction (as cuobjdump -sass prints it, so that it
can be found in the SASS of the PTX we ship), its text, and its two largest
stall reasons; then the shares of the samples by mnemonic. Columns this
version of ncu does not write are left out; nothing fails on a missing one.
"""
import csv
import sys


def blocks(path):
    """Yields (kernel name, header, rows) per kernel in the file: a row
    "Kernel Name",NAME, then the header row, then a row per instruction."""
    name, head, rows = None, None, []
    with open(path, newline="", errors="replace") as f:
        for r in csv.reader(f):
            if not r:
                continue
            if r[0] == "Kernel Name":
                if head is not None:
                    yield name, head, rows
                name, head, rows = (r[1] if len(r) > 1 else "?"), None, []
            elif head is None and name is not None:
                head = r  # the row after "Kernel Name"
            elif head is not None:
                rows.append(r)
    if head is not None:
        yield name, head, rows


def number(s):
    try:
        return float(s)
    except ValueError:
        return 0.0


def mnemonic(src):
    """The SASS mnemonic of an instruction's text, its predicate left out:
    "@!P0 SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [...]" → "SYNCS.PHASECHK.TRANS64.TRYWAIT"."""
    words = src.split()
    if words and words[0].startswith("@"):
        words = words[1:]
    return words[0] if words else "?"


def digest(name, head, rows, top):
    out = [f"sass: {name}"]
    col = {h: i for i, h in enumerate(head)}
    si, ai = col.get("Source"), col.get("Address")
    wi = col.get("Warp Stall Sampling (All Samples)")
    if si is None or wi is None:
        missing = " and ".join(n for n, i in (("Source", si), ("Warp Stall Sampling (All Samples)", wi)) if i is None)
        return out + [f"  no {missing} column in this export"]
    stalls = [(h, i) for h, i in col.items() if h.startswith("stall_") and "(Not Issued)" not in h]
    insts = []
    base = None
    for r in rows:
        if len(r) <= max(si, wi):
            continue
        addr = None
        if ai is not None and ai < len(r):
            try:
                addr = int(r[ai], 16)
            except ValueError:
                addr = None
        if addr is not None and base is None:
            base = addr
        reasons = sorted(((number(r[i]), h[len("stall_"):]) for h, i in stalls if i < len(r)), reverse=True)
        insts.append((number(r[wi]), addr, r[si].strip(), reasons))
    total = sum(s for s, _, _, _ in insts)
    if total <= 0:
        return out + ["  no warp-stall samples"]
    out.append(f"  {int(total)} warp-stall samples over {len(insts)} instructions")
    for s, addr, src, reasons in sorted(insts, key=lambda x: -x[0])[:top]:
        off = f"{addr - base:#06x}" if addr is not None and base is not None else "?"
        why = ", ".join(f"{n} {v / s:.0%}" for v, n in reasons[:2] if v > 0) if s > 0 else ""
        out.append(f"  {s / total:6.1%}  {off}  {src[:70]:<70}  {why}")
    by = {}
    for s, _, src, _ in insts:
        m = mnemonic(src)
        by[m] = by.get(m, 0) + s
    shares = sorted(by.items(), key=lambda kv: -kv[1])
    out.append("  by mnemonic: " + ", ".join(f"{m} {v / total:.0%}" for m, v in shares[:8] if v > 0))
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    found = False
    try:
        for name, head, rows in blocks(sys.argv[1]):
            found = True
            print("\n".join(digest(name, head, rows, top)))
    except OSError as e:
        print(f"sass: {e}")
        return
    if not found:
        print(f"sass: no kernel in {sys.argv[1]}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tma_store_swizzle.py: a model of the TMA-store epilogue (kernels/cuda/tma_sm90a.cuh,
tma_store_epilogue): every value lands once in the staging buffer, the TMA
unit reading it with the 128-byte swizzle finds each (row, column) where
C wants it, for fp16 and fp32 C and 192- and 256-wide tiles, and the fp16
writes hit 32 different banks. Run: python3 scripts/gpu/models/tma_store_swizzle.py"""
# Model of tma_store_epilogue's staging writes and TMA SWIZZLE_128B reads.
# Thread (wq, g, t) of a consumer warpgroup holds d[4j+2h+e] = (row 16wq+g+8h, col 8j+2t+e).
# Box q covers columns [q*CW, (q+1)*CW); buffer = 64 rows x 128 bytes.
# TMA 128B swizzle: logical 16-byte chunk c of row r is at physical chunk c ^ (r % 8)
# (the buffer is 1024-byte aligned, so the address bits 7..9 are r % 8).
def check(EB, BN):
    CW = 128 // EB; JB = CW // 8
    for q in range(BN // CW):
        phys = {}
        for wq in range(4):
            for lane in range(32):
                g, t = lane >> 2, lane & 3
                for jj in range(JB):
                    j = q * JB + jj
                    for h in range(2):
                        r = wq * 16 + g + 8 * h
                        assert r % 8 == g
                        for e in range(2):
                            col = 8 * j + 2 * t + e   # column within the tile
                            if EB == 2:
                                a = r * 128 + ((jj ^ g) << 4) + 4 * t + 2 * e
                            else:
                                a = r * 128 + (((2 * jj + (t >> 1)) ^ g) << 4) + 8 * (t & 1) + 4 * e
                            assert a not in phys, "written twice"
                            phys[a] = (r, col)
        assert len(phys) == 64 * 128 // EB, len(phys)
        # TMA reads logical (row, byte b) from physical r*128 + ((b>>4) ^ (r%8))*16 + (b & 15)
        for r in range(64):
            for ci in range(CW):
                b = ci * EB
                a = r * 128 + (((b >> 4) ^ (r % 8)) << 4) + (b & 15)
                assert phys[a] == (r, q * CW + ci), (r, ci, phys[a])
    return True

for EB in (2, 4):
    for BN in (192, 256):
        print(EB, BN, check(EB, BN))

# bank check (fp16 path): one store instruction = fixed (jj, h), 32 lanes
for jj in range(8):
    for h in range(2):
        banks = set()
        for lane in range(32):
            g, t = lane >> 2, lane & 3
            r = g + 8 * h
            a = r * 128 + ((jj ^ g) << 4) + 4 * t
            banks.add((a // 4) % 32)
        assert len(banks) == 32
print("fp16 staging writes conflict-free")

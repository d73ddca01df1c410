package cuda

import (
	"math/rand/v2"
	"testing"
)

// TestMMATMAFragmentModel runs the addressing of gemm_mma_tma_sm90a.cu's
// consumer warps (MtLane) on a model of the hardware, for one stage (a
// 128×64 A tile and a 256×64 B tile, both as the TMA unit stores them in the
// 128-byte swizzle) and every warp, lane and k16 step: the ldmatrix.x4 row
// addresses each lane gives, the registers ldmatrix hands back, the
// m16n8k16 products on those registers, and the epilogue's mapping of the
// accumulators to C. The result must be A·Bᵀ exactly (small integers), so
// a wrong lane offset, chunk, swizzle or register order fails here, not on
// a GPU. The expressions below are the kernel's, term for term.
func TestMMATMAFragmentModel(t *testing.T) {
	const (
		bm, bn, bk = 128, 256, 64
		aBytes     = bm * 128 // MT_A_BYTES
	)
	r := rand.New(rand.NewPCG(1, 2))
	var a [bm][bk]float64
	var b [bn][bk]float64 // B stored n×k (the NT layout)
	for i := range a {
		for k := range a[i] {
			a[i][k] = float64(r.IntN(7) - 3)
		}
	}
	for j := range b {
		for k := range b[j] {
			b[j][k] = float64(r.IntN(7) - 3)
		}
	}
	// The stage as the TMA unit leaves it: element (row, k) of a tile of
	// 128-byte rows at row·128 + 16·((k/8) ^ (row mod 8)) + 2·(k mod 8).
	smem := make([]float64, (aBytes+bn*128)/2) // one slot a half
	put := func(base, row, k int, v float64) {
		smem[(base+row*128+16*((k/8)^(row%8))+2*(k%8))/2] = v
	}
	for i := 0; i < bm; i++ {
		for k := 0; k < bk; k++ {
			put(0, i, k, a[i][k])
		}
	}
	for j := 0; j < bn; j++ {
		for k := 0; k < bk; k++ {
			put(aBytes, j, k, b[j][k])
		}
	}
	// ldsmX4: ldmatrix.x4 (not transposed) with each lane's row address:
	// matrix q's row i is at the address lane 8q + i gives; lane l receives
	// in register q the halves at columns 2·(l mod 4) and +1 of row l/4.
	ldsmX4 := func(addr [32]int) (reg [32][4][2]float64) {
		for l := 0; l < 32; l++ {
			for q := 0; q < 4; q++ {
				p := addr[8*q+l/4] + 4*(l%4)
				reg[l][q] = [2]float64{smem[p/2], smem[p/2+1]}
			}
		}
		return reg
	}
	var c [bm][bn]float64
	for warp := 0; warp < 8; warp++ {
		wm, wn := warp>>2, warp&3
		var acc [32][4][8][4]float64
		for kk := 0; kk < bk/16; kk++ {
			var fa [32][4][4][2]float64 // [lane][mi][reg]
			var fb [32][8][2][2]float64 // [lane][ni][reg]
			for mi := 0; mi < 4; mi++ {
				var addr [32]int
				for lane := 0; lane < 32; lane++ {
					aOff := (wm*64 + (lane & 15)) * 128
					ca := ((2*kk + (lane >> 4)) ^ (lane & 7)) << 4
					addr[lane] = aOff + mi*16*128 + ca
				}
				reg := ldsmX4(addr)
				for lane := range reg {
					for q := 0; q < 4; q++ {
						fa[lane][mi][q] = reg[lane][q]
					}
				}
			}
			for nj := 0; nj < 4; nj++ {
				var addr [32]int
				for lane := 0; lane < 32; lane++ {
					bOff := aBytes + (wn*64+(lane&7)+((lane>>4)<<3))*128
					cb := ((2*kk + ((lane >> 3) & 1)) ^ (lane & 7)) << 4
					addr[lane] = bOff + nj*16*128 + cb
				}
				reg := ldsmX4(addr)
				for lane := range reg {
					fb[lane][2*nj][0], fb[lane][2*nj][1] = reg[lane][0], reg[lane][1]
					fb[lane][2*nj+1][0], fb[lane][2*nj+1][1] = reg[lane][2], reg[lane][3]
				}
			}
			// mma.sync m16n8k16 .row.col for each (mi, ni): the warp's A
			// fragment (a0: row g, k 2t…; a1: row g+8; a2: row g, k 2t+8…;
			// a3: row g+8, k 2t+8…), B fragment (b0: k 2t…, column g; b1:
			// k 2t+8…), and D (d0, d1: row g, columns 2t, 2t+1; d2, d3: row
			// g+8), gathered from the lanes that hold them.
			for mi := 0; mi < 4; mi++ {
				for ni := 0; ni < 8; ni++ {
					var am [16][16]float64
					var bmat [16][8]float64
					for lane := 0; lane < 32; lane++ {
						g, tt := lane>>2, lane&3
						for e := 0; e < 2; e++ {
							am[g][2*tt+e] = fa[lane][mi][0][e]
							am[g+8][2*tt+e] = fa[lane][mi][1][e]
							am[g][2*tt+8+e] = fa[lane][mi][2][e]
							am[g+8][2*tt+8+e] = fa[lane][mi][3][e]
							bmat[2*tt+e][g] = fb[lane][ni][0][e]
							bmat[2*tt+8+e][g] = fb[lane][ni][1][e]
						}
					}
					for lane := 0; lane < 32; lane++ {
						g, tt := lane>>2, lane&3
						for e := 0; e < 4; e++ {
							row, col := g+8*(e>>1), 2*tt+(e&1)
							for k := 0; k < 16; k++ {
								acc[lane][mi][ni][e] += am[row][k] * bmat[k][col]
							}
						}
					}
				}
			}
		}
		// The epilogue's mapping: row 64·wm + 16·mi + g + 8h, column
		// 64·wn + 8·ni + 2t (+1), from acc[mi][ni][2h] (and 2h + 1).
		for lane := 0; lane < 32; lane++ {
			g, tt := lane>>2, lane&3
			for mi := 0; mi < 4; mi++ {
				for h := 0; h < 2; h++ {
					for ni := 0; ni < 8; ni++ {
						row, col := wm*64+mi*16+g+8*h, wn*64+ni*8+2*tt
						c[row][col] += acc[lane][mi][ni][2*h]
						c[row][col+1] += acc[lane][mi][ni][2*h+1]
					}
				}
			}
		}
	}
	bad := 0
	for i := 0; i < bm; i++ {
		for j := 0; j < bn; j++ {
			want := 0.0
			for k := 0; k < bk; k++ {
				want += a[i][k] * b[j][k]
			}
			if c[i][j] != want {
				if bad < 5 {
					t.Errorf("C[%d][%d] = %g, want %g", i, j, c[i][j], want)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d elements wrong", bad, bm*bn)
	}
}

//go:build !amd64

package data

func affineClampAVX2(p *float32, n int, f, add float32)                    { panic(noAsm) }
func saturationAVX2(pr, pg, pb *float32, n int, f, omf float32)            { panic(noAsm) }
func grayscaleAVX2(pr, pg, pb *float32, n int)                             { panic(noAsm) }
func hueAVX2(pr, pg, pb *float32, n int, df float32, dI int, t *hueTables) { panic(noAsm) }
func solarizeAVX2(p *float32, n int, thr float32)                          { panic(noAsm) }
func normalizeAVX2(dst, src *float32, n int, m, inv float32)               { panic(noAsm) }
func normalizeFlipAVX2(dstEnd, src *float32, n int, m, inv float32)        { panic(noAsm) }

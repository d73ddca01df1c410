package jpegdec

import (
	"errors"
	"fmt"
	"math/bits"
)

// The coefficient path: a progressive frame (T.81 Annex G: spectral
// selection and successive approximation, Huffman-coded), or a
// sequential one in several scans, is decoded scan by scan into the
// quantised coefficients of the whole image; at EOI they are
// dequantised and go through the same inverse DCT as a one-scan file.

// maxBlocksPerByte bounds the blocks (every component's, MCU-padded) of
// a frame on the coefficient path against the bytes of input after its
// first scan header: a block takes 128 bytes of coefficients and 64 of
// samples, so this allocates at most 3 KiB a byte of input. A
// progressive file has no minimum cost per block in an AC scan (an EOB
// run covers up to 32767 blocks in a few bits), but each component's DC
// first scan takes at least a bit for each of its blocks (without the
// padding): a frame of more of those than 8 a byte cannot be in the
// data, an error like a truncation. A frame within that but over this
// ratio, which no photo comes near (a flat image compresses to about a
// bit a block), is ErrUnsupported: image/jpeg's to judge.
const maxBlocksPerByte = 16

// maxScans bounds the scans of a frame: each costs a pass over its
// components' blocks, however short its data (an AC scan can be an EOB
// run of all of them), so decoding takes at most maxScans passes over
// at most maxBlocksPerByte blocks a byte of input. (The progression
// check bounds them too: a coefficient has one first scan and at most
// 13 refinements.) cjpeg -progressive writes 10 for colour, 6 for gray.
const maxScans = 256

// compBlocks is the block grid a non-interleaved scan of c covers: the
// blocks of the component's own size, ceil(compW/8)×ceil(compH/8),
// without the MCU padding.
func (d *decoder) compBlocks(c *component) (int, int) {
	cw := (d.width*c.h + d.hmax - 1) / d.hmax
	ch := (d.height*c.v + d.vmax - 1) / d.vmax
	return (cw + 7) / 8, (ch + 7) / 8
}

// startCoefPath allocates the coefficient buffers at the frame's first
// scan on the coefficient path.
func (d *decoder) startCoefPath() error {
	blocks, coded := 0, 0
	for i := range d.comps {
		c := &d.comps[i]
		blocks += c.bw * c.bh
		cw, ch := d.compBlocks(c)
		coded += cw * ch
	}
	if n := len(d.data) - d.pos; coded > 8*n {
		return errShort
	} else if blocks > maxBlocksPerByte*n {
		return fmt.Errorf("%w: %d blocks from %d bytes of scans", ErrUnsupported, blocks, n)
	}
	for i := range d.comps {
		c := &d.comps[i]
		c.coef = make([]int16, 64*c.bw*c.bh)
		if d.progressive {
			c.nz = make([]uint64, c.bw*c.bh)
		}
		for k := range c.al {
			c.al[k] = -1
		}
	}
	d.coefPath = true
	return nil
}

// decodeCoefScan decodes one scan, at d.pos, into the coefficients.
func (d *decoder) decodeCoefScan(s *scan) error {
	if !d.coefPath {
		if err := d.startCoefPath(); err != nil {
			return err
		}
	}
	if d.scans++; d.scans > maxScans {
		return fmt.Errorf("%w: more than %d scans", ErrUnsupported, maxScans)
	}
	// What the scan refines must be what earlier scans left (libjpeg
	// warns and goes on; this decoder leaves such a file to image/jpeg).
	for _, ci := range s.comps {
		c := &d.comps[ci]
		if !c.scanned {
			c.scanned = true
			c.qt = d.quant[c.tq]
		} else if !d.progressive {
			return errors.New("jpegdec: a component in two sequential scans")
		}
		if !d.progressive {
			continue
		}
		if s.ss > 0 && c.al[0] < 0 {
			return errors.New("jpegdec: an AC scan before the component's DC scan")
		}
		for k := s.ss; k <= s.se; k++ {
			if s.ah == 0 && c.al[k] >= 0 || s.ah > 0 && int(c.al[k]) != s.ah {
				return fmt.Errorf("jpegdec: scan Ss=%d Se=%d Ah=%d Al=%d does not follow the earlier ones", s.ss, s.se, s.ah, s.al)
			}
			c.al[k] = int8(s.al)
		}
	}

	r := &d.br
	*r = bitReader{data: d.data, pos: d.pos}
	d.eobrun = 0
	for i := range d.comps {
		d.comps[i].pred = 0
	}
	block := d.seqBlock
	if d.progressive {
		switch {
		case s.ss == 0 && s.ah == 0:
			block = d.dcFirst
		case s.ss == 0:
			block = d.dcRefine
		case s.ah == 0:
			block = d.acFirst
		default:
			block = d.acRefine
		}
	}
	n, rst := 0, 0
	restart := func() error {
		if d.restart > 0 && n > 0 && n%d.restart == 0 {
			if err := d.nextInterval(rst); err != nil {
				return err
			}
			rst = (rst + 1) & 7
		}
		n++
		return nil
	}
	if len(s.comps) == 1 {
		// Not interleaved: the component's blocks one by one, each an MCU.
		c := &d.comps[s.comps[0]]
		cw, ch := d.compBlocks(c)
		for by := 0; by < ch; by++ {
			for bx := 0; bx < cw; bx++ {
				if err := restart(); err != nil {
					return err
				}
				i := by*c.bw + bx
				d.nz = d.nzOf(c, i)
				if err := block(s, c, (*[64]int16)(c.coef[64*i:64*i+64])); err != nil {
					return fmt.Errorf("%w (block %d,%d of component %d)", err, bx, by, s.comps[0])
				}
			}
		}
	} else {
		mcuW, mcuH := 8*d.hmax, 8*d.vmax
		mx, my := (d.width+mcuW-1)/mcuW, (d.height+mcuH-1)/mcuH
		for y := 0; y < my; y++ {
			for x := 0; x < mx; x++ {
				if err := restart(); err != nil {
					return err
				}
				for _, ci := range s.comps {
					c := &d.comps[ci]
					for v := 0; v < c.v; v++ {
						for h := 0; h < c.h; h++ {
							i := (y*c.v+v)*c.bw + x*c.h + h
							d.nz = d.nzOf(c, i)
							if err := block(s, c, (*[64]int16)(c.coef[64*i:64*i+64])); err != nil {
								return fmt.Errorf("%w (block %d,%d of component %d)", err, x*c.h+h, y*c.v+v, ci)
							}
						}
					}
				}
			}
		}
	}
	if r.short() {
		return errShort
	}
	if r.nbits-r.pad >= 8 || !r.marker && r.pos < len(r.data) && r.data[r.pos] != 0xFF {
		return errors.New("jpegdec: data after the scan's last block")
	}
	d.pos = r.pos
	return nil
}

var errPastEnd = errors.New("jpegdec: coefficients past the end of a block")

// nzOf is where block i of c keeps its mask of nonzero AC coefficients
// (bit k for zigzag index k), for the refinement scans to skip the zero
// ones; a sequential frame has none, and gets a scratch word.
func (d *decoder) nzOf(c *component, i int) *uint64 {
	if c.nz == nil {
		return &d.nzScratch
	}
	return &c.nz[i]
}

// seqBlock decodes a block of a sequential scan (T.81 F.2.2) into b,
// coefficients in zigzag order, not dequantised: decodeBlock's
// coefficients under a table of ones.
func (d *decoder) seqBlock(_ *scan, c *component, b *[64]int16) error {
	var blk [64]int32
	if _, err := d.decodeBlock(&blk, c, &unitQuant); err != nil {
		return err
	}
	for k, z := range zigzag {
		b[k] = int16(blk[z])
	}
	return nil
}

// unitQuant is a quantisation table of ones.
var unitQuant = func() (q [64]int32) {
	for i := range q {
		q[i] = 1
	}
	return
}()

// dcFirst decodes a block of a DC first scan (G.1.2.1): the DC
// coefficient's difference, shifted left by Al.
func (d *decoder) dcFirst(s *scan, c *component, b *[64]int16) error {
	if err := d.decodeDC(c); err != nil {
		return err
	}
	b[0] = int16(c.pred << s.al)
	return nil
}

// dcRefine decodes a block of a DC refinement scan (G.1.2.1): bit Al of
// the DC coefficient.
func (d *decoder) dcRefine(s *scan, _ *component, b *[64]int16) error {
	if d.br.bit() {
		b[0] |= int16(1 << s.al)
	}
	return nil
}

// acFirst decodes a block of an AC first scan (G.1.2.2): coefficients
// Ss to Se shifted left by Al, with runs of blocks that end at once
// (EOBRUN) coded together.
func (d *decoder) acFirst(s *scan, c *component, b *[64]int16) error {
	if d.eobrun > 0 {
		d.eobrun--
		return nil
	}
	r := &d.br
	t := &d.ac[c.ta]
	for k := s.ss; k <= s.se; k++ {
		if r.nbits < 32 {
			r.fill()
		}
		rs, err := r.decode(t)
		if err != nil {
			return err
		}
		run, size := int(rs>>4), rs&15
		if size != 0 {
			k += run
			if k > s.se {
				return errPastEnd
			}
			if b[k] = int16(r.receive(size) << s.al); b[k] != 0 { // 0 only if it wrapped
				*d.nz |= 1 << uint(k)
			}
			continue
		}
		if run == 15 {
			k += 15 // sixteen zeros
			continue
		}
		d.eobrun = 1 << run
		if run > 0 {
			d.eobrun += int(r.getBits(run))
		}
		d.eobrun-- // this block is the run's first
		break
	}
	return nil
}

// acRefine decodes a block of an AC refinement scan (G.1.2.3): bit Al
// of coefficients Ss to Se. A coefficient already nonzero gets a
// correction bit, read as the scan passes it; one newly nonzero (±1<<Al)
// is coded as a run of still-zero coefficients before it, then its sign.
// The blocks of an EOB run only get their correction bits. This is
// libjpeg's decode_mcu_AC_refine.
func (d *decoder) acRefine(s *scan, c *component, b *[64]int16) error {
	r := &d.br
	p1 := int16(1) << s.al
	k := s.ss
	if d.eobrun == 0 {
		t := &d.ac[c.ta]
		for ; k <= s.se; k++ {
			if r.nbits < 32 {
				r.fill()
			}
			rs, err := r.decode(t)
			if err != nil {
				return err
			}
			run, size := int(rs>>4), rs&15
			var v int16
			if size != 0 {
				if size != 1 {
					return errors.New("jpegdec: a refinement scan's new coefficient is not ±1")
				}
				v = -p1
				if r.bit() {
					v = p1
				}
			} else if run != 15 {
				d.eobrun = 1 << run
				if run > 0 {
					d.eobrun += int(r.getBits(run))
				}
				break
			}
			// Pass run zero coefficients (and the nonzero ones among
			// them, with their correction bits) to the one to set: the
			// run+1st zero from k, or past Se if there are fewer.
			inRange := span(k, s.se)
			zeros := ^*d.nz & inRange
			for ; run > 0 && zeros != 0; run-- {
				zeros &= zeros - 1
			}
			if zeros == 0 {
				correct(r, b, *d.nz&inRange, p1)
				k = s.se + 1
			} else {
				k = bits.TrailingZeros64(zeros)
				correct(r, b, *d.nz&inRange&(1<<uint(k)-1), p1)
			}
			if v != 0 {
				if k > s.se {
					return errPastEnd
				}
				b[k] = v
				*d.nz |= 1 << uint(k)
			}
		}
	}
	if d.eobrun > 0 {
		// The rest of the block is in an EOB run: correction bits only,
		// for the nonzero coefficients from k to Se.
		if k <= s.se {
			correct(r, b, *d.nz&span(k, s.se), p1)
		}
		d.eobrun--
	}
	return nil
}

// span is the mask of bits lo to hi (0 ≤ lo ≤ hi ≤ 63).
func span(lo, hi int) uint64 {
	return ^uint64(0) >> uint(63-hi) &^ (1<<uint(lo) - 1)
}

// correct reads the correction bits of the nonzero coefficients of b in
// mask, in order: a 1 adds bit p1 to the magnitude of one that lacks it.
func correct(r *bitReader, b *[64]int16, mask uint64, p1 int16) {
	n := bits.OnesCount64(mask)
	if r.nbits < n {
		r.fill()
	}
	if r.nbits < n { // more than the buffer holds: bit by bit
		for ; mask != 0; mask &= mask - 1 {
			k := bits.TrailingZeros64(mask) & 63
			if x := b[k]; r.bit() && x&p1 == 0 {
				if x >= 0 {
					b[k] = x + p1
				} else {
					b[k] = x - p1
				}
			}
		}
		return
	}
	w := r.bits
	r.bits <<= uint(n)
	r.nbits -= n
	for ; mask != 0; mask &= mask - 1 {
		k := bits.TrailingZeros64(mask) & 63
		x := b[k]
		if w>>63 != 0 && x&p1 == 0 {
			if x >= 0 {
				b[k] = x + p1
			} else {
				b[k] = x - p1
			}
		}
		w <<= 1
	}
}

// finish makes the planes from the coefficients: each block dequantised
// with its component's table and inverse-transformed.
func (d *decoder) finish() error {
	for i := range d.comps {
		if !d.comps[i].scanned {
			return fmt.Errorf("jpegdec: component %d in no scan", i)
		}
	}
	var blk [64]int32
	for i := range d.comps {
		c := &d.comps[i]
		var qz [64]int32 // the table in zigzag order
		for k := range qz {
			qz[k] = c.qt[zigzag[k]]
		}
		c.plane = make([]byte, c.stride*8*c.bh)
		for by := 0; by < c.bh; by++ {
			for bx := 0; bx < c.bw; bx++ {
				off := (by*c.bw + bx) * 64
				b := (*[64]int16)(c.coef[off : off+64])
				dst := c.plane[by*8*c.stride+bx*8:]
				var ac int16
				for _, v := range b[1:] {
					ac |= v
				}
				if ac == 0 {
					idctDC(dst, c.stride, int32(b[0])*qz[0])
					continue
				}
				for k, v := range b {
					blk[zigzag[k]] = int32(v) * qz[k]
				}
				idct(dst, c.stride, &blk)
			}
		}
		c.coef, c.nz = nil, nil
	}
	return nil
}

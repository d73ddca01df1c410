package jpegdec

import (
	"errors"
	"fmt"
)

var errShort = errors.New("jpegdec: scan data ends early")

// decodeScan decodes the frame's one scan into the component planes.
func (d *decoder) decodeScan() error {
	r := &d.br
	*r = bitReader{data: d.data, pos: d.pos}
	mcuW, mcuH := 8*d.hmax, 8*d.vmax
	mx, my := (d.width+mcuW-1)/mcuW, (d.height+mcuH-1)/mcuH
	// Every block takes at least two bits (a DC code and an AC code), so
	// a frame of more blocks than that cannot be in the data: refused
	// before its planes are allocated, which bounds them by 256 bytes a
	// byte of input.
	blocks := 0
	for i := range d.comps {
		blocks += d.comps[i].bw * d.comps[i].bh
	}
	if blocks > 4*(len(d.data)-d.pos) {
		return errShort
	}
	for i := range d.comps {
		c := &d.comps[i]
		c.plane = make([]byte, c.stride*8*c.bh)
	}
	var blk [64]int32
	n, rst := 0, 0
	for y := 0; y < my; y++ {
		for x := 0; x < mx; x++ {
			if d.restart > 0 && n > 0 && n%d.restart == 0 {
				if err := d.nextInterval(rst); err != nil {
					return err
				}
				rst = (rst + 1) & 7
			}
			n++
			for i := range d.comps {
				c := &d.comps[i]
				q := &d.quant[c.tq]
				for v := 0; v < c.v; v++ {
					for h := 0; h < c.h; h++ {
						ac, err := d.decodeBlock(&blk, c, q)
						if err != nil {
							return fmt.Errorf("%w (block %d,%d of component %d)", err, x*c.h+h, y*c.v+v, i)
						}
						off := (y*c.v+v)*8*c.stride + (x*c.h+h)*8
						if ac {
							idct(c.plane[off:], c.stride, &blk)
						} else {
							idctDC(c.plane[off:], c.stride, blk[0])
						}
					}
				}
			}
		}
	}
	if r.short() {
		return errShort
	}
	// What is left must be the byte's padding, then a marker.
	if r.nbits-r.pad >= 8 || !r.marker && r.pos < len(r.data) && r.data[r.pos] != 0xFF {
		return errors.New("jpegdec: data after the scan's last block")
	}
	d.pos = r.pos
	return nil
}

// nextInterval ends a restart interval: the bits left must be padding,
// and the marker RSTm must follow. The DC predictions start again.
func (d *decoder) nextInterval(m int) error {
	r := &d.br
	if r.short() {
		return errShort
	}
	if r.nbits-r.pad >= 8 {
		return errors.New("jpegdec: data after a restart interval's last block")
	}
	p := r.pos
	for p+1 < len(r.data) && r.data[p] == 0xFF && r.data[p+1] == 0xFF {
		p++
	}
	if p+1 >= len(r.data) || r.data[p] != 0xFF || r.data[p+1] != mRST0+byte(m) {
		return fmt.Errorf("jpegdec: restart marker RST%d missing", m)
	}
	*r = bitReader{data: r.data, pos: p + 2}
	for i := range d.comps {
		d.comps[i].pred = 0
	}
	d.eobrun = 0
	return nil
}

// decodeDC reads a block's DC difference and adds it to c's prediction
// (T.81 F.2.2.1).
func (d *decoder) decodeDC(c *component) error {
	r := &d.br
	if r.nbits < 32 {
		r.fill()
	}
	s, err := r.decode(&d.dc[c.td])
	if err != nil {
		return err
	}
	if s > 11 {
		return errors.New("jpegdec: DC difference of more than 11 bits")
	}
	if s > 0 {
		c.pred += r.receive(s)
	}
	return nil
}

// decodeBlock reads one block's coefficients into blk (natural order,
// dequantised) and reports whether any AC coefficient is nonzero.
func (d *decoder) decodeBlock(blk *[64]int32, c *component, q *[64]int32) (bool, error) {
	r := &d.br
	*blk = [64]int32{}
	if err := d.decodeDC(c); err != nil {
		return false, err
	}
	blk[0] = c.pred * q[0]
	ac := false
	t := &d.ac[c.ta]
	for k := 1; k < 64; {
		if r.nbits < 32 {
			r.fill()
		}
		if e := t.fast[r.bits>>(64-lutBits)]; e != 0 {
			n := e & 15
			r.bits <<= uint(n)
			r.nbits -= int(n)
			k += int(e>>4) & 15
			if k > 63 {
				return false, errPastEnd
			}
			z := zigzag[k]
			blk[z] = e >> 8 * q[z]
			ac = true
			k++
			continue
		}
		rs, err := r.decode(t)
		if err != nil {
			return false, err
		}
		run, size := int(rs>>4), rs&15
		if size == 0 {
			if run != 15 {
				break // end of block
			}
			k += 16
			continue
		}
		k += run
		if k > 63 {
			return false, errPastEnd
		}
		z := zigzag[k]
		blk[z] = r.receive(size) * q[z]
		ac = true
		k++
	}
	if r.short() {
		return false, errShort
	}
	return ac, nil
}

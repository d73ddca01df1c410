package jpegdec

import (
	"encoding/binary"
	"errors"
)

// lutBits is how many leading bits the lookup table resolves: codes of
// up to 9 bits (nearly every code of a photo's tables) in one step.
const lutBits = 9

// huffTable is one canonical Huffman table (T.81 Annex C).
type huffTable struct {
	ok bool
	// lut[next lutBits bits] = length<<8 | symbol, or 0 for a longer code.
	lut [1 << lutBits]uint16
	// fast[next lutBits bits], for an AC table, when they hold both a
	// code and the bits of its nonzero coefficient: the coefficient<<8 |
	// run<<4 | bits used; else 0.
	fast [1 << lutBits]int32
	// For codes longer than lutBits: the largest code of each length
	// (−1 if none), and where that length's symbols start in vals, less
	// its first code.
	maxcode [17]int32
	offset  [17]int32
	vals    [256]uint8
}

var errOversubscribed = errors.New("jpegdec: Huffman table has more codes than its lengths allow")

// build makes the table of counts[i] codes of length i+1 for symbols
// syms, in order.
func (t *huffTable) build(counts [16]int, syms []byte) error {
	*t = huffTable{}
	copy(t.vals[:], syms)
	code, k := int32(0), 0
	for l := 1; l <= 16; l++ {
		n := counts[l-1]
		t.maxcode[l] = -1
		if n > 0 {
			t.offset[l] = int32(k) - code
			for range n {
				if code >= 1<<l {
					return errOversubscribed
				}
				if l <= lutBits {
					fill := 1 << (lutBits - l)
					base := int(code) << (lutBits - l)
					for j := range fill {
						t.lut[base+j] = uint16(l)<<8 | uint16(syms[k])
					}
				}
				code++
				k++
			}
			t.maxcode[l] = code - 1
		}
		// The all-ones code of a length is not used either (libjpeg's
		// rule).
		if code >= 1<<l {
			return errOversubscribed
		}
		code <<= 1
	}
	for i, e := range t.lut {
		l, sym := int(e>>8), e&255
		size, run := int(sym&15), int32(sym>>4)
		if e == 0 || size == 0 || l+size > lutBits {
			continue
		}
		v := int32(i>>(lutBits-l-size)) & (1<<size - 1)
		if v < 1<<(size-1) {
			v += -1<<size + 1
		}
		t.fast[i] = v<<8 | run<<4 | int32(l+size)
	}
	t.ok = true
	return nil
}

// bitReader reads the entropy-coded bytes of a scan: it removes the
// stuffed zero after each 0xFF and stops at a marker, after which it
// feeds zeros, counted in pad.
type bitReader struct {
	data   []byte
	pos    int
	bits   uint64 // the next nbits bits, from the most significant
	nbits  int
	marker bool // a marker (or the end of the data) is next at pos
	pad    int  // zero bits fed after the real ones
}

// hasFF reports a 0xFF byte in w.
func hasFF(w uint64) bool {
	x := ^w
	return (x-0x0101010101010101)&^x&0x8080808080808080 != 0
}

// fill tops the buffer up to at least 57 bits.
func (r *bitReader) fill() {
	if !r.marker && r.pos+8 <= len(r.data) {
		w := binary.BigEndian.Uint64(r.data[r.pos:])
		if !hasFF(w) {
			k := (64 - r.nbits) >> 3 // whole bytes that fit
			r.bits |= w >> (64 - 8*k) << (64 - r.nbits - 8*k)
			r.nbits += 8 * k
			r.pos += k
			return
		}
	}
	for r.nbits <= 56 {
		var b byte
		if !r.marker && r.pos < len(r.data) {
			b = r.data[r.pos]
			switch {
			case b != 0xFF:
				r.pos++
			case r.pos+1 < len(r.data) && r.data[r.pos+1] == 0:
				r.pos += 2
			default:
				r.marker, b = true, 0
			}
		} else {
			r.marker = true
		}
		if r.marker {
			r.pad += 8
		}
		r.bits |= uint64(b) << (56 - r.nbits)
		r.nbits += 8
	}
}

var errHuffman = errors.New("jpegdec: bad Huffman code")

// decode reads one symbol of t. The buffer must hold at least 16 bits.
func (r *bitReader) decode(t *huffTable) (byte, error) {
	if e := t.lut[r.bits>>(64-lutBits)]; e != 0 {
		l := e >> 8
		r.bits <<= l
		r.nbits -= int(l)
		return byte(e), nil
	}
	code := int32(r.bits >> (64 - 16))
	for l := lutBits + 1; l <= 16; l++ {
		c := code >> (16 - l)
		if c <= t.maxcode[l] {
			r.bits <<= uint(l)
			r.nbits -= l
			return t.vals[(t.offset[l]+c)&255], nil
		}
	}
	return 0, errHuffman
}

// receive reads s bits (1 ≤ s ≤ 16) as T.81's EXTEND of them: a signed
// value. The buffer must hold at least s bits.
func (r *bitReader) receive(s uint8) int32 {
	v := int32(r.bits >> (64 - uint(s)))
	r.bits <<= s
	r.nbits -= int(s)
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// short reports that the decoder used bits the data did not have.
func (r *bitReader) short() bool { return r.pad > r.nbits }

// getBits reads n raw bits (0 ≤ n ≤ 16) as an unsigned value.
func (r *bitReader) getBits(n int) uint32 {
	if r.nbits < n {
		r.fill()
	}
	v := uint32(r.bits >> 1 >> (63 - uint(n)))
	r.bits <<= uint(n)
	r.nbits -= n
	return v
}

// bit reads one bit.
func (r *bitReader) bit() bool {
	if r.nbits < 1 {
		r.fill()
	}
	b := r.bits>>63 != 0
	r.bits <<= 1
	r.nbits--
	return b
}

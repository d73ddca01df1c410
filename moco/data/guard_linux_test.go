//go:build linux

package data

import (
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a copy of p between inaccessible pages: at the end of
// its pages (atEnd) or at their start, so that a kernel reading or
// writing a byte past either end faults (the tests of the assembly
// kernels' bounds). It is unmapped when t ends.
func guarded(t *testing.T, p []uint8, atEnd bool) []uint8 {
	t.Helper()
	ps := syscall.Getpagesize()
	n := len(p)
	size := max((n+ps-1)/ps*ps, ps)
	mem, err := syscall.Mmap(-1, 0, size+2*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[:ps], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[ps+size:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	s := mem[ps : ps+n : ps+n]
	if atEnd {
		s = mem[ps+size-n : ps+size : ps+size]
	}
	copy(s, p)
	return s
}

// guardedBytes is n zero bytes that end where an inaccessible page
// begins.
func guardedBytes(t *testing.T, n int) []uint8 {
	t.Helper()
	return guarded(t, make([]uint8, n), true)
}

// guardedFloats is guardedBytes for n float32s.
func guardedFloats(t *testing.T, n int) []float32 {
	b := guardedBytes(t, 4*n)
	if n == 0 {
		return []float32{}
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
}

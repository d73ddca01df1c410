//go:build linux

package data

import (
	"syscall"
	"testing"
	"unsafe"
)

// guardedBytes is a slice of n bytes that ends where an inaccessible
// page begins, so that a kernel reading past its end faults (the tests
// of the assembly kernels' bounds). It is unmapped when t ends.
func guardedBytes(t *testing.T, n int) []uint8 {
	t.Helper()
	page := syscall.Getpagesize()
	size := (n + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, size+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	return mem[size-n : size : size]
}

// guardedFloats is guardedBytes for n float32s.
func guardedFloats(t *testing.T, n int) []float32 {
	b := guardedBytes(t, 4*n)
	if n == 0 {
		return []float32{}
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
}

//go:build !linux

package data

import "testing"

// guardedBytes is a slice of n bytes (without a guard page on this
// system: a read past its end goes unnoticed).
func guardedBytes(t *testing.T, n int) []uint8 { return make([]uint8, n) }

// guardedFloats is guardedBytes for n float32s.
func guardedFloats(t *testing.T, n int) []float32 { return make([]float32, n) }

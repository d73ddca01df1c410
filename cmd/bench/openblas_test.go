package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBetterOpenBLASCore(t *testing.T) {
	cases := []struct {
		detected                    string
		avx512, avx2fma, avx512bf16 bool
		want                        string
	}{
		// Debian 12's OpenBLAS on an Emerald Rapids Xeon.
		{"Prescott", true, true, true, "Cooperlake"},
		{"Prescott", true, true, false, "SkylakeX"},
		{"Haswell", true, true, false, "SkylakeX"},
		{"SkylakeX", true, true, true, ""},
		{"cooperlake", true, true, true, ""},
		{"Prescott", false, true, false, "Haswell"},
		{"Zen", false, true, false, ""},
		{"Haswell", false, true, false, ""},
		{"Prescott", false, false, false, ""},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, betterOpenBLASCore(c.detected, c.avx512, c.avx2fma, c.avx512bf16), "%+v", c)
	}
}

func TestParseCoreLine(t *testing.T) {
	core, err := parseCoreLine("# core Haswell threads 2", 2)
	require.NoError(t, err)
	assert.Equal(t, "Haswell", core)

	_, err = parseCoreLine("# core unknown threads -1", 1)
	assert.ErrorIs(t, err, errNoOpenBLAS)
	_, err = parseCoreLine("# core Haswell threads 4", 2)
	assert.ErrorContains(t, err, "runs 4 threads, want 2")
	_, err = parseCoreLine("Traceback", 1)
	assert.ErrorContains(t, err, "unexpected first line")
}

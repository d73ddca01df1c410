package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/moco"
)

// TestTruncateLog: on --resume the log loses what came after the
// checkpoint's step, and a line a kill cut short.
func TestTruncateLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	lines := []string{
		`{"type":"knn","epoch":0,"top1":0.5}`,
		`{"type":"step","step":1,"loss":3}`,
		`{"type":"step","step":2,"loss":2.9}`,
		`{"type":"spike","step":2,"text":"x"}`,
		`{"type":"step","step":3,"loss":2.8}`,
		`{"type":"step","step":4,"lo`,
	}
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
	require.NoError(t, truncateLog(path, 2))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, strings.Join(lines[:4], "\n")+"\n", string(b))
	// Nothing past the step: only the partial line goes.
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
	require.NoError(t, truncateLog(path, 3))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, strings.Join(lines[:5], "\n")+"\n", string(b))
	require.NoError(t, truncateLog(filepath.Join(t.TempDir(), "none"), 3))

	// Plots are drawn from such a log.
	require.NoError(t, writePlots(path, filepath.Dir(path)))
	svg, err := os.ReadFile(filepath.Join(filepath.Dir(path), "knn.svg"))
	require.NoError(t, err)
	assert.Contains(t, string(svg), "<circle") // one kNN point
}

// TestStepLineDataTime: a step's line carries its wait for the batch in
// seconds.
func TestStepLineDataTime(t *testing.T) {
	b, err := json.Marshal(newStepLine(moco.StepStats{Step: 7, Loss: 2}, 1500*time.Millisecond))
	require.NoError(t, err)
	require.Contains(t, string(b), `"data_s":1.5`)
	require.Contains(t, string(b), `"step":7`)
}

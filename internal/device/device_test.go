package device

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
)

func TestPrecision(t *testing.T) {
	for _, c := range []struct {
		flag, device, name string
		dt                 engine.DType
	}{
		{"auto", "cuda", "fp16", engine.F16},
		{"auto", "cpu", "fp32", engine.F32},
		{"fp32", "cuda", "fp32", engine.F32},
		{"bf16", "cpu", "bf16", engine.BF16},
		{"fp16", "cpu", "fp16", engine.F16},
	} {
		name, dt, err := Precision(c.flag, c.device)
		require.NoError(t, err)
		assert.Equal(t, c.name, name, "%s on %s", c.flag, c.device)
		assert.Equal(t, c.dt, dt, "%s on %s", c.flag, c.device)
	}
	_, _, err := Precision("fp8", "cuda")
	assert.ErrorContains(t, err, `--precision "fp8"`)
}

func TestEngine(t *testing.T) {
	e, release, err := Engine("cpu", "bf16")
	require.NoError(t, err)
	defer release()
	assert.Equal(t, engine.BF16, e.Autocast())
	_, _, err = Engine("tpu", "auto")
	assert.ErrorContains(t, err, `--device "tpu"`)
}

// TestAnnounceIfSlow: a quick work says nothing; a slow one says its first
// line once the time has passed, while it still runs, and its last when it
// ends.
func TestAnnounceIfSlow(t *testing.T) {
	var quick bytes.Buffer
	announceIfSlow(&quick, time.Hour, "begin", "end", func() {})
	assert.Empty(t, quick.String())

	var slow bytes.Buffer
	ran := false
	announceIfSlow(&slow, time.Millisecond, "begin", "end", func() {
		time.Sleep(100 * time.Millisecond)
		ran = true
	})
	assert.True(t, ran)
	assert.Equal(t, "begin\nend in 0 s.\n", slow.String())
}

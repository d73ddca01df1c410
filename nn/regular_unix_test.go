//go:build unix

package nn

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/internal/regularfile"
)

// TestCheckpointNamedPipe: a named pipe given as a checkpoint is refused
// at once, not waited on (os.Open blocks on a pipe until a writer comes).
func TestCheckpointNamedPipe(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ckpt.safetensors")
	require.NoError(t, syscall.Mkfifo(p, 0o644))
	for name, read := range map[string]func(string) error{
		"safetensors": func(p string) error { _, err := ReadSafetensors(p); return err },
		"torch":       func(p string) error { _, err := ReadTorch(p); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- read(p) }()
		select {
		case err := <-done:
			require.ErrorIs(t, err, regularfile.ErrNotRegular, name)
			require.ErrorContains(t, err, "a named pipe (FIFO)", name)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still waiting on the pipe after 5s", name)
		}
	}
}

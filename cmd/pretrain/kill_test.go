package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/nn"
)

// TestKillAndResume builds pretrain, runs it once without interruption
// and once killed with SIGKILL at random moments and resumed with
// --resume until it finishes, checkpointing every step: the final
// checkpoints must hold the same tensors bit for bit and the same run
// state, and the metrics log of the interrupted run must list every step
// exactly once. With -short it is skipped; .ci/run runs it.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the pretrain binary (run by .ci/run)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pretrain")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	data := writeFolder(t, 4, 40, 16)
	args := func(out string) []string {
		return append(tinyArgs(data, out, 4), "--save-every", "1", "--knn-every", "0", "--threads", "2")
	}
	straight := filepath.Join(dir, "straight")
	t0 := time.Now()
	out, err = exec.Command(bin, args(straight)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	full := time.Since(t0)
	t.Logf("uninterrupted run: %v", full.Round(time.Millisecond))

	// The kills land at random moments within the first quarter of the
	// uninterrupted run's time. That time was measured once: on a machine
	// whose load drops meanwhile (CI runs packages side by side) the runs
	// can then finish before enough kills land. Such an attempt starts
	// over in a fresh folder with the kill times halved.
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var killed string
	kills, runs, midWrites := 0, 0, 0
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 6, "the runs kept finishing before 3 kills landed")
		killed = filepath.Join(dir, fmt.Sprintf("killed%d", attempt))
		kills, runs, midWrites = killRuns(t, bin, args(killed), killed, full, r)
		if kills >= 3 {
			break
		}
		t.Logf("attempt %d: the run finished after %d kills; again with kills twice as early", attempt, kills)
		full /= 2
	}

	read := func(dir string) *nn.SafeFile {
		f, err := nn.ReadSafetensors(filepath.Join(dir, "checkpoint.safetensors"))
		require.NoError(t, err)
		require.NoError(t, f.VerifyChecksum(true))
		return f
	}
	a, b := read(straight), read(killed)
	require.Equal(t, len(a.Tensors), len(b.Tensors))
	for _, ta := range a.Tensors {
		tb, ok := b.Get(ta.Name)
		require.True(t, ok, ta.Name)
		require.True(t, bytes.Equal(ta.Data, tb.Data), "tensor %s differs after %d kills", ta.Name, kills)
	}
	assert.Equal(t, a.Metadata["mocogo"], b.Metadata["mocogo"])
	assert.FileExists(t, filepath.Join(killed, "backbone.safetensors"))

	// The log holds steps 1…N once each, in order.
	steps := logSteps(t, filepath.Join(killed, "metrics.jsonl"))
	want := logSteps(t, filepath.Join(straight, "metrics.jsonl"))
	require.NotEmpty(t, want)
	assert.Equal(t, want, steps)
	for i, s := range want {
		require.Equal(t, i+1, s)
	}
	for _, plot := range []string{"loss.svg", "knn.svg", "grad_norm.svg", "lr.svg"} {
		assert.FileExists(t, filepath.Join(killed, plot))
	}
	t.Logf("%d runs, %d killed by SIGKILL (%d while writing a checkpoint); %d steps; checkpoints identical", runs, kills, midWrites, len(steps))
}

// killRuns runs pretrain with args (whose output folder is out) until it
// finishes, killing it with SIGKILL at a random moment within the first
// quarter of full in each of its first five runs and resuming with
// --resume; it returns the kills that landed inside a run, the runs, and
// the kills that found a checkpoint being written.
func killRuns(t *testing.T, bin string, args []string, out string, full time.Duration, r *rand.Rand) (kills, runs, midWrites int) {
	for done := false; !done; runs++ {
		require.Less(t, runs, 40, "the interrupted run never finished")
		a := args
		if _, err := os.Stat(filepath.Join(out, "checkpoint.safetensors")); err == nil {
			a = append(slices.Clip(a), "--resume")
		}
		cmd := exec.Command(bin, a...)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if kills < 5 {
			// Somewhere in the run, start-up included.
			wait := time.Duration((0.03 + 0.2*r.Float64()) * float64(full))
			select {
			case err := <-exited:
				require.NoError(t, err, "%s", log.String())
				done = true
				continue
			case <-time.After(wait):
			}
			if err := cmd.Process.Kill(); !errors.Is(err, os.ErrProcessDone) { // SIGKILL
				require.NoError(t, err)
			}
			err := <-exited
			var ee *exec.ExitError
			if errors.As(err, &ee) && !ee.Exited() {
				kills++
				step := -1
				if f, err := nn.ReadSafetensors(filepath.Join(out, "checkpoint.safetensors")); err == nil {
					var st struct{ Step int }
					json.Unmarshal([]byte(f.Metadata["mocogo"]), &st)
					step = st.Step
				}
				midWrite := ""
				if tmp, _ := filepath.Glob(filepath.Join(out, ".checkpoint.safetensors.tmp*")); len(tmp) > 0 {
					midWrite = " (killed while writing the next one)"
					midWrites++
				}
				t.Logf("killed after %v; the checkpoint on disk is at step %d%s", wait.Round(time.Millisecond), step, midWrite)
				continue
			}
			require.NoError(t, err, "%s", log.String())
			done = true // it finished just before the kill
			continue
		}
		require.NoError(t, <-exited, "%s", log.String())
		done = true
	}
	return kills, runs, midWrites
}

func logSteps(t *testing.T, path string) []int {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var steps []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Type string `json:"type"`
			Step int    `json:"step"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "line %q", sc.Text())
		if l.Type == "step" {
			steps = append(steps, l.Step)
		}
	}
	return steps
}

// Package device turns the --device and --precision flags that pretrain and
// lincls share into an engine backend and an autocast type.
package device

import (
	"fmt"
	"io"
	"time"

	"github.com/mocogo/mocogo/engine"
)

// Precision resolves a --precision flag for the named device: auto is fp16
// on cuda and fp32 on cpu (where half types are emulated, slowly); fp32,
// fp16 and bf16 stand for themselves. It returns the resolved name and the
// engine's autocast type (engine.F32: no autocast).
func Precision(flag, device string) (string, engine.DType, error) {
	switch flag {
	case "auto":
		if device == "cuda" {
			return "fp16", engine.F16, nil
		}
		return "fp32", engine.F32, nil
	case "fp32":
		return flag, engine.F32, nil
	case "fp16":
		return flag, engine.F16, nil
	case "bf16":
		return flag, engine.BF16, nil
	}
	return "", engine.F32, fmt.Errorf("--precision %q: want auto, fp32, fp16 or bf16", flag)
}

// Engine opens the backend named by device and returns an engine on it
// with the autocast type of the (resolved) precision, and a function that
// releases the backend.
func Engine(device, precision string) (*engine.Engine, func(), error) {
	_, dt, err := Precision(precision, device)
	if err != nil {
		return nil, nil, err
	}
	b, release, err := Open(device)
	if err != nil {
		return nil, nil, err
	}
	e := engine.New(b)
	if err := e.SetAutocast(dt); err != nil {
		release()
		return nil, nil, fmt.Errorf("--precision %s on --device %s: %w", precision, device, err)
	}
	return e, release, nil
}

// announceIfSlow runs work. If it is still running after the given time,
// it writes the line begin on w then, and when work returns the line end
// with the seconds it took ("<end> in 12 s."); a quick work writes nothing.
func announceIfSlow(w io.Writer, after time.Duration, begin, end string, work func()) {
	start := time.Now()
	done, said := make(chan struct{}), make(chan bool, 1)
	go func() {
		select {
		case <-done:
			said <- false
		case <-time.After(after):
			fmt.Fprintln(w, begin)
			said <- true
		}
	}()
	work()
	close(done)
	if <-said {
		fmt.Fprintf(w, "%s in %.0f s.\n", end, time.Since(start).Seconds())
	}
}

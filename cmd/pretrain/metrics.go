package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/mocogo/mocogo/internal/svgplot"
	"github.com/mocogo/mocogo/moco"
)

// stepLine is a step's metrics.jsonl line. JSON has no NaN or Inf: the
// gradient norms of a step skipped for overflowing under loss scaling
// are written as null (these fields shadow the embedded ones).
type stepLine struct {
	Type string `json:"type"`
	moco.StepStats
	GradNorm           *float64 `json:"grad_norm"`
	GradNormPatchEmbed *float64 `json:"grad_norm_patch_embed,omitempty"`
	GradNormBlock0     *float64 `json:"grad_norm_block0"`
	// DataSeconds is how long the step waited for its batch (the data
	// time main_moco.py prints): near 0 while the input pipeline keeps
	// ahead of training.
	DataSeconds float64 `json:"data_s"`
}

func newStepLine(st moco.StepStats, wait time.Duration) stepLine {
	finite := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	l := stepLine{Type: "step", StepStats: st, GradNorm: finite(st.GradNorm), GradNormBlock0: finite(st.GradNormBlock0), DataSeconds: wait.Seconds()}
	if st.GradNormPatchEmbed != nil {
		l.GradNormPatchEmbed = finite(*st.GradNormPatchEmbed) // omitted when it overflowed
	}
	return l
}

// logLine is what the plots read from a metrics.jsonl line.
type logLine struct {
	Type      string   `json:"type"`
	Step      int      `json:"step"`
	Skipped   bool     `json:"skipped"`
	Epoch     float64  `json:"epoch"`
	Loss      float64  `json:"loss"`
	LR        float64  `json:"lr"`
	Momentum  float64  `json:"momentum"`
	GradNorm  float64  `json:"grad_norm"`
	GradPatch *float64 `json:"grad_norm_patch_embed"`
	GradBlk0  float64  `json:"grad_norm_block0"`
	Top1      float64  `json:"top1"`
	Top5      float64  `json:"top5"`
}

// truncateLog drops from the metrics log everything written after the
// checkpoint of step keep was: from the first step line past it on, and a
// last line cut short by a kill. A missing log is fine.
func truncateLog(path string, keep int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	end := 0
	for end < len(b) {
		nl := bytes.IndexByte(b[end:], '\n')
		if nl < 0 {
			break // a partial last line
		}
		var l logLine
		if json.Unmarshal(b[end:end+nl], &l) == nil && l.Type == "step" && l.Step > keep {
			break
		}
		end += nl + 1
	}
	if end == len(b) {
		return nil
	}
	return os.Truncate(path, int64(end))
}

// plotFiles are the files writePlots may write.
var plotFiles = []string{"loss.svg", "knn.svg", "grad_norm.svg", "lr.svg", "momentum.svg"}

// writePlots draws loss, kNN accuracy, gradient norms and the schedules
// from the metrics log into SVG files beside it (plotFiles).
func writePlots(metrics, dir string) error {
	f, err := os.Open(metrics)
	if err != nil {
		return err
	}
	defer f.Close()
	var step, loss, lr, mom, gn, gb, gpStep, gp, ep, top1, top5 []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Type {
		case "step":
			x := float64(l.Step)
			step = append(step, x)
			loss, lr, mom = append(loss, l.Loss), append(lr, l.LR), append(mom, l.Momentum)
			if l.Skipped {
				continue // its gradient norms overflowed (null in the log)
			}
			gn, gb = append(gn, l.GradNorm), append(gb, l.GradBlk0)
			if l.GradPatch != nil {
				gpStep, gp = append(gpStep, x), append(gp, *l.GradPatch)
			}
		case "knn":
			ep, top1, top5 = append(ep, l.Epoch), append(top1, 100*l.Top1), append(top5, 100*l.Top5)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", metrics, err)
	}
	grads := []svgplot.Series{{Name: "whole model", X: step, Y: gn}, {Name: "block 0", X: step, Y: gb}}
	gradTitle := "Gradient L2 norms (patch embedding frozen: no gradient)"
	if len(gp) > 0 {
		grads = append(grads, svgplot.Series{Name: "patch embedding", X: gpStep, Y: gp})
		gradTitle = "Gradient L2 norms"
	}
	plots := map[string]*svgplot.Plot{
		"loss.svg":      {Title: "MoCo v3 loss", XLabel: "step", YLabel: "loss", Series: []svgplot.Series{{Name: "loss", X: step, Y: loss}}},
		"knn.svg":       {Title: "kNN accuracy on held-out images", XLabel: "epoch", YLabel: "accuracy (%)", Series: []svgplot.Series{{Name: "top-1", X: ep, Y: top1}, {Name: "top-5", X: ep, Y: top5}}},
		"grad_norm.svg": {Title: gradTitle, XLabel: "step", YLabel: "norm", LogY: true, Series: grads},
		"lr.svg":        {Title: "Learning rate", XLabel: "step", YLabel: "lr", Series: []svgplot.Series{{Name: "lr", X: step, Y: lr}}},
		"momentum.svg":  {Title: "Momentum-encoder coefficient", XLabel: "step", YLabel: "m", Series: []svgplot.Series{{Name: "m", X: step, Y: mom}}},
	}
	if len(ep) == 0 {
		delete(plots, "knn.svg") // a run with no kNN monitor (or none yet)
	}
	for name, p := range plots {
		if err := p.WriteFile(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

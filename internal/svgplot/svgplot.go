// Package svgplot draws line plots as standalone SVG files with the
// standard library only: one or more series against a shared x axis, with
// ticks, grid lines, axis labels and a legend. It is what pretrain uses to
// plot its metrics log.
package svgplot

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// Series is one line: points (X[i], Y[i]); non-finite points are skipped.
type Series struct {
	Name string
	X, Y []float64
}

// Plot is a chart of one or more series.
type Plot struct {
	Title, XLabel, YLabel string
	Series                []Series
	LogY                  bool // logarithmic y axis (positive values only)
	Width, Height         int  // pixels; 0 means 640×360
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

// SVG renders the plot.
func (p *Plot) SVG() []byte {
	w, h := p.Width, p.Height
	if w <= 0 || h <= 0 {
		w, h = 640, 360
	}
	const left, right, top, bottom = 70.0, 20.0, 36.0, 48.0
	pw, ph := float64(w)-left-right, float64(h)-top-bottom
	ty := func(y float64) float64 {
		if p.LogY {
			if y <= 0 {
				return math.NaN()
			}
			return math.Log10(y)
		}
		return y
	}
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		for i := range min(len(s.X), len(s.Y)) {
			x, y := s.X[i], ty(s.Y[i])
			if !ok(x) || !ok(y) {
				continue
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", left, esc(p.Title))
	if xmin > xmax { // nothing to draw
		fmt.Fprintf(&b, `<text x="%g" y="%g" fill="#888">no data</text>`+"\n</svg>\n", left+pw/2-25, top+ph/2)
		return b.Bytes()
	}
	if xmax == xmin {
		xmin, xmax = xmin-1, xmax+1
	}
	if ymax == ymin {
		d := math.Max(math.Abs(ymin)*0.05, 1e-12)
		ymin, ymax = ymin-d, ymax+d
	} else {
		pad := (ymax - ymin) * 0.04
		ymin, ymax = ymin-pad, ymax+pad
	}
	sx := func(x float64) float64 { return left + (x-xmin)/(xmax-xmin)*pw }
	sy := func(y float64) float64 { return top + (ymax-y)/(ymax-ymin)*ph }
	// Grid and ticks.
	for _, t := range ticks(xmin, xmax, 8) {
		x := sx(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x, top, x, top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, top+ph+16, label(t))
	}
	yt := ticks(ymin, ymax, 6)
	if p.LogY {
		// Decades when the range spans two or more, else plain ticks.
		var dec []float64
		for e := math.Ceil(ymin); e <= ymax && len(dec) < 50; e++ {
			dec = append(dec, e)
		}
		if len(dec) >= 2 {
			yt = dec
		}
	}
	for _, t := range yt {
		y := sy(t)
		text := label(t)
		if p.LogY {
			text = strconv.FormatFloat(math.Pow(10, t), 'g', 3, 64)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", left, y, left+pw, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, text)
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", left+pw/2, h-10, esc(p.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, esc(p.YLabel))
	// Lines (a point alone is drawn as a dot).
	for k, s := range p.Series {
		color := palette[k%len(palette)]
		var pts bytes.Buffer
		n := 0
		for i := range min(len(s.X), len(s.Y)) {
			x, y := s.X[i], ty(s.Y[i])
			if !ok(x) || !ok(y) {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", sx(x), sy(y))
			n++
		}
		if n == 1 {
			var x, y float64
			fmt.Sscanf(pts.String(), "%g,%g", &x, &y)
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x, y, color)
		} else if n > 1 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", color, bytes.TrimSpace(pts.Bytes()))
		}
		if s.Name != "" {
			ly := top + 14 + 16*float64(k)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", left+pw-150, ly-4, left+pw-130, ly-4, color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+pw-125, ly, esc(s.Name))
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// WriteFile writes the plot to path (via a temporary file and a rename,
// so a reader never sees half a plot).
func (p *Plot) WriteFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(p.SVG()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	os.Chmod(tmp.Name(), 0o644)
	return os.Rename(tmp.Name(), path)
}

func ok(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func esc(s string) string { return html.EscapeString(s) }

// ticks returns about n round values covering [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if !(span > 0) || !ok(span) {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10(span/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+step*1e-9 && len(out) < 50; t += step {
		if math.Abs(t) < step*1e-9 {
			t = 0
		}
		out = append(out, t)
	}
	return out
}

func label(v float64) string {
	a := math.Abs(v)
	if a != 0 && (a >= 1e5 || a < 1e-3) {
		return strconv.FormatFloat(v, 'e', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

package svgplot

import (
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wellFormed parses the SVG as XML.
func wellFormed(t *testing.T, b []byte) {
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		_, err := d.Token()
		if err != nil {
			require.Equal(t, "EOF", err.Error(), string(b))
			return
		}
	}
}

func TestPlot(t *testing.T) {
	p := &Plot{Title: "loss <&>", XLabel: "step", YLabel: "loss", Series: []Series{
		{Name: "loss", X: []float64{1, 2, 3, 4}, Y: []float64{5, 4, math.NaN(), 2}},
		{Name: "one point", X: []float64{2}, Y: []float64{3}},
	}}
	b := p.SVG()
	wellFormed(t, b)
	s := string(b)
	assert.Contains(t, s, "<polyline")
	assert.Contains(t, s, "<circle")
	assert.Contains(t, s, "loss &lt;&amp;&gt;")
	assert.Equal(t, 3, strings.Count(strings.SplitN(strings.SplitN(s, `points="`, 2)[1], `"`, 2)[0], ",")) // NaN skipped

	// Empty, constant and log plots are still valid.
	wellFormed(t, (&Plot{Title: "empty"}).SVG())
	wellFormed(t, (&Plot{Series: []Series{{X: []float64{1, 2}, Y: []float64{7, 7}}}}).SVG())
	lp := &Plot{LogY: true, Series: []Series{{X: []float64{1, 2, 3}, Y: []float64{1e-3, 0, 10}}}}
	wellFormed(t, lp.SVG())

	path := filepath.Join(t.TempDir(), "p.svg")
	require.NoError(t, p.WriteFile(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, b, got)
}

func TestTicks(t *testing.T) {
	assert.Equal(t, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}, ticks(0, 1, 6))
	assert.Nil(t, ticks(1, 1, 5))
	assert.LessOrEqual(t, len(ticks(-1e300, 1e300, 8)), 50)
}

package cuda

import (
	"fmt"
	"math"
)

// GemmTune's acceptance rule for a candidate kernel's result, outside the
// cuda build so that its test runs on every machine.

// tuneRelTol is how far (relative L2 over the whole output) a candidate's
// result may lie from GemmAuto's: fp32 accumulation in another order and
// one rounding to fp16 or bf16 stay far below it; a wrong tile or a
// missing k-slice is far above.
const tuneRelTol = 1e-2

// tuneCompare says why got is not an acceptable stand-in for want (the
// reference kind's result), or "" when it is: every value finite where
// want's is, and ‖got − want‖ ≤ tuneRelTol·‖want‖.
func tuneCompare(got, want []float64) string {
	var num, den float64
	for i, w := range want {
		g := got[i]
		if math.IsNaN(w) || math.IsInf(w, 0) {
			continue
		}
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return fmt.Sprintf("value %d is %g where GemmAuto's is %g", i, g, w)
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if rel := math.Sqrt(num / max(den, 1e-300)); rel > tuneRelTol {
		return fmt.Sprintf("differs from GemmAuto's result by %.3g (relative L2)", rel)
	}
	return ""
}

package data

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// maxPatternPaths bounds what one pattern may expand to.
const maxPatternPaths = 1 << 20

// IsPattern reports whether s names several files by a pattern that
// ExpandPattern understands: a brace group or a glob character.
func IsPattern(s string) bool {
	return strings.ContainsAny(s, "{*?[")
}

// ExpandPattern lists the files a pattern names, in order, as WebDataset
// names its shards:
//   - {a,b,c} gives each alternative in turn; groups may nest;
//   - {000..127} gives the integers from the first bound to the second
//     (counting down when the second is smaller), zero-padded to the
//     longer bound's width when either bound has a leading zero;
//     {0..10..2} steps by 2, and {a..e} runs over letters;
//   - after the braces, a name with *, ? or [...] that is not itself a
//     file ("run[1]/s-0.tar" may be) matches as filepath.Glob does, its
//     matches sorted.
//
// (the rules of Python's braceexpand, which WebDataset uses). Braces with
// no comma and no range are kept as they are; braces that do not pair up
// are an error. Every file listed must exist; a glob that matches nothing
// is an error, and so is a pattern that names one file twice
// ("s-{00,00}.tar", "{s-00,./s-00}.tar", "s-0*.tar" beside "s-*.tar"):
// its shards would be read twice.
func ExpandPattern(pattern string) ([]string, error) {
	names, err := expandBraces(pattern)
	if err != nil {
		return nil, fmt.Errorf("data: pattern %q: %w", pattern, err)
	}
	var out []string
	for _, n := range names {
		if _, err := os.Stat(n); err == nil || !strings.ContainsAny(n, "*?[") {
			if _, err := os.Stat(n); err != nil {
				return nil, fmt.Errorf("data: pattern %q: %w", pattern, err)
			}
			out = append(out, n)
			continue
		}
		m, err := filepath.Glob(n)
		if err != nil {
			return nil, fmt.Errorf("data: pattern %q: %s: %w", pattern, n, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("data: pattern %q: no file matches %s", pattern, n)
		}
		sort.Strings(m)
		out = append(out, m...)
	}
	if a, b, ok := repeated(out); ok {
		return nil, fmt.Errorf("data: pattern %q names %s twice%s: its shards would be read twice", pattern, out[a], asAlso(out[a], out[b]))
	}
	return out, nil
}

// repeated finds a path that paths hold twice, compared after
// filepath.Clean: the indices of its first two places.
func repeated(paths []string) (a, b int, ok bool) {
	seen := make(map[string]int, len(paths))
	for i, p := range paths {
		c := filepath.Clean(p)
		if j, dup := seen[c]; dup {
			return j, i, true
		}
		seen[c] = i
	}
	return 0, 0, false
}

// asAlso is " (also as b)" where b spells the path a another way, else "".
func asAlso(a, b string) string {
	if a == b {
		return ""
	}
	return " (also as " + b + ")"
}

// expandBraces expands s's brace groups, the leftmost first.
func expandBraces(s string) ([]string, error) {
	if err := checkBraces(s); err != nil {
		return nil, err
	}
	open, close := -1, -1
	depth := 0
	for i := 0; i < len(s) && close < 0; i++ {
		switch s[i] {
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			depth--
			if depth == 0 {
				close = i
			}
		}
	}
	if open < 0 {
		return []string{s}, nil
	}
	head, inner, tail := s[:open], s[open+1:close], s[close+1:]
	alts := splitTopLevel(inner)
	if len(alts) == 1 {
		r, ok, err := braceRange(inner)
		if err != nil {
			return nil, err
		}
		if !ok {
			// Not a group: keep the braces, expand what they hold and
			// what follows them.
			ins, err := expandBraces(inner)
			if err != nil {
				return nil, err
			}
			rest, err := expandBraces(tail)
			if err != nil {
				return nil, err
			}
			if len(ins)*len(rest) > maxPatternPaths {
				return nil, fmt.Errorf("more than %d names", maxPatternPaths)
			}
			var out []string
			for _, in := range ins {
				for _, t := range rest {
					out = append(out, head+"{"+in+"}"+t)
				}
			}
			return out, nil
		}
		alts = r
	}
	var out []string
	for _, a := range alts {
		more, err := expandBraces(head + a + tail)
		if err != nil {
			return nil, err
		}
		if len(out)+len(more) > maxPatternPaths {
			return nil, fmt.Errorf("more than %d names", maxPatternPaths)
		}
		out = append(out, more...)
	}
	return out, nil
}

// splitTopLevel splits s at the commas outside nested braces.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// checkBraces reports braces that do not pair up.
func checkBraces(s string) error {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth--; depth < 0 {
				return fmt.Errorf("unbalanced braces in %q", s)
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("unbalanced braces in %q", s)
	}
	return nil
}

// rangeLetters are the letters a letter range runs over, in order (as
// braceexpand's alphabet): {X..b} is X, Y, Z, a, b.
const rangeLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// braceRange expands "a..b" or "a..b..step": a and b integers, or single
// letters; the step's sign is ignored and a step of 0 is 1, as in
// braceexpand. ok is false for anything else.
func braceRange(s string) (names []string, ok bool, err error) {
	parts := strings.Split(s, "..")
	if len(parts) != 2 && len(parts) != 3 {
		return nil, false, nil
	}
	lo, hi := parts[0], parts[1]
	var step uint64 = 1
	if len(parts) == 3 {
		if !isInteger(parts[2]) {
			return nil, false, nil
		}
		if step, err = strconv.ParseUint(strings.TrimPrefix(parts[2], "-"), 10, 64); err != nil {
			return nil, false, fmt.Errorf("range {%s}: step out of range", s)
		}
		step = max(step, 1)
	}
	var a, b int64
	letters := len(lo) == 1 && len(hi) == 1 && strings.Contains(rangeLetters, lo) && strings.Contains(rangeLetters, hi)
	switch {
	case letters:
		a, b = int64(strings.Index(rangeLetters, lo)), int64(strings.Index(rangeLetters, hi))
	case isInteger(lo) && isInteger(hi):
		a, err = strconv.ParseInt(lo, 10, 64)
		if err == nil {
			b, err = strconv.ParseInt(hi, 10, 64)
		}
		if err != nil {
			return nil, false, fmt.Errorf("range {%s}: bounds out of range", s)
		}
	default:
		return nil, false, nil
	}
	// The distance between the bounds, exact in uint64 for any two int64s.
	span := uint64(b) - uint64(a)
	if b < a {
		span = uint64(a) - uint64(b)
	}
	if span/step >= maxPatternPaths {
		return nil, false, fmt.Errorf("range {%s}: more than %d names", s, maxPatternPaths)
	}
	width := 0
	if !letters && (leadingZero(lo) || leadingZero(hi)) {
		width = max(len(lo), len(hi))
	}
	for i := uint64(0); i <= span/step; i++ {
		// a ± i·step never passes b, so it stays an int64.
		v := int64(uint64(a) + i*step)
		if b < a {
			v = int64(uint64(a) - i*step)
		}
		if letters {
			names = append(names, rangeLetters[v:v+1])
		} else {
			names = append(names, fmt.Sprintf("%0*d", width, v))
		}
	}
	return names, true, nil
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// leadingZero reports a bound written with a leading zero ("007", "-01").
func leadingZero(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return len(s) > 1 && s[0] == '0'
}

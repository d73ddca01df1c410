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
//   - after the braces, *, ? and [...] match as filepath.Glob does, each
//     glob's matches sorted.
//
// (the rules of Python's braceexpand, which WebDataset uses). Braces with
// no comma and no range are kept as they are; braces that do not pair up
// are an error. Every file listed must exist; a glob that matches nothing
// is an error.
func ExpandPattern(pattern string) ([]string, error) {
	names, err := expandBraces(pattern)
	if err != nil {
		return nil, fmt.Errorf("data: pattern %q: %w", pattern, err)
	}
	var out []string
	for _, n := range names {
		if !strings.ContainsAny(n, "*?[") {
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
	return out, nil
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
			// Not a group: keep the braces, expand what follows them.
			rest, err := expandBraces(tail)
			if err != nil {
				return nil, err
			}
			lit := head + "{" + inner + "}"
			out := make([]string, len(rest))
			for i, t := range rest {
				out[i] = lit + t
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

// braceRange expands "a..b" or "a..b..step": a and b integers, or single
// letters; ok is false for anything else.
func braceRange(s string) (names []string, ok bool, err error) {
	parts := strings.Split(s, "..")
	if len(parts) != 2 && len(parts) != 3 {
		return nil, false, nil
	}
	lo, hi := parts[0], parts[1]
	step := 1
	if len(parts) == 3 {
		if !isInteger(parts[2]) {
			return nil, false, nil
		}
		if step, err = strconv.Atoi(parts[2]); err != nil || step == 0 {
			return nil, false, fmt.Errorf("range {%s}: step %s", s, parts[2])
		}
		step = max(step, -step)
	}
	letters := len(lo) == 1 && len(hi) == 1 && isLetter(lo[0]) && isLetter(hi[0])
	if !letters && (!isInteger(lo) || !isInteger(hi)) {
		return nil, false, nil
	}
	var a, b int
	if letters {
		a, b = int(lo[0]), int(hi[0])
	} else {
		a, err = strconv.Atoi(lo)
		if err == nil {
			b, err = strconv.Atoi(hi)
		}
		if err != nil {
			return nil, false, fmt.Errorf("range {%s}: bounds out of range", s)
		}
	}
	if n := (max(a, b) - min(a, b)) / step; n >= maxPatternPaths {
		return nil, false, fmt.Errorf("range {%s}: more than %d names", s, maxPatternPaths)
	}
	width := 0
	if !letters && (leadingZero(lo) || leadingZero(hi)) {
		width = max(len(lo), len(hi))
	}
	if b < a {
		step = -step
	}
	for v := a; step > 0 && v <= b || step < 0 && v >= b; v += step {
		if letters {
			names = append(names, string(rune(v)))
		} else {
			names = append(names, fmt.Sprintf("%0*d", width, v))
		}
	}
	return names, true, nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

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

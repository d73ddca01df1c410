package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The expected lists are what Python's braceexpand 0.1.7 (Debian's
// python3-braceexpand, the expander WebDataset uses) gives for each
// pattern.
func TestExpandBraces(t *testing.T) {
	for pattern, want := range map[string][]string{
		"a{000..003}b":   {"a000b", "a001b", "a002b", "a003b"},
		"s-{0..3}.tar":   {"s-0.tar", "s-1.tar", "s-2.tar", "s-3.tar"},
		"{00..10}":       {"00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10"},
		"{7..10}":        {"7", "8", "9", "10"},
		"{10..7}":        {"10", "9", "8", "7"},
		"{05..3}":        {"05", "04", "03"},
		"x{a,b}{1..2}y":  {"xa1y", "xa2y", "xb1y", "xb2y"},
		"{a,{b,c}d}e":    {"ae", "bde", "cde"},
		"{a}":            {"{a}"},
		"{}":             {"{}"},
		"{1..1}":         {"1"},
		"{-1..1}":        {"-1", "0", "1"},
		"{-01..1}":       {"-01", "000", "001"},
		"{a,}":           {"a", ""},
		"{,a}":           {"", "a"},
		"{0..10..2}":     {"0", "2", "4", "6", "8", "10"},
		"{a..c}":         {"a", "b", "c"},
		"p{1..2}/q{3,4}": {"p1/q3", "p1/q4", "p2/q3", "p2/q4"},
		"{1..3}{a,b}":    {"1a", "1b", "2a", "2b", "3a", "3b"},
		"plain.tar":      {"plain.tar"},
		"{Y..c}":         {"Y", "Z", "a", "b", "c"},
		"{c..a..2}":      {"c", "a"},
		"{0..10..0}":     {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"},
		"{0..10..-4}":    {"0", "4", "8"},
		"{a{1,2}}":       {"{a1}", "{a2}"},
		"a{b}{c,d}":      {"a{b}c", "a{b}d"},
		"{9223372036854775806..9223372036854775807}":   {"9223372036854775806", "9223372036854775807"},
		"{-9223372036854775807..-9223372036854775808}": {"-9223372036854775807", "-9223372036854775808"},
	} {
		got, err := expandBraces(pattern)
		require.NoError(t, err, pattern)
		require.Equal(t, want, got, pattern)
	}
	for _, pattern := range []string{"a{b", "a}b{c,d}", "{{a,b}", "x}"} {
		_, err := expandBraces(pattern)
		require.ErrorContains(t, err, "unbalanced", pattern)
	}
	_, err := expandBraces("{0..99999999}")
	require.ErrorContains(t, err, "more than")
	_, err = expandBraces("{0..999}{0..999}{0..999}")
	require.ErrorContains(t, err, "more than")
	for _, huge := range []string{"{-9223372036854775808..9223372036854775807}", "{-5000000000000000000..5000000000000000000}", "{0..9223372036854775807..1}"} {
		_, err = expandBraces(huge)
		require.ErrorContains(t, err, "more than", huge)
	}
	_, err = expandBraces("{0..9223372036854775808}")
	require.ErrorContains(t, err, "out of range")
}

func TestExpandPattern(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"s-00.tar", "s-01.tar", "s-02.tar", "t-a.tar", "t-b.tar"} {
		writeFile(t, filepath.Join(dir, n), nil)
	}
	got, err := ExpandPattern(filepath.Join(dir, "s-{00..02}.tar"))
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "s-00.tar"), filepath.Join(dir, "s-01.tar"), filepath.Join(dir, "s-02.tar")}, got)
	got, err = ExpandPattern(filepath.Join(dir, "{t,s}-*.tar"))
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "t-a.tar"), filepath.Join(dir, "t-b.tar"),
		filepath.Join(dir, "s-00.tar"), filepath.Join(dir, "s-01.tar"), filepath.Join(dir, "s-02.tar")}, got)
	_, err = ExpandPattern(filepath.Join(dir, "s-{00..03}.tar"))
	require.ErrorIs(t, err, os.ErrNotExist, "every shard a range names must exist")
	require.ErrorContains(t, err, "s-03.tar")
	_, err = ExpandPattern(filepath.Join(dir, "u-*.tar"))
	require.ErrorContains(t, err, "no file matches")
	// A folder whose name holds a glob character is taken as it is.
	odd := filepath.Join(dir, "run[1]")
	require.NoError(t, os.Mkdir(odd, 0o755))
	writeFile(t, filepath.Join(odd, "s-0.tar"), nil)
	writeFile(t, filepath.Join(odd, "s-1.tar"), nil)
	got, err = ExpandPattern(filepath.Join(odd, "s-{0..1}.tar"))
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(odd, "s-0.tar"), filepath.Join(odd, "s-1.tar")}, got)
	require.True(t, IsPattern("a-{0..1}.tar"))
	require.True(t, IsPattern("a-*.tar"))
	require.False(t, IsPattern("/data/train.tar"))
}

// FuzzExpandBraces: any pattern expands without a panic or a hang, to at
// most maxPatternPaths names, and a pattern without braces to itself.
func FuzzExpandBraces(f *testing.F) {
	for _, s := range []string{"s-{000..127}.tar", "{a,{b,c}d}e", "{9223372036854775806..9223372036854775807}", "{Y..c..2}", "{a{1,2}}", "x}{", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 {
			return // a long pattern of small groups may expand to a million names: slow, not wrong
		}
		names, err := expandBraces(s)
		if err != nil {
			return
		}
		if len(names) == 0 || len(names) > maxPatternPaths {
			t.Fatalf("%q: %d names", s, len(names))
		}
		if !strings.ContainsAny(s, "{}") && (len(names) != 1 || names[0] != s) {
			t.Fatalf("%q without braces expanded to %q", s, names)
		}
	})
}

// TestShardsNamedTwice: a pattern or a list of archives that names one
// file twice is refused, naming it, rather than read with its images
// twice; so are two names of one file (a link).
func TestShardsNamedTwice(t *testing.T) {
	dir := t.TempDir()
	paths := writeShards(t, dir, webdatasetShards(t), func(int) bool { return false })
	s0 := paths[0]
	for pattern, also := range map[string]string{
		"shard-{00,00}.tar":          "",
		"shard-{00,01,00}.tar":       "",
		"{shard-00,./shard-00}.tar":  " (also as " + dir + string(filepath.Separator) + "./shard-00.tar)",
		"{shard-*,shard-0[0]}.tar":   "",
		"shard-{00..01}{.tar,*.tar}": "",
	} {
		p := filepath.Join(dir, pattern)
		_, err := ExpandPattern(p)
		require.ErrorContains(t, err, fmt.Sprintf("data: pattern %q names %s twice%s: its shards would be read twice", p, s0, also), pattern)
		_, err = Open(p, "train")
		require.ErrorContains(t, err, "names "+s0+" twice", pattern)
	}
	got, err := ExpandPattern(filepath.Join(dir, "shard-{00,01}.tar"))
	require.NoError(t, err)
	require.Equal(t, paths, got)

	_, err = NewTar([]string{s0, paths[1], dir + "/./shard-00.tar"}, TarOptions{})
	require.ErrorContains(t, err, s0+" is given twice (archives 1 and 3 of 3, also as "+dir+"/./shard-00.tar): its images would be read twice")

	// One file under two names: a link beside it, in a list or a folder.
	link := filepath.Join(dir, "shard-02.tar")
	require.NoError(t, os.Symlink(s0, link))
	_, err = NewTar([]string{s0, paths[1], link}, TarOptions{})
	require.ErrorContains(t, err, s0+" and "+link+" are the same file (archives 1 and 3 of 3): its images would be read twice")
	_, err = Open(dir, "train")
	require.ErrorContains(t, err, "are the same file")
	gz := writeShards(t, t.TempDir(), webdatasetShards(t)[:1], func(int) bool { return true })[0]
	require.NoError(t, os.Link(gz, gz+".hard.tar.gz"))
	_, err = NewTar([]string{gz, gz + ".hard.tar.gz"}, TarOptions{})
	require.ErrorContains(t, err, "are the same file")
}

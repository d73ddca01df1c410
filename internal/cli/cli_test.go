package cli

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNoArgs(t *testing.T) {
	parse := func(args ...string) *flag.FlagSet {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("data", "", "")
		require.NoError(t, fs.Parse(args))
		return fs
	}
	require.NoError(t, NoArgs(parse("--data", "a.tar")))
	require.ErrorContains(t, NoArgs(parse("--data", "s-0.tar", "s-1.tar")), `"s-1.tar": a shell expands an unquoted pattern`)
	require.ErrorContains(t, NoArgs(parse("--data", "x", "y")), `"y" (flags start with --)`)
}

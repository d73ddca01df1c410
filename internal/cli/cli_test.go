package cli

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckArgs(t *testing.T) {
	check := func(args ...string) error {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("data", "", "")
		fs.Float64("lr", 0, "")
		require.NoError(t, fs.Parse(args))
		return CheckArgs(fs, args, "data")
	}
	require.NoError(t, check("--data", "a.tar"))
	require.NoError(t, check("--data=a.tar", "--lr", "-1"))
	require.NoError(t, check("--lr", "1", "--lr", "2"), "other flags may be given again")
	// What bash makes of --data s-{0..1}.tar and of --data=s-{0..1}.tar.
	require.ErrorContains(t, check("--data", "s-0.tar", "s-1.tar"), `"s-1.tar": a shell expands an unquoted pattern`)
	require.ErrorContains(t, check("--data=s-0.tar", "--data=s-1.tar"), "--data is given more than once: a shell expands")
	require.ErrorContains(t, check("-data", "x", "--lr", "1", "--data", "y"), "--data is given more than once")
	require.ErrorContains(t, check("--data", "x", "y"), `"y" (flags start with --)`)
}

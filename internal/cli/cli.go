// Package cli holds what the commands share in reading their command
// lines.
package cli

import (
	"flag"
	"fmt"
	"strings"
)

// NoArgs reports the first argument left after fs's flags: the commands
// take flags only. Where a shell has expanded an unquoted pattern such as
// --data shards/train-{000..127}.tar into many words, the error says to
// quote it.
func NoArgs(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	a := fs.Arg(0)
	low := strings.ToLower(a)
	if strings.HasSuffix(low, ".tar") || strings.HasSuffix(low, ".tar.gz") || strings.HasSuffix(low, ".tgz") {
		return fmt.Errorf("unexpected argument %q: a shell expands an unquoted pattern into one word per file; quote it, as in --data 'shards/train-{000..127}.tar'", a)
	}
	return fmt.Errorf("unexpected argument %q (flags start with --)", a)
}

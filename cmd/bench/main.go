// Command bench measures mocogo's kernels and training steps.
//
//	bench cpu [flags]   CPU kernels (SGEMM GFLOP/s against OpenBLAS)
//	bench gpu [flags]   GPU kernels (needs a binary built with -tags cuda)
//	bench train [flags] the MoCo v3 training step on the CPU (against PyTorch)
//	bench data [flags]  the input pipeline: decode and two views an image (against PyTorch's DataLoader)
//
// Each subcommand prints its own flags with -h.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "cpu":
		err = runCPU(os.Args[2:])
	case "train":
		err = runTrain(os.Args[2:])
	case "gpu":
		err = runGPU(os.Args[2:])
	case "data":
		err = runData(os.Args[2:])
	case "-h", "-help", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown subcommand %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h printed the subcommand's flags: asked for, not a failure.
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bench cpu|gpu|train|data [flags]")
}

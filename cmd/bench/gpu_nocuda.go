//go:build !cuda

package main

import "errors"

func runGPU(args []string) error {
	return errors.New("gpu benchmarks: this binary was built without CUDA (rebuild with -tags cuda)")
}

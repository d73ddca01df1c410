package main

import "errors"

func runGPU(args []string) error { return errors.New("gpu benchmarks: not built yet") }

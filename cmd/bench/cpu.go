package main

import "errors"

func runCPU(args []string) error { return errors.New("cpu benchmarks: not built yet") }

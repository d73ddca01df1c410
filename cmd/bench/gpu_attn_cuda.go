//go:build cuda

package main

func (b *gpuBench) attentionBench() error { return nil }

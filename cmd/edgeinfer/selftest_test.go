package main

import (
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// TestCUDASelfTest runs the child's work in this process: it passes where
// CUDA works; on a machine without it, it fails at the first CUDA session
// with the runtime's reason (after the models were generated and the CPU
// run went through).
func TestCUDASelfTest(t *testing.T) {
	orttest.Require(t)
	err := cudaSelfTest(0)
	rt, rtErr := ort.RuntimeInfo()
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	switch {
	case rt.CUDA && err != nil:
		t.Fatalf("CUDA is available, yet: %v", err)
	case !rt.CUDA && (err == nil || !strings.Contains(err.Error(), "cuda:0 is required but unavailable")):
		t.Fatalf("without CUDA (%s): %v", rt.CUDAUnavailable, err)
	}
}

// A self-test child starts with SelfTestEnv set to the device.
func TestSelfTestDevice(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if _, ok := ort.SelfTestDevice(get); ok {
		t.Fatal("a normal start is taken for a self-test child")
	}
	env[ort.SelfTestEnv] = "3"
	if id, ok := ort.SelfTestDevice(get); !ok || id != 3 {
		t.Fatalf("SelfTestDevice = %d, %v", id, ok)
	}
}

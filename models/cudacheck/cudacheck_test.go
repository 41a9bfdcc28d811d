package cudacheck

import (
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// TestRun runs the child's work in this process: it passes where
// CUDA works; on a machine without it, it fails at the first CUDA session
// with the runtime's reason (after the models were generated and the CPU
// run went through).
func TestRun(t *testing.T) {
	orttest.Require(t)
	err := Run(0)
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

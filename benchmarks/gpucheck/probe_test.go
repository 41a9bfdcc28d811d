package main

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// TestMatMulProbe runs the probe's MatMul model on the CPU and checks its
// output against x·W computed here from the saved weights.
func TestMatMulProbe(t *testing.T) {
	orttest.Require(t)
	path := filepath.Join(t.TempDir(), "matmul.onnx")
	if err := writeMatMul(path); err != nil {
		t.Fatal(err)
	}
	model, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := onnxfile.Float32Values(onnxfile.Initializers(model.GetGraph())["w"], filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wl := matmulWorkload()
	got, err := outputOf(s, wl)
	if err != nil {
		t.Fatal(err)
	}
	in, err := wl.inputs(checkBatch, s)
	if err != nil {
		t.Fatal(err)
	}
	defer destroy(in)
	x := in["x"].(interface{ GetData() []float32 }).GetData()
	if len(got) != checkBatch*matmulOut {
		t.Fatalf("output has %d values, want %d", len(got), checkBatch*matmulOut)
	}
	for r := range checkBatch {
		for c := range matmulOut {
			var want float64
			for k := range matmulIn {
				want += float64(x[r*matmulIn+k]) * float64(w[k*matmulOut+c])
			}
			if d := math.Abs(want - float64(got[r*matmulOut+c])); d > 1e-4 {
				t.Fatalf("y[%d][%d] = %g, want %g", r, c, got[r*matmulOut+c], want)
			}
		}
	}
	if desc, ok := wl.compare(got, got, checkBatch); !ok {
		t.Errorf("an output compared with itself fails: %s", desc)
	}
}

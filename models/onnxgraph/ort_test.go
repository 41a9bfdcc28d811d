package onnxgraph_test

import (
	"math"
	"path/filepath"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

func run(t *testing.T, path string, inputs map[string]onnx.Value) []float32 {
	t.Helper()
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, err := s.BindInputs(inputs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]onnx.Value, len(s.Outputs()))
	if err := s.Run(in, out); err != nil {
		t.Fatal(err)
	}
	y := out[0].(*onnx.Tensor[float32])
	defer y.Destroy()
	return append([]float32(nil), y.GetData()...)
}

func TestExternalDataRunsInONNXRuntime(t *testing.T) {
	orttest.Require(t)
	for _, external := range []bool{false, true} {
		m, w, b := affine(t)
		m.ExternalData = external
		path := filepath.Join(t.TempDir(), "model.onnx")
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 2*16)
		for i := range x {
			x[i] = float32(i%5) - 2
		}
		xt, err := onnx.NewTensor(onnx.NewShape(2, 16), x)
		if err != nil {
			t.Fatal(err)
		}
		got := run(t, path, map[string]onnx.Value{"x": xt})
		xt.Destroy()
		for r := range 2 {
			for c := range 32 {
				want := b[c]
				for k := range 16 {
					want += x[r*16+k] * w[k*32+c]
				}
				want = max(want, 0)
				if d := math.Abs(float64(got[r*32+c] - want)); d > 1e-4 {
					t.Fatalf("external=%v: y[%d,%d] = %v, want %v", external, r, c, got[r*32+c], want)
				}
			}
		}
	}
}

// TestIfSubgraphs checks the control-flow form the merged M2M100 decoder
// needs: branches that read outer-scope inputs and initializers, one with a
// constant of its own.
func TestIfSubgraphs(t *testing.T) {
	orttest.Require(t)
	g := onnxgraph.NewGraph("branchy")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dynamic("n"))
	cond := g.Input("use_cache_branch", onnxgraph.Bool, onnxgraph.Fixed(1))
	shift := g.Float32("shift", []int64{1}, []float32{10})

	then := g.Subgraph("then")
	then.OutputUnshaped(then.Op("Mul", []string{x, then.Float32("two", nil, []float32{2})}), onnxgraph.Float)
	els := g.Subgraph("else")
	els.OutputUnshaped(els.Op("Add", []string{x, shift}), onnxgraph.Float)

	g.Node("If", []string{cond}, []string{"y"},
		onnxgraph.AttrGraph("then_branch", then), onnxgraph.AttrGraph("else_branch", els))
	g.Output("y", onnxgraph.Float, onnxgraph.Dynamic("n"))
	path := filepath.Join(t.TempDir(), "if.onnx")
	if err := onnxgraph.NewModel(g).Save(path); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		flag bool
		want []float32
	}{{true, []float32{2, 4, 6}}, {false, []float32{11, 12, 13}}} {
		xt, _ := onnx.NewTensor(onnx.NewShape(3), []float32{1, 2, 3})
		ct, _ := onnx.NewTensor(onnx.NewShape(1), []bool{tc.flag})
		got := run(t, path, map[string]onnx.Value{"x": xt, "use_cache_branch": ct})
		xt.Destroy()
		ct.Destroy()
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("flag %v: y = %v, want %v", tc.flag, got, tc.want)
				break
			}
		}
	}
}

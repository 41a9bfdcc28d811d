package onnxgraph_test

import (
	"math"
	"path/filepath"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// A block-quantized weight reads back within half a step of each block's
// scale, and ONNX Runtime's MatMulNBits multiplies by exactly the weights
// At dequantizes (K = 40 is not a multiple of the block, so the last block
// is padded).
func TestMatMulNBits8(t *testing.T) {
	orttest.Require(t)
	const k, n, rows, block = 40, 3, 2, 16
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)*0.7)) * float32(1+i%7)
	}
	q := onnxgraph.QuantizeBlocks8(w, k, n, block)
	for r := range k {
		for c := range n {
			step := q.Scales[c*q.Blocks()+r/block]
			if d := math.Abs(float64(q.At(r, c) - w[r*n+c])); d > float64(step)/2+1e-7 {
				t.Fatalf("w[%d,%d] = %v reads back as %v (step %v)", r, c, w[r*n+c], q.At(r, c), step)
			}
		}
	}

	g := onnxgraph.NewGraph("nbits")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dynamic("rows"), onnxgraph.Fixed(k))
	g.Node("Identity", []string{g.MatMulNBits(x, "w", q)}, []string{"y"})
	g.Output("y", onnxgraph.Float, onnxgraph.Dynamic("rows"), onnxgraph.Fixed(n))
	m := onnxgraph.NewModel(g)
	m.Opsets[onnxgraph.MicrosoftDomain] = 1
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	xs := make([]float32, rows*k)
	for i := range xs {
		xs[i] = float32(math.Cos(float64(i)))
	}
	xt, err := onnx.NewTensor(onnx.NewShape(rows, k), xs)
	if err != nil {
		t.Fatal(err)
	}
	defer xt.Destroy()
	y := run(t, path, map[string]onnx.Value{"x": xt})
	for r := range rows {
		for c := range n {
			var want float64
			for i := range k {
				want += float64(xs[r*k+i]) * float64(q.At(i, c))
			}
			if d := math.Abs(float64(y[r*n+c]) - want); d > 1e-5 {
				t.Errorf("y[%d,%d] = %v, want %v", r, c, y[r*n+c], want)
			}
		}
	}
}

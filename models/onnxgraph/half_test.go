package onnxgraph_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/x448/float16"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// TestToFloat16 converts a graph with every float-typed construct and reads
// the written model back: float initializers, inputs, outputs, Cast targets
// and tensor attributes are half, values past the half range are clamped,
// and integer tensors are untouched.
func TestToFloat16(t *testing.T) {
	g := onnxgraph.NewGraph("half")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dynamic("n"))
	mask := g.Input("mask", onnxgraph.Int64, onnxgraph.Dynamic("n"))
	maskF := g.Op("Cast", []string{mask}, onnxgraph.AttrInt("to", int64(onnxgraph.Float)))
	bias := g.Op("Mul", []string{maskF, g.Scalar(-math.MaxFloat32)})
	c := g.Op("Constant", nil, onnxgraph.AttrTensor("value", onnxgraph.Float32Tensor("c", []int64{2}, []float32{0.1, 1e6})))
	y := g.Op("Add", []string{g.Op("Add", []string{x, bias}), c})
	g.Node("Identity", []string{y}, []string{"y"})
	g.Output("y", onnxgraph.Float, onnxgraph.Dynamic("n"))
	g.Output(g.Op("Shape", []string{x}), onnxgraph.Int64, onnxgraph.Fixed(1))
	g.ToFloat16()

	path := filepath.Join(t.TempDir(), "half.onnx")
	if err := onnxgraph.NewModel(g).Save(path); err != nil {
		t.Fatal(err)
	}
	mp, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	gp := mp.GetGraph()
	elem := func(vi *onnxfile.ValueInfoProto) onnxgraph.DataType {
		return onnxgraph.DataType(vi.GetType().GetTensorType().GetElemType())
	}
	if elem(gp.Input[0]) != onnxgraph.Float16 || elem(gp.Input[1]) != onnxgraph.Int64 ||
		elem(gp.Output[0]) != onnxgraph.Float16 || elem(gp.Output[1]) != onnxgraph.Int64 {
		t.Errorf("interface types: inputs %v %v, outputs %v %v", elem(gp.Input[0]), elem(gp.Input[1]), elem(gp.Output[0]), elem(gp.Output[1]))
	}
	halves := func(tp *onnxfile.TensorProto) []float32 {
		if onnxgraph.DataType(tp.GetDataType()) != onnxgraph.Float16 {
			t.Fatalf("%s is %v, want float16", tp.GetName(), onnxgraph.DataType(tp.GetDataType()))
		}
		raw := tp.GetRawData()
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = float16.Frombits(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8).Float32()
		}
		return out
	}
	for _, init := range gp.Initializer {
		if onnxgraph.DataType(init.GetDataType()) == onnxgraph.Float16 {
			if v := halves(init); v[0] != -onnxgraph.MaxFloat16 {
				t.Errorf("initializer %s = %v, want the clamped %v", init.GetName(), v, -onnxgraph.MaxFloat16)
			}
		}
	}
	for _, n := range gp.Node {
		for _, a := range n.Attribute {
			switch {
			case n.GetOpType() == "Cast" && a.GetI() != int64(onnxgraph.Float16):
				t.Errorf("Cast to %v, want float16", onnxgraph.DataType(a.GetI()))
			case n.GetOpType() == "Constant":
				if v := halves(a.GetT()); v[0] != float16.Fromfloat32(0.1).Float32() || v[1] != onnxgraph.MaxFloat16 {
					t.Errorf("Constant = %v", v)
				}
			}
		}
	}
}

func TestToFloat16RefusesSubgraphs(t *testing.T) {
	g := onnxgraph.NewGraph("branchy")
	cond := g.Input("c", onnxgraph.Bool, onnxgraph.Fixed(1))
	then := g.Subgraph("then")
	then.OutputUnshaped(then.Float32("one", nil, []float32{1}), onnxgraph.Float)
	g.Node("If", []string{cond}, []string{"out"}, onnxgraph.AttrGraph("then_branch", then), onnxgraph.AttrGraph("else_branch", then))
	defer func() {
		if recover() == nil {
			t.Fatal("ToFloat16 accepted a graph with a subgraph")
		}
	}()
	g.ToFloat16()
}

package onnxgraph_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// affine builds y = relu(x·W + b) with a dynamic batch, W big enough to go
// external when asked.
func affine(t *testing.T) (*onnxgraph.Model, []float32, []float32) {
	t.Helper()
	const in, out = 16, 32
	w := make([]float32, in*out)
	for i := range w {
		w[i] = float32(i%7) - 3
	}
	b := make([]float32, out)
	for i := range b {
		b[i] = float32(i) / 10
	}
	g := onnxgraph.NewGraph("affine")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dynamic("batch_size"), onnxgraph.Fixed(in))
	h := g.Op("MatMul", []string{x, g.Float32("w", []int64{in, out}, w)})
	h = g.Op("Add", []string{h, g.Float32("b", []int64{out}, b)})
	g.Node("Relu", []string{h}, []string{"y"})
	g.Output("y", onnxgraph.Float, onnxgraph.Dynamic("batch_size"), onnxgraph.Fixed(out))
	return onnxgraph.NewModel(g), w, b
}

func TestSaveRoundTrip(t *testing.T) {
	for _, external := range []bool{false, true} {
		m, w, b := affine(t)
		m.ExternalData = external
		path := filepath.Join(t.TempDir(), "model.onnx")
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(path + "_data")
		if external != (statErr == nil) {
			t.Fatalf("external=%v but data file stat: %v", external, statErr)
		}

		mp, err := onnxfile.ReadModel(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := mp.GetOpsetImport()[0].GetVersion(); got != onnxgraph.DefaultOpset {
			t.Errorf("opset %d, want %d", got, onnxgraph.DefaultOpset)
		}
		inits := onnxfile.Initializers(mp.GetGraph())
		gotW, err := onnxfile.Float32Values(inits["w"], filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		gotB, err := onnxfile.Float32Values(inits["b"], filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gotW, w) || !slices.Equal(gotB, b) {
			t.Errorf("external=%v: initializers changed in the round trip", external)
		}
		if external && inits["w"].GetDataLocation() != onnxfile.TensorProto_EXTERNAL {
			t.Errorf("w should be external")
		}
		if inits["b"].GetDataLocation() == onnxfile.TensorProto_EXTERNAL {
			t.Errorf("b (128 bytes) should stay inline")
		}

		ins, outs, err := onnxfile.ReadInterface(path)
		if err != nil {
			t.Fatal(err)
		}
		wantIn := []onnxfile.Value{{Name: "x", Type: onnxgraph.Float, Dims: []onnxgraph.Dim{onnxgraph.Dynamic("batch_size"), onnxgraph.Fixed(16)}}}
		wantOut := []onnxfile.Value{{Name: "y", Type: onnxgraph.Float, Dims: []onnxgraph.Dim{onnxgraph.Dynamic("batch_size"), onnxgraph.Fixed(32)}}}
		if !slices.EqualFunc(ins, wantIn, sameValue) || !slices.EqualFunc(outs, wantOut, sameValue) {
			t.Errorf("interface = %v -> %v, want %v -> %v", ins, outs, wantIn, wantOut)
		}
	}
}

func sameValue(a, b onnxfile.Value) bool {
	return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Dims, b.Dims)
}

func TestSaveRemovesStaleExternalData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.onnx")
	m, _, _ := affine(t)
	m.ExternalData = true
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	m, _, _ = affine(t)
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "_data"); !os.IsNotExist(err) {
		t.Fatalf("stale %s_data left beside an inline model (stat: %v)", path, err)
	}
}

func TestBuilderRejectsMisuse(t *testing.T) {
	cases := map[string]func(g *onnxgraph.Graph){
		"duplicate value": func(g *onnxgraph.Graph) {
			g.Input("x", onnxgraph.Float)
			g.Float32("x", nil, []float32{1})
		},
		"short data":       func(g *onnxgraph.Graph) { g.Float32("w", []int64{2, 3}, make([]float32, 5)) },
		"undefined output": func(g *onnxgraph.Graph) { g.Output("nope", onnxgraph.Float) },
		"subgraph shadows": func(g *onnxgraph.Graph) {
			g.Input("x", onnxgraph.Float)
			g.Subgraph("then").Node("Identity", []string{"x"}, []string{"x"})
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			build(onnxgraph.NewGraph("g"))
		})
	}
}

func TestReadInterfaceRejectsTruncatedFile(t *testing.T) {
	m, _, _ := affine(t)
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.onnx")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := onnxfile.ReadInterface(cut); err == nil {
		t.Error("ReadInterface accepted a model cut in half")
	}
}

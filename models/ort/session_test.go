package ort_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// scaleModel declares its inputs in the order (offset, x) and has two
// outputs, so binding by declared order is exercised:
// scaled = x*2 + offset (float32 [batch_size, 3]), shape = x's shape.
func scaleModel(t *testing.T) string {
	t.Helper()
	g := onnxgraph.NewGraph("scale")
	offset := g.Input("offset", onnxgraph.Float, onnxgraph.Fixed(3))
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dynamic("batch_size"), onnxgraph.Fixed(3))
	doubled := g.Op("Mul", []string{x, g.Scalar(2)})
	g.Node("Add", []string{doubled, offset}, []string{"scaled"})
	g.Node("Shape", []string{x}, []string{"shape"})
	g.Output("scaled", onnxgraph.Float, onnxgraph.Dynamic("batch_size"), onnxgraph.Fixed(3))
	g.Output("shape", onnxgraph.Int64, onnxgraph.Fixed(2))
	path := filepath.Join(t.TempDir(), "scale.onnx")
	if err := onnxgraph.NewModel(g).Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVersionMatchesSetup(t *testing.T) {
	orttest.Require(t)
	v := ort.Version()
	if v == "" {
		t.Fatal("no version after a successful Init")
	}
	if want := ort.ExpectedVersion(); want != "" && v != want {
		t.Errorf("loaded ONNX Runtime %s, setup recorded %s", v, want)
	}
}

func TestSessionDeclaresAndRuns(t *testing.T) {
	orttest.Require(t)
	s, err := ort.Open(scaleModel(t), ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	wantIn := []ort.Info{
		{Name: "offset", Type: onnx.TensorElementDataTypeFloat, Shape: []int64{3}},
		{Name: "x", Type: onnx.TensorElementDataTypeFloat, Shape: []int64{-1, 3}},
	}
	wantOut := []ort.Info{
		{Name: "scaled", Type: onnx.TensorElementDataTypeFloat, Shape: []int64{-1, 3}},
		{Name: "shape", Type: onnx.TensorElementDataTypeInt64, Shape: []int64{2}},
	}
	sameInfo := func(a, b ort.Info) bool {
		return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Shape, b.Shape)
	}
	if !slices.EqualFunc(s.Inputs(), wantIn, sameInfo) || !slices.EqualFunc(s.Outputs(), wantOut, sameInfo) {
		t.Fatalf("declared %v -> %v, want %v -> %v", s.Inputs(), s.Outputs(), wantIn, wantOut)
	}
	if s.InputIndex("x") != 1 || s.OutputIndex("shape") != 1 || s.InputIndex("token_type_ids") != -1 {
		t.Errorf("indexes: x=%d shape=%d missing=%d", s.InputIndex("x"), s.OutputIndex("shape"), s.InputIndex("token_type_ids"))
	}

	offset, err := onnx.NewTensor(onnx.NewShape(3), []float32{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	defer offset.Destroy()
	x, err := onnx.NewTensor(onnx.NewShape(2, 3), []float32{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Destroy()
	scaled, err := onnx.NewEmptyTensor[float32](onnx.NewShape(2, 3))
	if err != nil {
		t.Fatal(err)
	}
	defer scaled.Destroy()

	// Extra names are ignored, the way an engine feeds token_type_ids to a
	// model that may not declare it.
	inputs, err := s.BindInputs(map[string]onnx.Value{"x": x, "offset": offset, "token_type_ids": x})
	if err != nil {
		t.Fatal(err)
	}
	// The second round rewrites the reused input tensors in place.
	for round, want := range [][]float32{{3, 6, 9, 9, 12, 15}, {-2, 6, 9, 6, 12, 15}} {
		outputs := []onnx.Value{scaled, nil}
		if err := s.Run(inputs, outputs); err != nil {
			t.Fatal(err)
		}
		if got := scaled.GetData(); !slices.Equal(got, want) {
			t.Errorf("round %d: scaled = %v, want %v", round, got, want)
		}
		shape := outputs[1].(*onnx.Tensor[int64])
		if got := shape.GetData(); !slices.Equal(got, []int64{2, 3}) {
			t.Errorf("round %d: shape = %v, want [2 3]", round, got)
		}
		shape.Destroy()
		x.GetData()[0] = 0
		offset.GetData()[0] = -2
	}
	if _, err := s.BindInputs(map[string]onnx.Value{"x": x}); err == nil {
		t.Error("BindInputs accepted a missing declared input")
	}
	if err := s.Run([]onnx.Value{x}, []onnx.Value{nil, nil}); err == nil {
		t.Error("Run accepted too few inputs")
	}
}

// initializerAsInput is scaleModel's graph plus a weight that is also listed
// as a graph input, as IR 3 exports (the ONNX zoo's ResNet) list them.
func initializerAsInput(t *testing.T) string {
	t.Helper()
	g := onnxgraph.NewGraph("ir3")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dynamic("N"), onnxgraph.Fixed(2))
	w := g.Float32("w", []int64{2, 2}, []float32{1, 2, 3, 4})
	g.Node("MatMul", []string{x, w}, []string{"y"})
	g.Output("y", onnxgraph.Float, onnxgraph.Dynamic("N"), onnxgraph.Fixed(2))
	path := filepath.Join(t.TempDir(), "ir3.onnx")
	if err := onnxgraph.NewModel(g).Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	elem := int32(onnxgraph.Float)
	m.Graph.Input = append(m.Graph.Input, &onnxfile.ValueInfoProto{
		Name: proto.String("w"),
		Type: &onnxfile.TypeProto{Value: &onnxfile.TypeProto_TensorType{TensorType: &onnxfile.TypeProto_Tensor{ElemType: &elem}}},
	})
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDeclaredMatchesRuntime holds the session's view of a model (read from
// the file) equal to ONNX Runtime's own.
func TestDeclaredMatchesRuntime(t *testing.T) {
	orttest.Require(t)
	for _, path := range []string{scaleModel(t), initializerAsInput(t)} {
		s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		wantIn, wantOut, err := onnx.GetInputOutputInfo(path)
		if err != nil {
			t.Fatal(err)
		}
		same := func(got []ort.Info, want []onnx.InputOutputInfo) bool {
			return slices.EqualFunc(got, want, func(a ort.Info, b onnx.InputOutputInfo) bool {
				return a.Name == b.Name && a.Type == b.DataType && slices.Equal(a.Shape, []int64(b.Dimensions))
			})
		}
		if !same(s.Inputs(), wantIn) || !same(s.Outputs(), wantOut) {
			t.Errorf("%s: session declares %v -> %v, ONNX Runtime says %v -> %v", path, s.Inputs(), s.Outputs(), wantIn, wantOut)
		}
		s.Close()
	}
}

// TestCUDASessionFallsBackOrFails opens a model for CUDA. Where the
// process runs the CUDA build with a CUDA device, the session must be on
// CUDA; elsewhere (this machine has no GPU) it must run on the CPU, saying
// why, and fail with a *DeviceError when the device is required.
func TestCUDASessionFallsBackOrFails(t *testing.T) {
	orttest.Require(t)
	rt, err := ort.RuntimeInfo()
	if err != nil {
		t.Fatal(err)
	}
	path := scaleModel(t)
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1, Device: "cuda"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rt.CUDA {
		if s.ExecutionProvider() != ort.CUDAProvider || !s.OnGPU() || s.Fallback() != "" {
			t.Fatalf("CUDA runtime %+v, but the session runs on %s (fallback %q)", rt, s.ExecutionProvider(), s.Fallback())
		}
		return
	}
	if rt.CUDAUnavailable == "" {
		t.Fatalf("runtime %+v has no CUDA and no reason why", rt)
	}
	if s.ExecutionProvider() != ort.CPUProvider || s.OnGPU() || s.Fallback() != rt.CUDAUnavailable {
		t.Errorf("session on %s, fallback %q; want the CPU and the runtime's reason %q", s.ExecutionProvider(), s.Fallback(), rt.CUDAUnavailable)
	}
	_, err = ort.Open(path, ort.Options{IntraOpThreads: 1, Device: "cuda:1", RequireDevice: true})
	var devErr *ort.DeviceError
	if !errors.As(err, &devErr) || devErr.Device != "cuda:1" || devErr.Reason != rt.CUDAUnavailable {
		t.Errorf("required cuda:1 gave %v, want a *DeviceError for cuda:1 with the runtime's reason", err)
	}
	if _, err := ort.Open(path, ort.Options{Device: "gpu"}); err == nil {
		t.Error("Open accepted device \"gpu\"")
	}
	cpu, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	if cpu.ExecutionProvider() != ort.CPUProvider || cpu.Fallback() != "" {
		t.Errorf("CPU session reports %s, fallback %q", cpu.ExecutionProvider(), cpu.Fallback())
	}
}

// TestBadCUDAOptionsAreRefused: the CUDA provider aborts the process on an
// option it does not know, so Open must refuse one before any provider
// sees it, whatever runtime is loaded.
func TestBadCUDAOptionsAreRefused(t *testing.T) {
	orttest.Require(t)
	_, err := ort.Open(scaleModel(t), ort.Options{Device: "cuda", CUDA: ort.CUDAOptions{Extra: map[string]string{"gpu_turbo": "1"}}})
	if err == nil || !strings.Contains(err.Error(), "gpu_turbo") {
		t.Fatalf("Open with an unknown CUDA option = %v, want an error naming it", err)
	}
}

// Package cudacheck is the work of the CUDA self-test child (see
// ort.SetSelfTest): it generates the tiny synthetic BGE and ResNet-50, runs
// each on a CUDA device and on the CPU with the same inputs, and reports
// whether they agree. A program's main runs Run when ort.SelfTestDevice says
// the process is such a child.
package cudacheck

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// Models are what the self-test runs: the tiny synthetic BGE (embedding
// tables, attention, LayerNorm, GELU) and ResNet-50 (convolutions, pooling),
// which between them use the operators the ONNX models here need.
var Models = []string{"@cf/baai/bge-small-en-v1.5", synth.ResNetModelID}

// Tolerance bounds |CUDA − CPU| for an output value of the tiny models;
// TF32 (on by default) keeps about 3 decimal digits.
const Tolerance = 1e-2

// Run is the child's work: Models on CUDA device id, each against the CPU.
// A crash here ends only the child.
func Run(id int) error {
	ort.PreferCUDA(true)
	dir, err := os.MkdirTemp("", "edgeinfer-cuda-selftest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir}, Models, io.Discard); err != nil {
		return err
	}
	for _, model := range Models {
		path := filepath.Join(dir, filepath.FromSlash(model), "onnx", "model.onnx")
		if err := Compare(path, id); err != nil {
			return fmt.Errorf("%s: %w", model, err)
		}
	}
	return nil
}

// Compare runs the model at path on the CPU and on cuda:id with the same
// inputs and compares the first output, within Tolerance.
func Compare(path string, id int) error {
	var outs [2][]float32
	for i, o := range []ort.Options{{IntraOpThreads: 1}, {Device: fmt.Sprintf("cuda:%d", id), RequireDevice: true}} {
		s, err := ort.Open(path, o)
		if err != nil {
			return err
		}
		outs[i], err = runOnce(s)
		s.Close()
		if err != nil {
			return fmt.Errorf("run on %s: %w", s.ExecutionProvider(), err)
		}
	}
	var worst float64
	for i := range outs[0] {
		worst = max(worst, math.Abs(float64(outs[0][i]-outs[1][i])))
	}
	if len(outs[0]) != len(outs[1]) || math.IsNaN(worst) || worst > Tolerance {
		return fmt.Errorf("CUDA and the CPU disagree by %g (tolerance %g)", worst, Tolerance)
	}
	return nil
}

// runOnce runs s on deterministic inputs (dynamic axes: batch 2, length 8;
// token ids within the vocabulary, an all-ones attention mask) and returns
// its first output.
func runOnce(s *ort.Session) ([]float32, error) {
	values := map[string]onnx.Value{}
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for _, in := range s.Inputs() {
		shape, n := make(onnx.Shape, len(in.Shape)), 1
		for i, d := range in.Shape {
			if d < 0 {
				d = []int64{2, 8}[min(i, 1)]
			}
			shape[i], n = d, n*int(d)
		}
		var v onnx.Value
		var err error
		switch in.Type {
		case onnx.TensorElementDataTypeInt64:
			data := make([]int64, n)
			for i := range data {
				switch in.Name {
				case "attention_mask":
					data[i] = 1
				case "token_type_ids":
				default:
					data[i] = 1000 + int64(i*37%500)
				}
			}
			v, err = onnx.NewTensor(shape, data)
		case ort.Float32:
			data := make([]float32, n)
			for i := range data {
				data[i] = float32(math.Sin(float64(i)))
			}
			v, err = onnx.NewTensor(shape, data)
		default:
			err = fmt.Errorf("input %s has type %v", in.Name, in.Type)
		}
		if err != nil {
			return nil, err
		}
		values[in.Name] = v
	}
	inputs, err := s.BindInputs(values)
	if err != nil {
		return nil, err
	}
	outputs := make([]onnx.Value, len(s.Outputs()))
	if err := s.Run(inputs, outputs); err != nil {
		return nil, err
	}
	defer func() {
		for _, v := range outputs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	t, ok := outputs[0].(*onnx.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("output %s is not float32", s.Outputs()[0].Name)
	}
	return append([]float32(nil), t.GetData()...), nil
}

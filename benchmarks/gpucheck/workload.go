package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// workload is one model file with deterministic inputs at any batch size,
// and the comparison of its output between two devices.
type workload struct {
	name, id, unit string
	// file is the model inside the model directory; half marks the fp16
	// export, checked against the fp32 file (fp32File) on the CPU.
	file string
	half bool
	// output is the output watched; dynamic gives the sizes of its dynamic
	// axes, in order, for a batch.
	output  string
	dynamic func(batch int) []int64
	// inputs makes the inputs of a batch for sess (float inputs in the
	// element type sess declares).
	inputs func(batch int, sess *ort.Session) (map[string]onnx.Value, error)
	// compare checks gpu against cpu (the output for the same inputs) and
	// describes the difference.
	compare func(cpu, gpu []float32, batch int) (string, bool)
}

const (
	fp32File = "onnx/model.onnx"
	fp16File = "onnx/model_fp16.onnx"
)

// Tolerances of the CUDA-versus-CPU check, with fp32 math on both sides
// (TF32 off): accumulation order differs between cuBLAS/cuDNN and ORT's CPU
// kernels, nothing else should.
const (
	embeddingTolerance = 1e-3 // max |Δ| of an L2-normalized, mean-pooled embedding component
	logitTolerance     = 1e-2 // max |Δ| of a ResNet logit; top-5 must agree up to ties within it
)

// Tolerances of an fp16 export against the fp32 one on the CPU: every
// weight and activation is rounded to 11 significant bits. On the CPU (ORT
// casting around its missing half kernels) the full-size synthetic models
// differ by 2.3e-4 (embeddings) and 1.7e-3 (logits); the margin is for
// CUDA's half kernels, which also keep some intermediates in half.
const (
	halfEmbeddingTolerance = 5e-3
	halfLogitTolerance     = 2e-2
)

// Sequence length of the embedding workload: a typical sentence batch.
const seqLen = 128

// fp16 returns w for the half-precision export.
func (w workload) fp16() workload {
	w.name = strings.Replace(w.name, "fp32", "fp16", 1)
	w.file, w.half = fp16File, true
	return w
}

func bgeWorkload() workload {
	const id = "@cf/baai/bge-base-en-v1.5"
	return workload{
		name: "bge-base fp32 (seq 128)", id: id, unit: "sentences", file: fp32File, output: "last_hidden_state",
		dynamic: func(batch int) []int64 { return []int64{int64(batch), seqLen} },
		inputs: func(batch int, _ *ort.Session) (map[string]onnx.Value, error) {
			rng := rand.New(rand.NewPCG(1, uint64(batch)))
			ids := make([]int64, batch*seqLen)
			mask := make([]int64, batch*seqLen)
			for r := range batch {
				for c := range seqLen {
					ids[r*seqLen+c] = 1000 + rng.Int64N(28000)
					mask[r*seqLen+c] = 1
				}
				ids[r*seqLen], ids[r*seqLen+seqLen-1] = 101, 102 // [CLS] … [SEP]
			}
			return tensors(onnx.NewShape(int64(batch), seqLen), map[string][]int64{
				"input_ids": ids, "attention_mask": mask, "token_type_ids": make([]int64, batch*seqLen)})
		},
		compare: compareEmbeddings(embeddingTolerance),
	}
}

func compareEmbeddings(tolerance float64) func(cpu, gpu []float32, batch int) (string, bool) {
	return func(cpu, gpu []float32, batch int) (string, bool) {
		hidden := len(cpu) / (batch * seqLen)
		var worst float64
		for r := range batch {
			a := meanPool(cpu[r*seqLen*hidden:(r+1)*seqLen*hidden], hidden)
			b := meanPool(gpu[r*seqLen*hidden:(r+1)*seqLen*hidden], hidden)
			worst = max(worst, maxAbsDiff(a, b))
		}
		return fmt.Sprintf("embeddings max |Δ| %.2e (tolerance %.0e); hidden states max |Δ| %.2e",
			worst, tolerance, maxAbsDiff(cpu, gpu)), worst <= tolerance
	}
}

func resnetWorkload() workload {
	const id = "@cf/microsoft/resnet-50"
	return workload{
		name: "resnet-50 fp32 (224×224)", id: id, unit: "images", file: fp32File, output: "logits",
		dynamic: func(batch int) []int64 { return []int64{int64(batch)} },
		inputs: func(batch int, sess *ort.Session) (map[string]onnx.Value, error) {
			rng := rand.New(rand.NewPCG(2, uint64(batch)))
			pixels := ort.Floats{Type: sess.Inputs()[0].Type}
			pixels.Resize(batch * 3 * 224 * 224)
			for i := range pixels.Data {
				pixels.Data[i] = float32(rng.NormFloat64()) // a normalized image's range
			}
			t, err := pixels.Input(onnx.NewShape(int64(batch), 3, 224, 224))
			if err != nil {
				return nil, err
			}
			return map[string]onnx.Value{"pixel_values": t}, nil
		},
		compare: compareLogits(logitTolerance),
	}
}

func compareLogits(tolerance float64) func(cpu, gpu []float32, batch int) (string, bool) {
	return func(cpu, gpu []float32, batch int) (string, bool) {
		classes := len(cpu) / batch
		ok := maxAbsDiff(cpu, gpu) <= tolerance
		disagree := 0
		for r := range batch {
			a, b := cpu[r*classes:(r+1)*classes], gpu[r*classes:(r+1)*classes]
			if !top5Agree(a, b, tolerance) || !top5Agree(b, a, tolerance) {
				disagree++
			}
		}
		return fmt.Sprintf("logits max |Δ| %.2e (tolerance %.0e); top-5 disagrees on %d of %d images",
			maxAbsDiff(cpu, gpu), tolerance, disagree, batch), ok && disagree == 0
	}
}

// bgeHalfWorkload and resnetHalfWorkload are the fp16 exports, with the
// half-precision tolerances.
func bgeHalfWorkload() workload {
	w := bgeWorkload().fp16()
	w.compare = compareEmbeddings(halfEmbeddingTolerance)
	return w
}

func resnetHalfWorkload() workload {
	w := resnetWorkload().fp16()
	w.compare = compareLogits(halfLogitTolerance)
	return w
}

func (w workload) path(modelsDir string) string {
	return filepath.Join(modelsDir, filepath.FromSlash(w.id), filepath.FromSlash(w.file))
}

func tensors(shape onnx.Shape, data map[string][]int64) (map[string]onnx.Value, error) {
	values := map[string]onnx.Value{}
	for name, d := range data {
		t, err := onnx.NewTensor(shape, d)
		if err != nil {
			destroy(values)
			return nil, err
		}
		values[name] = t
	}
	return values, nil
}

func destroy(values map[string]onnx.Value) {
	for _, v := range values {
		v.Destroy()
	}
}

// runner runs one session on one batch of inputs repeatedly, into an
// output tensor allocated once (float32 or float16, as declared).
type runner struct {
	sess    *ort.Session
	inputs  []onnx.Value
	values  map[string]onnx.Value
	outputs []onnx.Value
	out     int
	result  ort.Floats
}

func newRunner(sess *ort.Session, w workload, batch int) (*runner, error) {
	out := sess.OutputIndex(w.output)
	if out < 0 {
		return nil, fmt.Errorf("%s declares no %s output", sess.Path(), w.output)
	}
	info := sess.Outputs()[out]
	if err := ort.CheckFloat(sess.Path(), info); err != nil {
		return nil, err
	}
	values, err := w.inputs(batch, sess)
	if err != nil {
		return nil, err
	}
	inputs, err := sess.BindInputs(values)
	if err != nil {
		destroy(values)
		return nil, err
	}
	r := &runner{sess: sess, inputs: inputs, values: values, out: out, result: ort.Floats{Type: info.Type}}
	shape, n := make(onnx.Shape, len(info.Shape)), 1
	dyn := w.dynamic(batch)
	for i, d := range info.Shape {
		if d < 0 {
			d, dyn = dyn[0], dyn[1:]
		}
		shape[i], n = d, n*int(d)
	}
	r.result.Resize(n)
	r.outputs = make([]onnx.Value, len(sess.Outputs()))
	if r.outputs[out], err = r.result.Output(shape); err != nil {
		destroy(values)
		return nil, err
	}
	if err := r.run(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// run runs the batch; outputs other than the watched one are allocated by
// the runtime and dropped.
func (r *runner) run() error {
	for i, v := range r.outputs {
		if i != r.out && v != nil {
			v.Destroy()
			r.outputs[i] = nil
		}
	}
	return r.sess.Run(r.inputs, r.outputs)
}

// output copies the watched output as float32.
func (r *runner) output() []float32 {
	r.result.Decode(0, len(r.result.Data))
	return slices.Clone(r.result.Data)
}

func (r *runner) close() {
	for _, v := range r.outputs {
		if v != nil {
			v.Destroy()
		}
	}
	destroy(r.values)
}

// meanPool averages [tokens, hidden] states over tokens and L2-normalizes.
func meanPool(states []float32, hidden int) []float32 {
	acc := make([]float64, hidden)
	tokens := len(states) / hidden
	for t := range tokens {
		for h, v := range states[t*hidden : (t+1)*hidden] {
			acc[h] += float64(v)
		}
	}
	var norm float64
	for _, v := range acc {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	out := make([]float32, hidden)
	for h, v := range acc {
		out[h] = float32(v / norm)
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	var worst float64
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

// top5Agree reports whether every label in b's top 5 is, by a's logits,
// within tol of a's 5th best: the same top 5 up to near-ties.
func top5Agree(a, b []float32, tol float64) bool {
	topA, topB := top5(a), top5(b)
	fifth := float64(a[topA[4]])
	for _, label := range topB {
		if float64(a[label]) < fifth-tol {
			return false
		}
	}
	return true
}

func top5(logits []float32) []int {
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		switch {
		case logits[x] > logits[y]:
			return -1
		case logits[x] < logits[y]:
			return 1
		}
		return 0
	})
	return idx[:5]
}

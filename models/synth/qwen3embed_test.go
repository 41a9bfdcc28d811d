package synth

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// runQwen3Embedding runs a Qwen3-Embedding file and returns
// last_hidden_state, flattened, and its shape.
func runQwen3Embedding(t *testing.T, path string, ids, mask [][]int64) ([]float32, []int64) {
	t.Helper()
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Inputs()) != 2 || len(s.Outputs()) != 1 || s.Outputs()[0].Name != "last_hidden_state" {
		t.Fatalf("%s: inputs %v, outputs %v", path, s.Inputs(), s.Outputs())
	}
	shape := onnx.NewShape(int64(len(ids)), int64(len(ids[0])))
	values := map[string]onnx.Value{}
	for name, rows := range map[string][][]int64{"input_ids": ids, "attention_mask": mask} {
		tensor, err := onnx.NewTensor(shape, slices.Concat(rows...))
		if err != nil {
			t.Fatal(err)
		}
		defer tensor.Destroy()
		values[name] = tensor
	}
	in, err := s.BindInputs(values)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]onnx.Value, 1)
	if err := s.Run(in, out); err != nil {
		t.Fatal(err)
	}
	y := out[0].(*onnx.Tensor[float32])
	defer y.Destroy()
	return slices.Clone(y.GetData()), slices.Clone([]int64(y.GetShape()))
}

// qwen3Batch is three right-padded sequences of 13, 7 and 1 tokens, each
// ending in <|endoftext|> as the tokenizer leaves them, padded with it.
func qwen3Batch(t *testing.T, d Qwen3Dims) (ids, mask [][]int64) {
	t.Helper()
	eot, err := qwen3EndOfTextID(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{13, 7, 1} {
		row, m := make([]int64, 13), make([]int64, 13)
		for c := range row {
			row[c], m[c] = int64(eot), 0
			if c < n-1 {
				row[c], m[c] = int64((i*37+c*101)%(d.Vocab-3)), 1
			} else if c == n-1 {
				m[c] = 1
			}
		}
		ids, mask = append(ids, row), append(mask, m)
	}
	return ids, mask
}

// The fp32 file is Qwen3Model: every real position of a right-padded batch
// matches the float64 reference run on that sequence alone.
func TestTinyQwen3EmbeddingMatchesReference(t *testing.T) {
	orttest.Require(t)
	root := generateTiny(t, 0, Qwen3EmbeddingModel)
	d, err := Qwen3EmbeddingDims(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, Qwen3EmbeddingModel, Qwen3EmbeddingModelFile)
	ids, mask := qwen3Batch(t, d)
	got, shape := runQwen3Embedding(t, path, ids, mask)
	if !slices.Equal(shape, []int64{3, 13, int64(d.Hidden)}) {
		t.Fatalf("last_hidden_state shape %v", shape)
	}
	ref := loadQwen3Reference(t, path, d)
	var worst, scale float64
	for b := range ids {
		n := 0
		for _, m := range mask[b] {
			n += int(m)
		}
		want := ref.forward(ids[b][:n])
		for s := range n {
			for j := range d.Hidden {
				v := float64(got[(b*13+s)*d.Hidden+j])
				worst = math.Max(worst, math.Abs(v-want[s][j]))
				scale = math.Max(scale, math.Abs(want[s][j]))
			}
		}
	}
	t.Logf("max |ORT - reference| = %.3g (largest value %.3g)", worst, scale)
	if worst > 1e-4 || scale < 0.5 {
		t.Errorf("ORT differs from the float64 Qwen3 decoder by %g (largest value %g)", worst, scale)
	}
}

// Causality: a prefix's states do not depend on what follows it.
func TestTinyQwen3EmbeddingIsCausal(t *testing.T) {
	orttest.Require(t)
	root := generateTiny(t, 0, Qwen3EmbeddingModel)
	path := filepath.Join(root, Qwen3EmbeddingModel, Qwen3EmbeddingModelFile)
	full := []int64{5, 9, 2, 77, 31, 8}
	a, _ := runQwen3Embedding(t, path, [][]int64{full}, [][]int64{{1, 1, 1, 1, 1, 1}})
	b, _ := runQwen3Embedding(t, path, [][]int64{{5, 9, 2, 40, 41, 42}}, [][]int64{{1, 1, 1, 1, 1, 1}})
	d, _ := Qwen3EmbeddingDims(Tiny)
	var prefix, rest float64
	for i := range a {
		diff := math.Abs(float64(a[i] - b[i]))
		if i < 3*d.Hidden {
			prefix = math.Max(prefix, diff)
		} else {
			rest = math.Max(rest, diff)
		}
	}
	if prefix > 1e-6 || rest < 1e-3 {
		t.Errorf("first 3 positions differ by %g (want ~0), the others by %g (want > 0)", prefix, rest)
	}
}

// The int8 file quantizes every projection to 8-bit MatMulNBits blocks and
// keeps the embedding table and norms in float32, as the hub's does; its
// last-token states point where fp32's do.
func TestTinyQwen3EmbeddingInt8(t *testing.T) {
	orttest.Require(t)
	root := generateTiny(t, 0, Qwen3EmbeddingModel)
	d, _ := Qwen3EmbeddingDims(Tiny)
	dir := filepath.Join(root, Qwen3EmbeddingModel)
	m, err := onnxfile.ReadModel(filepath.Join(dir, Qwen3EmbeddingQuantizedModelFile))
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range m.GetGraph().GetNode() {
		ops[n.GetDomain()+":"+n.GetOpType()]++
	}
	if ops["com.microsoft:MatMulNBits"] != 7*d.Layers || ops[":MatMul"] != 2*d.Layers { // 2 attention MatMuls per layer
		t.Errorf("int8 graph ops %v", ops)
	}
	if tp := onnxfile.Initializers(m.GetGraph())["embed_tokens.weight"]; tp == nil || onnxgraph.DataType(tp.GetDataType()) != onnxgraph.Float {
		t.Error("int8 file's embedding table is not float32")
	}
	ids, mask := qwen3Batch(t, d)
	fp32, _ := runQwen3Embedding(t, filepath.Join(dir, Qwen3EmbeddingModelFile), ids, mask)
	int8, _ := runQwen3Embedding(t, filepath.Join(dir, Qwen3EmbeddingQuantizedModelFile), ids, mask)
	for b, n := range []int{13, 7, 1} {
		row := (b*13 + n - 1) * d.Hidden
		var dot, na, nb float64
		for j := range d.Hidden {
			x, y := float64(fp32[row+j]), float64(int8[row+j])
			dot, na, nb = dot+x*y, na+x*x, nb+y*y
		}
		if c := dot / math.Sqrt(na*nb); c < 0.995 || math.IsNaN(c) {
			t.Errorf("sequence %d: int8 vs fp32 last-token cosine %v", b, c)
		}
	}
}

// The directory has the hub layout: fp32 weights beside the graph in
// model.onnx_data, the int8 graph self-contained, config.json with the
// generated dims and the synthetic marker, and a tokenizer that appends
// <|endoftext|> to every text.
func TestQwen3EmbeddingLayout(t *testing.T) {
	root := generateTiny(t, 0, Qwen3EmbeddingModel)
	dir := filepath.Join(root, Qwen3EmbeddingModel)
	for _, f := range []string{"onnx/model.onnx", "onnx/model.onnx_data", "onnx/model_quantized.onnx",
		"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "onnx/model_quantized.onnx_data")); err == nil {
		t.Error("int8 file has external data; the hub's has none")
	}
	d, _ := Qwen3EmbeddingDims(Tiny)
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(raw, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	eot, _ := qwen3EndOfTextID(Tiny)
	if cfg["hidden_size"] != float64(d.Hidden) || cfg["num_key_value_heads"] != float64(d.KVHeads) || cfg["vocab_size"] != float64(d.Vocab) ||
		cfg["head_dim"] != float64(d.HeadDim) || cfg["rope_theta"] != 1e6 || cfg["eos_token_id"] != float64(eot) || cfg[MarkerKey] != true {
		t.Errorf("config.json %v", cfg)
	}
	var tj struct {
		PostProcessor struct {
			Type   string           `json:"type"`
			Single []map[string]any `json:"single"`
		} `json:"post_processor"`
	}
	raw, _ = os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err := json.Unmarshal(raw, &tj); err != nil {
		t.Fatal(err)
	}
	last, _ := tj.PostProcessor.Single[len(tj.PostProcessor.Single)-1]["SpecialToken"].(map[string]any)
	if tj.PostProcessor.Type != "TemplateProcessing" || last["id"] != "<|endoftext|>" {
		t.Errorf("post_processor %+v", tj.PostProcessor)
	}
}

// The full preset has the real dims: its parameters (those the generator
// draws, less RoPE's inverse frequencies) number Qwen3-Embedding-0.6B's
// 595,776,512.
func TestQwen3EmbeddingFullDims(t *testing.T) {
	d, err := Qwen3EmbeddingDims(Full)
	if err != nil {
		t.Fatal(err)
	}
	if d != qwen3EmbeddingFull {
		t.Fatalf("full dims %+v", d)
	}
	count := func(d Qwen3Dims) int {
		h, q, kv := d.Hidden, d.Heads*d.HeadDim, d.KVHeads*d.HeadDim
		return d.Vocab*h + d.Layers*(2*h+h*q+2*h*kv+2*d.HeadDim+q*h+3*h*d.Intermediate) + h
	}
	small := Qwen3Dims{Hidden: 8, Layers: 2, Heads: 2, KVHeads: 1, HeadDim: 6, Intermediate: 12, Vocab: 10, RopeTheta: 1e6}
	n := 0
	for name, v := range newQwen3Weights(newWeightSource(0, "count"), small) {
		if name != "rotary_emb.inv_freq" {
			n += len(v.data)
		}
	}
	if n != count(small) {
		t.Errorf("generator draws %d parameters for %+v, want %d", n, small, count(small))
	}
	if got := count(d); got != 595776512 {
		t.Errorf("full preset has %d parameters, Qwen3-Embedding-0.6B 595,776,512", got)
	}
}

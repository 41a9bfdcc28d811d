package synth

import (
	"context"
	"encoding/json"
	"io"
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

// gemmaRun is one ONNX Runtime run of an EmbeddingGemma file.
type gemmaRun struct {
	states, embeddings []float32 // float16 outputs converted
	statesShape        []int64
	embeddingShape     []int64
}

func runEmbeddingGemma(t *testing.T, path string, ids, mask [][]int64) gemmaRun {
	t.Helper()
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
	// Outputs are allocated here: onnxruntime_go cannot wrap a float16
	// tensor that the runtime allocated.
	rows, cols, hidden := int64(len(ids)), int64(len(ids[0])), s.Outputs()[0].Shape[2]
	shapes := map[string]onnx.Shape{"last_hidden_state": onnx.NewShape(rows, cols, hidden), "sentence_embedding": onnx.NewShape(rows, hidden)}
	bufs := make([]ort.Floats, len(s.Outputs()))
	out := make([]onnx.Value, len(s.Outputs()))
	for i, info := range s.Outputs() {
		bufs[i].Type = info.Type
		bufs[i].Resize(int(shapes[info.Name].FlattenedSize()))
		if out[i], err = bufs[i].Output(shapes[info.Name]); err != nil {
			t.Fatal(err)
		}
		defer out[i].Destroy()
	}
	if err := s.Run(in, out); err != nil {
		t.Fatal(err)
	}
	var r gemmaRun
	for i, info := range s.Outputs() {
		bufs[i].Decode(0, len(bufs[i].Data))
		switch info.Name {
		case "last_hidden_state":
			r.states, r.statesShape = bufs[i].Data, shapes[info.Name]
		case "sentence_embedding":
			r.embeddings, r.embeddingShape = bufs[i].Data, shapes[info.Name]
		}
	}
	return r
}

// gemmaBatch is three right-padded sequences of 11, 6 and 2 tokens: longer
// than the tiny window radius (3), so sliding layers cut attention, with
// padding far enough past the short ones that some padded queries see no
// key at all.
func gemmaBatch(vocab int) (ids, mask [][]int64) {
	lengths := []int{11, 6, 2}
	for b, n := range lengths {
		row, m := make([]int64, 11), make([]int64, 11)
		for s := range n {
			row[s] = int64((7 + 31*b + 13*s*s) % vocab)
			m[s] = 1
		}
		row[0], row[n-1] = 2, 1 // <bos> ... <eos>
		ids, mask = append(ids, row), append(mask, m)
	}
	return ids, mask
}

func generateEmbeddingGemmaTiny(t *testing.T, o Options) string {
	t.Helper()
	o.Preset, o.OutDir = Tiny, t.TempDir()
	if err := Generate(context.Background(), o, []string{EmbeddingGemmaModel}, io.Discard); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(o.OutDir, filepath.FromSlash(EmbeddingGemmaModel))
}

func TestTinyEmbeddingGemmaMatchesReference(t *testing.T) {
	orttest.Require(t)
	dir := generateEmbeddingGemmaTiny(t, Options{})
	d, err := EmbeddingGemmaDims(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, filepath.FromSlash(EmbeddingGemmaModelFile))
	ids, mask := gemmaBatch(d.Vocab)
	got := runEmbeddingGemma(t, path, ids, mask)
	if want := []int64{3, 11, int64(d.Hidden)}; !slices.Equal(got.statesShape, want) {
		t.Fatalf("last_hidden_state shape %v, want %v", got.statesShape, want)
	}
	if want := []int64{3, int64(d.Hidden)}; !slices.Equal(got.embeddingShape, want) {
		t.Fatalf("sentence_embedding shape %v, want %v", got.embeddingShape, want)
	}
	ref := loadGemmaReference(t, path, d)
	var worstState, worstEmb float64
	for b := range ids {
		states, emb := ref.forward(ids[b], mask[b])
		for s := range states {
			for j, w := range states[s] {
				worstState = max(worstState, math.Abs(float64(got.states[(b*11+s)*d.Hidden+j])-w))
			}
		}
		for j, w := range emb {
			worstEmb = max(worstEmb, math.Abs(float64(got.embeddings[b*d.Hidden+j])-w))
		}
	}
	t.Logf("max |ORT - reference|: last_hidden_state %.2g, sentence_embedding %.2g", worstState, worstEmb)
	if worstState > 1e-4 || worstEmb > 1e-5 || math.IsNaN(worstState+worstEmb) {
		t.Errorf("ONNX Runtime and the reference differ by %g (states, limit 1e-4) and %g (embeddings, limit 1e-5)", worstState, worstEmb)
	}
	for b := range ids {
		if c := cosine(got.embeddings[b*d.Hidden:(b+1)*d.Hidden], got.embeddings[((b+1)%3)*d.Hidden:((b+1)%3+1)*d.Hidden]); c > 0.95 {
			t.Errorf("sentences %d and %d embed with cosine %.4f; weights look degenerate", b, (b+1)%3, c)
		}
	}
}

// A sequence's embedding must not depend on the padding its batch adds.
func TestTinyEmbeddingGemmaPaddedBatchMatchesAlone(t *testing.T) {
	orttest.Require(t)
	dir := generateEmbeddingGemmaTiny(t, Options{})
	d, err := EmbeddingGemmaDims(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, filepath.FromSlash(EmbeddingGemmaModelFile))
	ids, mask := gemmaBatch(d.Vocab)
	batched := runEmbeddingGemma(t, path, ids, mask)
	for b := range ids {
		n := int(slices.Index(mask[b], 0))
		if n < 0 {
			n = len(mask[b])
		}
		alone := runEmbeddingGemma(t, path, [][]int64{ids[b][:n]}, [][]int64{mask[b][:n]})
		var worst float64
		for j := range d.Hidden {
			worst = max(worst, math.Abs(float64(alone.embeddings[j]-batched.embeddings[b*d.Hidden+j])))
		}
		if worst > 1e-5 || math.IsNaN(worst) {
			t.Errorf("sequence %d: batched embedding differs from its embedding alone by %g (limit 1e-5)", b, worst)
		}
	}
}

func TestTinyEmbeddingGemmaFloat16TracksFloat32(t *testing.T) {
	orttest.Require(t)
	dir := generateEmbeddingGemmaTiny(t, Options{Float16: true})
	d, err := EmbeddingGemmaDims(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	ids, mask := gemmaBatch(d.Vocab)
	f32 := runEmbeddingGemma(t, filepath.Join(dir, filepath.FromSlash(EmbeddingGemmaModelFile)), ids, mask)
	f16 := runEmbeddingGemma(t, filepath.Join(dir, filepath.FromSlash(EmbeddingGemmaFloat16ModelFile)), ids, mask)
	for b := range ids {
		c := cosine(f32.embeddings[b*d.Hidden:(b+1)*d.Hidden], f16.embeddings[b*d.Hidden:(b+1)*d.Hidden])
		if c < 0.999 || math.IsNaN(c) {
			t.Errorf("sequence %d: fp16 vs fp32 embedding cosine %.5f (limit 0.999)", b, c)
		}
	}
	for _, v := range f16.states {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("fp16 last_hidden_state holds %v", v)
		}
	}
}

// TestTinyEmbeddingGemmaQuantizedTracksFloat bounds the int8 model's error
// against the fp32 one: embedding cosine ≥ 0.99, no NaN.
func TestTinyEmbeddingGemmaQuantizedTracksFloat(t *testing.T) {
	orttest.Require(t)
	dir := generateEmbeddingGemmaTiny(t, Options{})
	d, err := EmbeddingGemmaDims(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	ids, mask := gemmaBatch(d.Vocab)
	f32 := runEmbeddingGemma(t, filepath.Join(dir, filepath.FromSlash(EmbeddingGemmaModelFile)), ids, mask)
	i8 := runEmbeddingGemma(t, filepath.Join(dir, filepath.FromSlash(EmbeddingGemmaQuantizedModelFile)), ids, mask)
	for b := range ids {
		c := cosine(f32.embeddings[b*d.Hidden:(b+1)*d.Hidden], i8.embeddings[b*d.Hidden:(b+1)*d.Hidden])
		t.Logf("sequence %d: int8 vs fp32 cosine %.5f", b, c)
		if c < 0.99 || math.IsNaN(c) {
			t.Errorf("sequence %d: int8 vs fp32 embedding cosine %.5f (limit 0.99)", b, c)
		}
	}
}

func TestEmbeddingGemmaContract(t *testing.T) {
	orttest.Require(t)
	dir := generateEmbeddingGemmaTiny(t, Options{Float16: true})
	d, err := EmbeddingGemmaDims(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("sequence_length")
	for file, ft := range map[string]onnxgraph.DataType{EmbeddingGemmaModelFile: onnxgraph.Float,
		EmbeddingGemmaQuantizedModelFile: onnxgraph.Float, EmbeddingGemmaFloat16ModelFile: onnxgraph.Float16} {
		path := filepath.Join(dir, filepath.FromSlash(file))
		if _, err := os.Stat(path + "_data"); err != nil {
			t.Errorf("%s has no external data file: %v", file, err)
		}
		ins, outs, err := onnxfile.ReadInterface(path)
		if err != nil {
			t.Fatal(err)
		}
		wantIn := []onnxfile.Value{
			{Name: "input_ids", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
			{Name: "attention_mask", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
		}
		wantOut := []onnxfile.Value{
			{Name: "last_hidden_state", Type: ft, Dims: []onnxgraph.Dim{batch, seq, onnxgraph.Fixed(int64(d.Hidden))}},
			{Name: "sentence_embedding", Type: ft, Dims: []onnxgraph.Dim{batch, onnxgraph.Fixed(int64(d.Hidden))}},
		}
		same := func(a, b onnxfile.Value) bool {
			return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Dims, b.Dims)
		}
		if !slices.EqualFunc(ins, wantIn, same) || !slices.EqualFunc(outs, wantOut, same) {
			t.Errorf("%s declares %v -> %v, want %v -> %v", file, ins, outs, wantIn, wantOut)
		}
	}

	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(raw, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"model_type": "gemma3_text", "use_bidirectional_attention": true, "hidden_size": float64(d.Hidden),
		"num_hidden_layers": float64(d.Layers), "num_key_value_heads": float64(d.KVHeads), "head_dim": float64(d.HeadDim),
		"sliding_window": float64(d.SlidingWindow), "query_pre_attn_scalar": d.QueryPreAttnScalar,
		"max_position_embeddings": float64(2048), "vocab_size": float64(d.Vocab), MarkerKey: true,
	} {
		if cfg[key] != want {
			t.Errorf("config.json %s = %v, want %v", key, cfg[key], want)
		}
	}
	tok, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tokenizerVocabSize(tok); err != nil || n != d.Vocab {
		t.Errorf("tokenizer.json has %d ids (%v); the embedding table has %d rows", n, err, d.Vocab)
	}
}

// The full preset has the real dims (308M parameters), checked without
// writing 1.2 GB.
func TestEmbeddingGemmaFullDims(t *testing.T) {
	d, err := EmbeddingGemmaDims(Full)
	if err != nil {
		t.Fatal(err)
	}
	params := d.Vocab * d.Hidden
	params += d.Layers * (d.Hidden*d.Heads*d.HeadDim*2 + d.Hidden*d.KVHeads*d.HeadDim*2 + 3*d.Hidden*d.Intermediate + 4*d.Hidden + 2*d.HeadDim)
	params += d.Hidden + 2*d.Hidden*d.DenseIntermediate
	if params < 307_000_000 || params > 309_000_000 {
		t.Errorf("full preset has %d parameters, want about 308M", params)
	}
	if d.Vocab != 262144 || d.WindowRadius() != 256 || slices.Index(d.LayerTypes(), "full_attention") != 5 {
		t.Errorf("full dims %+v", d)
	}
}

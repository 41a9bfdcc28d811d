package synth

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

var bgeIDs = []string{"@cf/baai/bge-small-en-v1.5", "@cf/baai/bge-base-en-v1.5", "@cf/baai/bge-large-en-v1.5"}

func generateTiny(t *testing.T, seed uint64, ids ...string) string {
	t.Helper()
	out := t.TempDir()
	if err := Generate(context.Background(), Options{Preset: Tiny, OutDir: out, Seed: seed}, ids, io.Discard); err != nil {
		t.Fatal(err)
	}
	return out
}

// bertBatch is two sequences of length 7: the second is padded after 4
// tokens and uses token type 1 for its second segment.
func bertBatch() (ids, mask, types [][]int64) {
	ids = [][]int64{
		{101, 7592, 1010, 2088, 999, 2023, 102},
		{101, 4863, 102, 8559, 0, 0, 0},
	}
	mask = [][]int64{{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}}
	types = [][]int64{{0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 1, 0, 0, 0}}
	return ids, mask, types
}

// runBert runs a BERT encoder file in ONNX Runtime and returns
// last_hidden_state, flattened, and its shape.
func runBert(t *testing.T, path string, ids, mask, types [][]int64) ([]float32, []int64) {
	t.Helper()
	return runEncoder(t, path, "last_hidden_state", ids, mask, types)
}

func TestTinyBGEMatchesReferenceBERT(t *testing.T) {
	orttest.Require(t)
	root := generateTiny(t, 0, bgeIDs...)
	ids, mask, types := bertBatch()
	for _, id := range bgeIDs {
		d, _ := BGEDims(id, Tiny)
		path := filepath.Join(root, filepath.FromSlash(id), filepath.FromSlash(BGEModelFile))
		got, shape := runBert(t, path, ids, mask, types)
		if want := []int64{2, 7, int64(d.Hidden)}; !slices.Equal(shape, want) {
			t.Fatalf("%s: last_hidden_state shape %v, want %v", id, shape, want)
		}
		want := loadBertReference(t, path, d, bertArch).forward(ids, mask, types)
		var worst float64
		for b := range want {
			for s := range want[b] {
				for j, w := range want[b][s] {
					g := float64(got[(b*7+s)*d.Hidden+j])
					worst = max(worst, math.Abs(g-w))
				}
			}
		}
		if worst > 1e-4 {
			t.Errorf("%s: ONNX Runtime and the reference BERT differ by up to %g (limit 1e-4)", id, worst)
		}
		t.Logf("%s: max |ORT - reference| = %.2g", id, worst)
	}
}

// TestTinyBGEQuantizedTracksFloat bounds the int8 model's error against the
// fp32 one: per-token cosine similarity ≥ 0.99 and no NaN or Inf.
func TestTinyBGEQuantizedTracksFloat(t *testing.T) {
	orttest.Require(t)
	root := generateTiny(t, 0, bgeIDs...)
	ids, mask, types := bertBatch()
	for _, id := range bgeIDs {
		d, _ := BGEDims(id, Tiny)
		dir := filepath.Join(root, filepath.FromSlash(id))
		f32, _ := runBert(t, filepath.Join(dir, filepath.FromSlash(BGEModelFile)), ids, mask, types)
		i8, shape := runBert(t, filepath.Join(dir, filepath.FromSlash(BGEQuantizedModelFile)), ids, mask, types)
		if want := []int64{2, 7, int64(d.Hidden)}; !slices.Equal(shape, want) {
			t.Fatalf("%s: quantized shape %v, want %v", id, shape, want)
		}
		worst := 1.0
		for tok := range len(f32) / d.Hidden {
			a, b := f32[tok*d.Hidden:(tok+1)*d.Hidden], i8[tok*d.Hidden:(tok+1)*d.Hidden]
			for _, v := range b {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s: quantized output has %v", id, v)
				}
			}
			worst = min(worst, cosine(a, b))
		}
		if worst < 0.99 {
			t.Errorf("%s: quantized vs fp32 token cosine down to %.4f (limit 0.99)", id, worst)
		}
		t.Logf("%s: min token cosine int8 vs fp32 = %.4f", id, worst)
	}
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

// TestTinyBGEOutputsDependOnInputs guards against degenerate weights (every
// input mapping to the same vector) and checks padding is invisible to the
// real tokens, which only holds if attention_mask reaches the softmax.
func TestTinyBGEOutputsDependOnInputs(t *testing.T) {
	orttest.Require(t)
	root := generateTiny(t, 0, bgeIDs[0])
	d, _ := BGEDims(bgeIDs[0], Tiny)
	path := filepath.Join(root, filepath.FromSlash(bgeIDs[0]), filepath.FromSlash(BGEModelFile))
	cls := func(out []float32, b, seq int) []float32 { return out[b*seq*d.Hidden : b*seq*d.Hidden+d.Hidden] }

	two, _ := runBert(t, path,
		[][]int64{{101, 7592, 2088, 102}, {101, 4863, 8559, 102}},
		[][]int64{{1, 1, 1, 1}, {1, 1, 1, 1}}, [][]int64{{0, 0, 0, 0}, {0, 0, 0, 0}})
	if c := cosine(cls(two, 0, 4), cls(two, 1, 4)); c > 0.95 {
		t.Errorf("CLS vectors of different sentences have cosine %.4f; weights look degenerate", c)
	}

	padded, _ := runBert(t, path,
		[][]int64{{101, 7592, 2088, 102, 0, 0}}, [][]int64{{1, 1, 1, 1, 0, 0}}, [][]int64{{0, 0, 0, 0, 0, 0}})
	for i := range 4 * d.Hidden {
		if math.Abs(float64(padded[i]-two[i])) > 1e-5 {
			t.Fatalf("padding changed a real token's output at %d: %v vs %v", i, padded[i], two[i])
		}
	}
}

func TestBGEContract(t *testing.T) {
	orttest.Require(t)
	root := generateTiny(t, 0, bgeIDs...)
	for _, id := range bgeIDs {
		d, _ := BGEDims(id, Tiny)
		for _, file := range []string{BGEModelFile, BGEQuantizedModelFile} {
			path := filepath.Join(root, filepath.FromSlash(id), filepath.FromSlash(file))
			ins, outs, err := onnxfile.ReadInterface(path)
			if err != nil {
				t.Fatal(err)
			}
			batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("sequence_length")
			wantIn := []onnxfile.Value{
				{Name: "input_ids", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
				{Name: "attention_mask", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
				{Name: "token_type_ids", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
			}
			wantOut := []onnxfile.Value{{Name: "last_hidden_state", Type: onnxgraph.Float,
				Dims: []onnxgraph.Dim{batch, seq, onnxgraph.Fixed(int64(d.Hidden))}}}
			same := func(a, b onnxfile.Value) bool {
				return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Dims, b.Dims)
			}
			if !slices.EqualFunc(ins, wantIn, same) || !slices.EqualFunc(outs, wantOut, same) {
				t.Errorf("%s %s declares %v -> %v, want %v -> %v", id, file, ins, outs, wantIn, wantOut)
			}

			s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range s.Inputs() {
				if in.Type != onnx.TensorElementDataTypeInt64 || !slices.Equal(in.Shape, []int64{-1, -1}) {
					t.Errorf("%s %s: ORT sees input %v", id, file, in)
				}
			}
			if out := s.Outputs(); len(out) != 1 || out[0].Type != onnx.TensorElementDataTypeFloat ||
				!slices.Equal(out[0].Shape, []int64{-1, -1, int64(d.Hidden)}) {
				t.Errorf("%s %s: ORT sees outputs %v", id, file, out)
			}
			s.Close()
		}
	}
}

func TestBGECompanionFiles(t *testing.T) {
	root := generateTiny(t, 0, bgeIDs[1])
	dir := filepath.Join(root, filepath.FromSlash(bgeIDs[1]))
	d, _ := BGEDims(bgeIDs[1], Tiny)
	read := func(name string, v any) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	var cfg map[string]any
	read("config.json", &cfg)
	for key, want := range map[string]any{
		MarkerKey: true, "model_type": "bert", "hidden_size": float64(d.Hidden),
		"num_hidden_layers": float64(d.Layers), "num_attention_heads": float64(d.Heads),
		"intermediate_size": float64(d.Intermediate), "vocab_size": 30522.0,
		"max_position_embeddings": 512.0, "type_vocab_size": 2.0, "layer_norm_eps": 1e-12,
		"hidden_act": "gelu", "pad_token_id": 0.0,
	} {
		if cfg[key] != want {
			t.Errorf("config.json %s = %v, want %v", key, cfg[key], want)
		}
	}
	if arch, _ := cfg["architectures"].([]any); len(arch) != 1 || arch[0] != "BertModel" {
		t.Errorf("config.json architectures = %v", cfg["architectures"])
	}

	var pooling map[string]any
	read("1_Pooling/config.json", &pooling)
	if pooling["pooling_mode_cls_token"] != true || pooling["pooling_mode_mean_tokens"] != false ||
		pooling["word_embedding_dimension"] != float64(d.Hidden) {
		t.Errorf("1_Pooling/config.json = %v", pooling)
	}
	var modules []map[string]any
	read("modules.json", &modules)
	if len(modules) != 3 || modules[1]["path"] != "1_Pooling" || modules[2]["type"] != "sentence_transformers.models.Normalize" {
		t.Errorf("modules.json = %v", modules)
	}
	var tokCfg map[string]any
	read("tokenizer_config.json", &tokCfg)
	if tokCfg["do_lower_case"] != true || tokCfg["model_max_length"] != 512.0 {
		t.Errorf("tokenizer_config.json = %v", tokCfg)
	}

	var tok struct {
		Padding    any
		Truncation struct {
			MaxLength int `json:"max_length"`
		}
		Normalizer    map[string]any
		PostProcessor map[string]any `json:"post_processor"`
		Model         struct {
			Type  string
			Vocab map[string]int
		}
	}
	read("tokenizer.json", &tok)
	if tok.Padding != nil || tok.Truncation.MaxLength != 512 {
		t.Errorf("tokenizer.json padding %v, truncation max_length %d; want null and 512", tok.Padding, tok.Truncation.MaxLength)
	}
	if tok.Model.Type != "WordPiece" || len(tok.Model.Vocab) != 30522 || tok.Normalizer["lowercase"] != true {
		t.Errorf("tokenizer.json model %s with %d tokens, normalizer %v", tok.Model.Type, len(tok.Model.Vocab), tok.Normalizer)
	}
	for token, id := range map[string]int{"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103, "hello": 7592, "world": 2088} {
		if tok.Model.Vocab[token] != id {
			t.Errorf("tokenizer.json: %s = %d, want %d", token, tok.Model.Vocab[token], id)
		}
	}

	vocab, err := os.ReadFile(filepath.Join(dir, "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(vocab), "\n"), "\n")
	if len(lines) != 30522 || lines[101] != "[CLS]" || lines[7592] != "hello" {
		t.Errorf("vocab.txt: %d lines, line 101 %q, line 7592 %q", len(lines), lines[101], lines[7592])
	}
}

func TestBGEGenerationIsDeterministic(t *testing.T) {
	file := func(root string) []byte {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(bgeIDs[0]), filepath.FromSlash(BGEModelFile)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := file(generateTiny(t, 7, bgeIDs[0])), file(generateTiny(t, 7, bgeIDs[0])), file(generateTiny(t, 8, bgeIDs[0]))
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different model files")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same model file")
	}
}

package synth

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// bgeGGUF is a decoded GGUF file with its tensors' data.
type bgeGGUF struct {
	kv      ggml.KV
	tensors map[string]*ggml.Tensor
	data    map[string][]float32
}

// readBGEGGUF decodes path with Ollama's own reader and loads every F32
// tensor.
func readBGEGGUF(t *testing.T, path string) bgeGGUF {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	out := bgeGGUF{kv: g.KV(), tensors: map[string]*ggml.Tensor{}, data: map[string][]float32{}}
	for _, tn := range g.Tensors().Items() {
		if tn.Kind != uint32(ggml.TensorTypeF32) {
			t.Fatalf("%s is of type %s, want F32", tn.Name, tn.Type())
		}
		buf := make([]byte, tn.Size())
		if _, err := f.ReadAt(buf, int64(g.Tensors().Offset+tn.Offset)); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		vals := make([]float32, tn.Elements())
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		out.tensors[tn.Name], out.data[tn.Name] = tn, vals
	}
	return out
}

// ggufBertNames pairs the tensor names Ollama 0.17.4's bert model loads
// (model/models/bert, its `gguf` struct tags) with Hugging Face's, written
// out here rather than taken from the writer's replacer.
func ggufBertNames(layers int) map[string]string {
	m := map[string]string{
		"token_embd.weight":      "embeddings.word_embeddings.weight",
		"token_types.weight":     "embeddings.token_type_embeddings.weight",
		"position_embd.weight":   "embeddings.position_embeddings.weight",
		"token_embd_norm.weight": "embeddings.LayerNorm.weight",
		"token_embd_norm.bias":   "embeddings.LayerNorm.bias",
	}
	sub := [][2]string{
		{"attn_q", "attention.self.query"}, {"attn_k", "attention.self.key"}, {"attn_v", "attention.self.value"},
		{"attn_output", "attention.output.dense"}, {"attn_output_norm", "attention.output.LayerNorm"},
		{"ffn_up", "intermediate.dense"}, {"ffn_down", "output.dense"}, {"layer_output_norm", "output.LayerNorm"},
	}
	for l := range layers {
		for _, s := range sub {
			for _, p := range []string{".weight", ".bias"} {
				m[fmt.Sprintf("blk.%d.%s%s", l, s[0], p)] = fmt.Sprintf("encoder.layer.%d.%s%s", l, s[1], p)
			}
		}
	}
	return m
}

// TestBGEGGUFHoldsTheONNXWeights reads the tiny bge-base's GGUF back with
// Ollama's decoder: every tensor the bert model loads is there, with the
// fp32 ONNX file's values (embedding tables as they are, linear weights as
// PyTorch's [out, in]), and the metadata Ollama's bert model reads has the
// types and values its getters expect.
func TestBGEGGUFHoldsTheONNXWeights(t *testing.T) {
	const id = "@cf/baai/bge-base-en-v1.5"
	dir := filepath.Join(generateTiny(t, 0, id), filepath.FromSlash(id))
	d, _ := BGEDims(id, Tiny)
	g := readBGEGGUF(t, filepath.Join(dir, BGEOllamaDir, "model.gguf"))

	names := ggufBertNames(d.Layers)
	if got := len(g.tensors); got != len(names) {
		t.Errorf("GGUF has %d tensors, want %d", got, len(names))
	}
	onnxPath := filepath.Join(dir, filepath.FromSlash(BGEModelFile))
	m, err := onnxfile.ReadModel(onnxPath)
	if err != nil {
		t.Fatal(err)
	}
	inits := onnxfile.Initializers(m.GetGraph())
	for ggufName, hfName := range names {
		tn, ok := g.tensors[ggufName]
		if !ok {
			t.Errorf("GGUF has no tensor %s", ggufName)
			continue
		}
		want, err := onnxfile.Float32Values(inits[hfName], dir)
		if err != nil {
			t.Fatalf("%s: %v", hfName, err)
		}
		dims := inits[hfName].GetDims() // row-major; GGUF lists the innermost first
		linear := len(dims) == 2 && !strings.HasPrefix(hfName, "embeddings.")
		wantShape := []uint64{uint64(dims[len(dims)-1])}
		if len(dims) == 2 {
			wantShape = []uint64{uint64(dims[1]), uint64(dims[0])}
		}
		if linear { // ONNX [in, out] → PyTorch [out, in] → GGUF {in, out}
			wantShape = []uint64{uint64(dims[0]), uint64(dims[1])}
		}
		if !slices.Equal(tn.Shape, wantShape) {
			t.Errorf("%s: shape %v, want %v (ONNX %s is %v)", ggufName, tn.Shape, wantShape, hfName, dims)
			continue
		}
		got := g.data[ggufName]
		for i, w := range want {
			j := i
			if linear { // element [in i/out, out i%out] of ONNX is [out][in] here
				in, out := int(dims[0]), int(dims[1])
				j = (i%out)*in + i/out
			}
			if got[j] != w {
				t.Errorf("%s[%d] = %v, want ONNX %s[%d] = %v", ggufName, j, got[j], hfName, i, w)
				break
			}
		}
	}

	kv := g.kv
	if kv.Architecture() != "bert" || !kv.OllamaEngineRequired() {
		t.Errorf("architecture %q: want bert, which Ollama runs on its Go engine", kv.Architecture())
	}
	for key, want := range map[string]uint32{
		"block_count": uint32(d.Layers), "embedding_length": uint32(d.Hidden), "feed_forward_length": uint32(d.Intermediate),
		"attention.head_count": uint32(d.Heads), "context_length": 512, "pooling_type": 2, // CLS
		"tokenizer.ggml.cls_token_id": 101, "tokenizer.ggml.seperator_token_id": 102,
		"tokenizer.ggml.unknown_token_id": 100, "tokenizer.ggml.padding_token_id": 0,
		"tokenizer.ggml.token_type_count": 2,
	} {
		if got := kv.Uint(key); got != want {
			t.Errorf("%s = %d, want %d", key, got, want)
		}
	}
	if eps := kv.Float("attention.layer_norm_epsilon"); eps != float32(1e-12) {
		t.Errorf("attention.layer_norm_epsilon = %g, want 1e-12", eps)
	}
	if kv.Bool("attention.causal", true) || !kv.Bool("normalize_embeddings", false) ||
		!kv.Bool("tokenizer.ggml.add_bos_token", false) || !kv.Bool("tokenizer.ggml.add_eos_token", false) {
		t.Error("want attention.causal false, normalize_embeddings, add_bos_token and add_eos_token true")
	}
	if kv.String("tokenizer.ggml.model") != "bert" {
		t.Errorf("tokenizer.ggml.model = %q, want bert (WordPiece)", kv.String("tokenizer.ggml.model"))
	}

	// The vocabulary in "phantom space" form, against vocab.txt's lines.
	tokens, types := kv.Strings("tokenizer.ggml.tokens"), kv.Ints("tokenizer.ggml.token_type")
	raw, err := os.ReadFile(filepath.Join(dir, "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	vocab := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(tokens) != len(vocab) || len(types) != len(vocab) || len(kv.Floats("tokenizer.ggml.scores")) != len(vocab) {
		t.Fatalf("%d tokens, %d types, want %d of each", len(tokens), len(types), len(vocab))
	}
	for id, want := range map[int]string{0: "[PAD]", 1: "[unused0]", 100: "[UNK]", 101: "[CLS]", 1001: "\u2581#", 1996: "\u2581the", 2015: "s", 2075: "ing", 7592: "\u2581hello"} {
		if tokens[id] != want {
			t.Errorf("token %d = %q (vocab.txt %q), want %q", id, tokens[id], vocab[id], want)
		}
	}
	for id, typ := range types {
		special := slices.Contains([]int{0, 100, 101, 102, 103}, id)
		if (typ == 3) != special || (typ != 3 && typ != 1) {
			t.Errorf("token %d (%q) has type %d", id, vocab[id], typ)
		}
	}
}

package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/fs/ggml"
	"github.com/ollama/ollama/parser"
	"github.com/ollama/ollama/template"
	"github.com/x448/float16"

	"github.com/edgeinfer/edgeinfer/engine"
)

func generateTinyLlama(t *testing.T, seed uint64) string {
	t.Helper()
	out := t.TempDir()
	o := Options{Preset: Tiny, OutDir: out, Seed: seed}
	if err := Generate(context.Background(), o, []string{engine.SyntheticLlamaID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(out, filepath.FromSlash(engine.SyntheticLlamaID))
}

func decodeGGUF(t *testing.T, path string) (*ggml.GGML, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return g, f
}

func TestTinyLlamaGGUFDecodes(t *testing.T) {
	dir := generateTinyLlama(t, 0)
	d := LlamaPresetDims(Tiny)
	g, _ := decodeGGUF(t, filepath.Join(dir, "model.gguf"))
	kv := g.KV()

	for key, want := range map[string]uint32{
		"vocab_size":              uint32(d.Vocab),
		"context_length":          uint32(d.Context),
		"embedding_length":        uint32(d.Dim),
		"block_count":             uint32(d.Layers),
		"feed_forward_length":     uint32(d.FFN),
		"attention.head_count":    uint32(d.Heads),
		"attention.head_count_kv": uint32(d.KVHeads),
		"attention.key_length":    uint32(d.HeadDim()),
		"rope.dimension_count":    uint32(d.HeadDim()),
		"general.file_type":       0,
	} {
		// Uint returns the default (here an impossible value) unless the key
		// holds exactly a uint32, the type Ollama's getters insist on.
		if got := kv.Uint(key, math.MaxUint32); got != want {
			t.Errorf("%s = %d, want %d", key, got, want)
		}
	}
	if kv.Architecture() != "llama" || kv.String("tokenizer.ggml.model") != "llama" {
		t.Errorf("architecture %q, tokenizer %q, want llama/llama", kv.Architecture(), kv.String("tokenizer.ggml.model"))
	}
	if eps := kv.Float("attention.layer_norm_rms_epsilon"); eps <= 0 {
		t.Errorf("rms epsilon = %v, want a positive float32", eps)
	}
	for key, want := range map[string]uint32{"bos_token_id": 1, "eos_token_id": 2, "unknown_token_id": 0} {
		if got := kv.Uint("tokenizer.ggml."+key, math.MaxUint32); got != want {
			t.Errorf("tokenizer.ggml.%s = %d, want %d", key, got, want)
		}
	}

	tokens := kv.Strings("tokenizer.ggml.tokens")
	types := kv.Ints("tokenizer.ggml.token_type")
	scores := kv.Floats("tokenizer.ggml.scores")
	if len(tokens) != d.Vocab || len(types) != d.Vocab || len(scores) != d.Vocab {
		t.Fatalf("tokenizer arrays: %d tokens, %d types, %d scores; want %d each", len(tokens), len(types), len(scores), d.Vocab)
	}
	if tokens[0] != "<unk>" || tokens[1] != "<s>" || tokens[2] != "</s>" {
		t.Errorf("special tokens = %q, want <unk> <s> </s>", tokens[:3])
	}
	for b := range 256 {
		id := llamaFirstByte + b
		if want := fmt.Sprintf("<0x%02X>", b); tokens[id] != want || types[id] != llamaTypeByte {
			t.Fatalf("token %d = %q type %d, want byte token %s", id, tokens[id], types[id], want)
		}
	}
	seen := make(map[string]bool)
	for _, tok := range tokens {
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}

	hd := d.HeadDim()
	wantShapes := map[string][]uint64{
		"token_embd.weight":  {uint64(d.Dim), uint64(d.Vocab)},
		"output.weight":      {uint64(d.Dim), uint64(d.Vocab)},
		"output_norm.weight": {uint64(d.Dim)},
	}
	for l := range d.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		wantShapes[p+"attn_norm.weight"] = []uint64{uint64(d.Dim)}
		wantShapes[p+"attn_q.weight"] = []uint64{uint64(d.Dim), uint64(d.Heads * hd)}
		wantShapes[p+"attn_k.weight"] = []uint64{uint64(d.Dim), uint64(d.KVHeads * hd)}
		wantShapes[p+"attn_v.weight"] = []uint64{uint64(d.Dim), uint64(d.KVHeads * hd)}
		wantShapes[p+"attn_output.weight"] = []uint64{uint64(d.Heads * hd), uint64(d.Dim)}
		wantShapes[p+"ffn_norm.weight"] = []uint64{uint64(d.Dim)}
		wantShapes[p+"ffn_gate.weight"] = []uint64{uint64(d.Dim), uint64(d.FFN)}
		wantShapes[p+"ffn_up.weight"] = []uint64{uint64(d.Dim), uint64(d.FFN)}
		wantShapes[p+"ffn_down.weight"] = []uint64{uint64(d.FFN), uint64(d.Dim)}
	}
	items := g.Tensors().Items()
	if len(items) != len(wantShapes) {
		t.Errorf("%d tensors, want %d", len(items), len(wantShapes))
	}
	var params uint64
	for _, tn := range items {
		want, ok := wantShapes[tn.Name]
		if !ok {
			t.Errorf("unexpected tensor %s", tn.Name)
			continue
		}
		if !slices.Equal(tn.Shape, want) {
			t.Errorf("%s shape %v, want %v", tn.Name, tn.Shape, want)
		}
		params += tn.Elements()
	}
	if params != uint64(d.ParameterCount()) {
		t.Errorf("tensors hold %d parameters, ParameterCount says %d", params, d.ParameterCount())
	}
}

func TestLlamaWeightsFiniteAndBiasDimensionIsolated(t *testing.T) {
	for _, d := range []LlamaDims{
		LlamaPresetDims(Tiny),
		{Vocab: 400, Dim: 32, Layers: 1, Heads: 4, KVHeads: 1, FFN: 64, Context: 256, F16: true},
	} {
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := WriteLlamaGGUF(context.Background(), path, d, 7); err != nil {
			t.Fatal(err)
		}
		g, f := decodeGGUF(t, path)
		wantKind := uint32(ggml.TensorTypeF32)
		if d.F16 {
			wantKind = uint32(ggml.TensorTypeF16)
		}
		for _, tn := range g.Tensors().Items() {
			vals := readTensor(t, f, g.Tensors().Offset, tn)
			if len(tn.Shape) == 2 && tn.Kind != wantKind {
				t.Errorf("%s kind %d, want %d", tn.Name, tn.Kind, wantKind)
			}
			cols := int(tn.Shape[0])
			var nonzero int
			for i, v := range vals {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s[%d] = %v", tn.Name, i, v)
				}
				if v != 0 {
					nonzero++
				}
				row, col := i/cols, i%cols
				reads := strings.Contains(tn.Name, "attn_q") || strings.Contains(tn.Name, "attn_k") ||
					strings.Contains(tn.Name, "attn_v") || strings.Contains(tn.Name, "ffn_gate") || strings.Contains(tn.Name, "ffn_up")
				writes := strings.Contains(tn.Name, "attn_output") || strings.Contains(tn.Name, "ffn_down")
				if (reads && col == llamaBiasDim || writes && row == llamaBiasDim) && v != 0 {
					t.Fatalf("%s[row %d][col %d] = %v touches the bias dimension", tn.Name, row, col, v)
				}
			}
			if nonzero < len(vals)/2 {
				t.Errorf("%s: only %d of %d weights are nonzero", tn.Name, nonzero, len(vals))
			}
		}
	}
}

func TestLlamaGenerationIsDeterministic(t *testing.T) {
	sum := func(dir string) [32]byte {
		b, err := os.ReadFile(filepath.Join(dir, "model.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	a, b, c := sum(generateTinyLlama(t, 0)), sum(generateTinyLlama(t, 0)), sum(generateTinyLlama(t, 99))
	if a != b {
		t.Error("two runs with the same seed wrote different files")
	}
	if a == c {
		t.Error("a different seed wrote the same file")
	}
}

func TestLlamaModelfileAndConfig(t *testing.T) {
	dir := generateTinyLlama(t, 0)
	mf, err := os.Open(filepath.Join(dir, "Modelfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	parsed, err := parser.ParseFile(mf)
	if err != nil {
		t.Fatalf("Ollama's parser rejects the Modelfile: %v", err)
	}
	req, err := parsed.CreateRequest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Files) != 1 {
		t.Errorf("FROM resolves to files %v, want the one model.gguf", req.Files)
	}
	stops, _ := req.Parameters["stop"].([]string)
	if strings.Join(stops, " ") != "[INST] [/INST] </s>" {
		t.Errorf("stop parameters %q", stops)
	}
	if req.Parameters["num_ctx"] != int64(LlamaPresetDims(Tiny).Context) {
		t.Errorf("num_ctx = %v (%T)", req.Parameters["num_ctx"], req.Parameters["num_ctx"])
	}

	tmpl, err := template.Parse(req.Template)
	if err != nil {
		t.Fatal(err)
	}
	var rendered bytes.Buffer
	msgs := []api.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "Hello"},
		{Role: "user", Content: "Bye"},
	}
	if err := tmpl.Execute(&rendered, template.Values{Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	want := "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]"
	if rendered.String() != want {
		t.Errorf("template renders\n%q\nwant\n%q", rendered.String(), want)
	}
	rendered.Reset()
	if err := tmpl.Execute(&rendered, template.Values{Messages: msgs[1:2]}); err != nil {
		t.Fatal(err)
	}
	if rendered.String() != "[INST] Hi [/INST]" {
		t.Errorf("without a system prompt the template renders %q", rendered.String())
	}

	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg[MarkerKey] != true || cfg["ollama_tag"] != engine.SyntheticLlamaTag || cfg["architecture"] != "llama" {
		t.Errorf("config.json = %s", b)
	}
}

func TestFullLlamaIsAFewHundredMillionParameters(t *testing.T) {
	d := LlamaPresetDims(Full)
	if n := d.ParameterCount(); n < 100e6 || n > 900e6 || !d.F16 {
		t.Errorf("full preset: %d parameters, F16 %v; want a few hundred million F16 weights", n, d.F16)
	}
	if v := newLlamaVocab(d.Vocab); len(v.tokens) != d.Vocab {
		t.Errorf("full vocabulary has %d tokens, want %d", len(v.tokens), d.Vocab)
	}
}

func readTensor(t *testing.T, f *os.File, dataOffset uint64, tn *ggml.Tensor) []float32 {
	t.Helper()
	raw := make([]byte, tn.Size())
	if _, err := f.ReadAt(raw, int64(dataOffset+tn.Offset)); err != nil {
		t.Fatalf("read %s: %v", tn.Name, err)
	}
	vals := make([]float32, tn.Elements())
	for i := range vals {
		switch ggml.TensorType(tn.Kind) {
		case ggml.TensorTypeF32:
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		case ggml.TensorTypeF16:
			vals[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		default:
			t.Fatalf("%s: unexpected kind %d", tn.Name, tn.Kind)
		}
	}
	return vals
}

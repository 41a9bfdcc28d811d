package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
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
	"github.com/ollama/ollama/thinking"
	"github.com/ollama/ollama/tokenizer"
)

func generateTinyFamily(t *testing.T, f LLMFamily, seed uint64) string {
	t.Helper()
	out := t.TempDir()
	if err := Generate(context.Background(), Options{Preset: Tiny, OutDir: out, Seed: seed}, []string{f.ModelID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(out, filepath.FromSlash(f.ModelID))
}

func mustFamily(t *testing.T, name string) LLMFamily {
	t.Helper()
	f, ok := LookupLLMFamily(name)
	if !ok {
		t.Fatalf("no family %q", name)
	}
	return f
}

func TestLLMFamiliesGGUFDecode(t *testing.T) {
	for _, f := range LLMFamilies() {
		t.Run(f.Name, func(t *testing.T) {
			dir := generateTinyFamily(t, f, 0)
			d := f.PresetDims(Tiny)
			g, _ := decodeGGUF(t, filepath.Join(dir, "model.gguf"))
			kv := g.KV()
			if kv.Architecture() != f.Arch {
				t.Fatalf("architecture %q, want %q", kv.Architecture(), f.Arch)
			}
			for key, want := range map[string]uint32{
				"context_length":          uint32(d.Context),
				"embedding_length":        uint32(d.Dim),
				"block_count":             uint32(d.Layers),
				"feed_forward_length":     uint32(d.FFN),
				"attention.head_count":    uint32(d.Heads),
				"attention.head_count_kv": uint32(d.KVHeads),
				"attention.key_length":    uint32(d.HeadDim),
				"attention.value_length":  uint32(d.HeadDim),
				"general.file_type":       1,
			} {
				// Ollama's getters return the default unless the type is exactly uint32.
				if got := kv.Uint(key, math.MaxUint32); got != want {
					t.Errorf("%s = %d, want %d", key, got, want)
				}
			}
			if kv.Float("rope.freq_base") != shapeRopeBase || kv.Float("attention.layer_norm_rms_epsilon") <= 0 {
				t.Errorf("rope base %v, rms epsilon %v", kv.Float("rope.freq_base"), kv.Float("attention.layer_norm_rms_epsilon"))
			}
			tokens := kv.Strings("tokenizer.ggml.tokens")
			types := kv.Ints("tokenizer.ggml.token_type")
			if len(tokens) != d.Vocab || len(types) != d.Vocab {
				t.Fatalf("%d tokens, %d types; want %d", len(tokens), len(types), d.Vocab)
			}
			seen := map[string]bool{}
			for _, tok := range tokens {
				if seen[tok] {
					t.Fatalf("duplicate token %q", tok)
				}
				seen[tok] = true
			}
			for _, id := range []string{"bos_token_id", "eos_token_id"} {
				if n := kv.Uint("tokenizer.ggml."+id, math.MaxUint32); n >= uint32(d.Vocab) || types[n] != int32(tokControl) {
					t.Errorf("tokenizer.ggml.%s = %d, not a control token", id, n)
				}
			}
			if eos := tokens[kv.Uint("tokenizer.ggml.eos_token_id")]; !strings.Contains(f.Modelfile(d), eos) && f.Name != "gemma3" {
				t.Errorf("end-of-turn token %q is not a stop string of the Modelfile", eos)
			}

			want := map[string][]uint64{
				"token_embd.weight":  {uint64(d.Dim), uint64(d.Vocab)},
				"output.weight":      {uint64(d.Dim), uint64(d.Vocab)},
				"output_norm.weight": {uint64(d.Dim)},
			}
			q, kvDim := uint64(d.Heads*d.HeadDim), uint64(d.KVHeads*d.HeadDim)
			D, F := uint64(d.Dim), uint64(d.FFN)
			for l := range d.Layers {
				p := func(s string) string { return fmtLayer(l, s) }
				want[p("attn_norm")], want[p("ffn_norm")] = []uint64{D}, []uint64{D}
				want[p("attn_q")], want[p("attn_output")] = []uint64{D, q}, []uint64{q, D}
				want[p("attn_k")], want[p("attn_v")] = []uint64{D, kvDim}, []uint64{D, kvDim}
				want[p("ffn_gate")], want[p("ffn_up")], want[p("ffn_down")] = []uint64{D, F}, []uint64{D, F}, []uint64{F, D}
				if f.arch.qkNorm() {
					want[p("attn_q_norm")], want[p("attn_k_norm")] = []uint64{uint64(d.HeadDim)}, []uint64{uint64(d.HeadDim)}
				}
				if f.arch.postNorms() {
					want[p("post_attention_norm")], want[p("post_ffw_norm")] = []uint64{D}, []uint64{D}
				}
			}
			var params uint64
			for _, tn := range g.Tensors().Items() {
				shape, ok := want[tn.Name]
				if !ok {
					t.Errorf("unexpected tensor %s", tn.Name)
					continue
				}
				delete(want, tn.Name)
				if !slices.Equal(tn.Shape, shape) {
					t.Errorf("%s shape %v, want %v", tn.Name, tn.Shape, shape)
				}
				if kind := ggml.TensorType(tn.Kind); (len(shape) == 2) != (kind == ggml.TensorTypeF16) {
					t.Errorf("%s kind %v", tn.Name, kind)
				}
				params += tn.Elements()
			}
			if len(want) > 0 {
				t.Errorf("missing tensors %v", want)
			}
			if params != uint64(f.ParameterCount(d)) {
				t.Errorf("tensors hold %d parameters, ParameterCount says %d", params, f.ParameterCount(d))
			}
			if st, err := os.Stat(filepath.Join(dir, "model.gguf")); err != nil || st.Size() > 12<<20 {
				t.Errorf("tiny GGUF: %v, %d bytes", err, st.Size())
			}
		})
	}
}

func TestLLMFamilyGenerationIsDeterministic(t *testing.T) {
	f := mustFamily(t, "qwen3")
	sum := func(dir string) [32]byte {
		b, err := os.ReadFile(filepath.Join(dir, "model.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	a, b, c := sum(generateTinyFamily(t, f, 0)), sum(generateTinyFamily(t, f, 0)), sum(generateTinyFamily(t, f, 5))
	if a != b || a == c {
		t.Errorf("same seed equal: %v, other seed different: %v", a == b, a != c)
	}
}

// familyTokenizer is the tokenizer Ollama's Go engine builds for a family
// (llama.cpp's Llama 3 tokenizer splits text the same way).
func familyTokenizer(f LLMFamily, v *llmVocab) tokenizer.Tokenizer {
	voc := &tokenizer.Vocabulary{Values: v.tokens, Types: v.types, Merges: v.merges, Scores: v.scores}
	switch f.Name {
	case "qwen3":
		return tokenizer.NewBytePairEncoding(voc, qwenPretokenizer)
	case "llama3":
		return tokenizer.NewBytePairEncoding(voc, llama3Pretokenizer)
	}
	return tokenizer.NewSentencePiece(voc)
}

var testTools = api.Tools{{
	Type: "function",
	Function: api.ToolFunction{
		Name:        "get_weather",
		Description: "Get the weather for a city",
		Parameters: api.ToolFunctionParameters{
			Type:       "object",
			Required:   []string{"city"},
			Properties: testToolProperties(),
		},
	},
}}

func testToolProperties() *api.ToolPropertiesMap {
	m := api.NewToolPropertiesMap()
	m.Set("city", api.ToolProperty{Type: api.PropertyType{"string"}, Description: "The city"})
	return m
}

// renderPrompt renders a family's template as Ollama's server does for one
// user message (with tools when given, think when set).
func renderPrompt(t *testing.T, f LLMFamily, tools api.Tools, think *bool) string {
	t.Helper()
	tmpl, err := template.Parse(f.Template)
	if err != nil {
		t.Fatal(err)
	}
	vals := template.Values{Messages: []api.Message{{Role: "user", Content: "What is the weather in Paris?"}}, Tools: tools}
	if think != nil {
		vals.Think, vals.IsThinkSet = *think, true
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, vals); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestLLMFamilyPromptsTokenizeIntoTheRulesTokens(t *testing.T) {
	yes := true
	for _, f := range LLMFamilies() {
		t.Run(f.Name, func(t *testing.T) {
			v, err := f.vocab(f.PresetDims(Tiny).Vocab)
			if err != nil {
				t.Fatal(err)
			}
			var tools api.Tools
			if slices.Contains(f.Capabilities, "tools") {
				tools = testTools
			}
			prompt := renderPrompt(t, f, tools, &yes)
			ids, err := familyTokenizer(f, v).Encode(prompt, false)
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, id := range ids {
				texts = append(texts, v.text[id])
			}
			joined := strings.Join(texts, "\x00")
			if strings.Join(texts, "") != prompt {
				t.Fatalf("tokens do not spell the prompt")
			}
			// What the rules key on: the end of the prompt, the markers, the
			// two tokens before the tool's name.
			wantEnd := map[string][]string{
				"llama3": {"assistant", "<|end_header_id|>", "\n\n"},
				"qwen3":  {"<|im_start|>", "assistant", "\n"},
				"gemma3": {"<start_of_turn>", "model", "\n"},
			}[f.Name]
			if got := texts[len(texts)-len(wantEnd):]; !slices.Equal(got, wantEnd) {
				t.Errorf("prompt ends with tokens %q, want %q", got, wantEnd)
			}
			for _, want := range map[string][]string{
				"llama3": {" functions", ">\x00 {\x00get\x00_weather\x00 "},
				"qwen3":  {"<tools", "\":\x00 {\x00get\x00_weather\x00 "},
			}[f.Name] {
				if !strings.Contains(joined, want) {
					t.Errorf("prompt tokens lack %q:\n%q", want, texts)
				}
			}
		})
	}
}

func TestLLMFamilyModelfilesAndCapabilities(t *testing.T) {
	for _, f := range LLMFamilies() {
		t.Run(f.Name, func(t *testing.T) {
			dir := generateTinyFamily(t, f, 0)
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
			if len(req.Files) != 1 || req.Template != f.Template || req.Parameters["num_ctx"] != int64(4096) {
				t.Errorf("create request: files %v, num_ctx %v, template equal %v", req.Files, req.Parameters["num_ctx"], req.Template == f.Template)
			}
			if stops, _ := req.Parameters["stop"].([]string); len(stops) == 0 {
				t.Error("no stop strings")
			}
			// The capabilities Ollama derives from the template (server/images.go).
			tmpl, err := template.Parse(req.Template)
			if err != nil {
				t.Fatal(err)
			}
			vars, err := tmpl.Vars()
			if err != nil {
				t.Fatal(err)
			}
			caps := []string{"completion"}
			if slices.Contains(vars, "tools") {
				caps = append(caps, "tools")
			}
			if open, end := thinking.InferTags(tmpl.Template); open != "" && end != "" {
				if open != "<think>" || end != "</think>" {
					t.Errorf("thinking tags %q %q", open, end)
				}
				caps = append(caps, "thinking")
			}
			if !slices.Equal(caps, f.Capabilities) {
				t.Errorf("template gives capabilities %v, family says %v", caps, f.Capabilities)
			}
			var cfg map[string]any
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if err := json.Unmarshal(b, &cfg); err != nil || cfg[MarkerKey] != true || cfg["ollama_tag"] != f.OllamaTag || cfg["family"] != f.Name {
				t.Errorf("config.json: %v %s", err, b)
			}
		})
	}
}

func TestLLMFullPresetsLayOutTheCircuit(t *testing.T) {
	for _, f := range LLMFamilies() {
		d := f.PresetDims(Full)
		v, err := f.vocab(d.Vocab)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newLLMShape(f.spec(v), d, 1); err != nil {
			t.Errorf("%s full preset: %v", f.Name, err)
		}
		if n := f.ParameterCount(d); n < 500e6 || n > 2e9 || !d.F16 {
			t.Errorf("%s full preset: %d parameters", f.Name, n)
		}
	}
}

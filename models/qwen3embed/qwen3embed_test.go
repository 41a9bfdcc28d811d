package qwen3embed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

const model = synth.Qwen3EmbeddingModel

// defaultInstruction is Workers AI's default for the model (the engine
// fills it in when a request has none).
const defaultInstruction = "Given a web search query, retrieve relevant passages that answer the query"

// modelsDir holds the tiny synthetic model.
var modelsDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "qwen3embed-test-")
	if err != nil {
		panic(err)
	}
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir}, []string{model}, io.Discard); err != nil {
		panic(err)
	}
	modelsDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func modelDir() string { return filepath.Join(modelsDir, filepath.FromSlash(model)) }

// newEngine serves the tiny synthetic model through the real backend.
func newEngine(t *testing.T, mc engine.ModelConfig) *engine.Engine {
	t.Helper()
	orttest.Require(t)
	if mc.Dir == "" {
		mc.Dir = modelDir()
	}
	return enginetest.New(t, map[string]engine.ModelConfig{model: mc}, map[string]engine.Backend{Kind: Backend{}}, nil)
}

func run(t *testing.T, eng *engine.Engine, body string) (*engine.EmbeddingsOutput, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := eng.Run(ctx, model, engine.Input{JSON: []byte(body)})
	if err != nil {
		return nil, err
	}
	return out.(*engine.EmbeddingsOutput), nil
}

func embed(t *testing.T, eng *engine.Engine, body string) *engine.EmbeddingsOutput {
	t.Helper()
	out, err := run(t, eng, body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// load opens the tiny model without the engine, for tests of its parts.
func load(t *testing.T, dir string) *Model {
	t.Helper()
	orttest.Require(t)
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	entry, ok := cat.Lookup(model)
	if !ok {
		t.Fatalf("catalog has no %s", model)
	}
	loaded, err := Backend{}.Load(context.Background(), engine.ModelSpec{Entry: entry, Config: engine.ModelConfig{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	m := loaded.(*Model)
	t.Cleanup(func() { m.Close() })
	return m
}

// lastTokenState runs the fp32 file on one unpadded sequence in ONNX
// Runtime and returns the unit vector of its last position's state: last-
// token pooling done by hand, independent of the backend's batching.
func lastTokenState(t *testing.T, ids []int64) []float32 {
	t.Helper()
	s, err := ort.Open(filepath.Join(modelDir(), "onnx/model.onnx"), ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shape := onnx.NewShape(1, int64(len(ids)))
	mask := make([]int64, len(ids))
	for i := range mask {
		mask[i] = 1
	}
	idsT, _ := onnx.NewTensor(shape, ids)
	maskT, _ := onnx.NewTensor(shape, mask)
	defer idsT.Destroy()
	defer maskT.Destroy()
	in, err := s.BindInputs(map[string]onnx.Value{"input_ids": idsT, "attention_mask": maskT})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]onnx.Value, 1)
	if err := s.Run(in, out); err != nil {
		t.Fatal(err)
	}
	y := out[0].(*onnx.Tensor[float32])
	defer y.Destroy()
	hidden := int(y.GetShape()[2])
	last := y.GetData()[(len(ids)-1)*hidden:]
	var n float64
	for _, v := range last {
		n += float64(v) * float64(v)
	}
	vec := make([]float32, hidden)
	for i, v := range last {
		vec[i] = float32(float64(v) / math.Sqrt(n))
	}
	return vec
}

// {queries, documents, instruction} answers one unit row per text, queries
// first; a query row is the embedding of its instruction-prefixed text and
// the hidden state of that text's final <|endoftext|>.
func TestQueriesAndDocuments(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	m := load(t, modelDir())
	queries := []string{"what is the capital of china", "explain gravity"}
	docs := []string{"the capital of china is beijing", "gravity is a force"}
	body := fmt.Sprintf(`{"queries":[%q,%q],"documents":[%q,%q]}`, queries[0], queries[1], docs[0], docs[1])
	out := embed(t, eng, body)
	if out.Shape != [2]int{4, m.hidden} || len(out.Data) != 4 {
		t.Fatalf("shape %v, %d rows", out.Shape, len(out.Data))
	}
	raw, _ := json.Marshal(out)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil || len(keys) != 2 || keys["shape"] == nil || keys["data"] == nil {
		t.Fatalf("answer %s (err %v), want exactly shape and data", raw, err)
	}
	tokens := 0
	for i, text := range slices.Concat([]string{QueryText(defaultInstruction, queries[0]), QueryText(defaultInstruction, queries[1])}, docs) {
		ids, _, _, err := m.tok.Encode(text, maxTokens)
		if err != nil {
			t.Fatal(err)
		}
		if ids[len(ids)-1] != m.eot {
			t.Fatalf("text %d does not end in <|endoftext|>: %v", i, ids)
		}
		tokens += len(ids)
		if n := norm(out.Data[i]); math.Abs(n-1) > 1e-6 {
			t.Errorf("row %d has norm %v", i, n)
		}
		if d := maxDiff(out.Data[i], lastTokenState(t, ids)); d > 1e-5 {
			t.Errorf("row %d differs from its text's last-token state by %g", i, d)
		}
	}
	if out.PromptTokens != tokens {
		t.Errorf("%d prompt tokens, want %d", out.PromptTokens, tokens)
	}

	// The same texts sent as documents, and a query's prefix written out.
	asDocs := embed(t, eng, fmt.Sprintf(`{"text":[%q,%q]}`, docs[0], docs[1]))
	prefixed := embed(t, eng, fmt.Sprintf(`{"documents":%q}`, "Instruct: "+defaultInstruction+"\nQuery:"+queries[1]))
	if maxDiff(asDocs.Data[0], out.Data[2]) > 1e-5 || maxDiff(asDocs.Data[1], out.Data[3]) > 1e-5 || maxDiff(prefixed.Data[0], out.Data[1]) > 1e-5 {
		t.Error("rows are not queries then documents, or a query is not its prefixed text")
	}
	if maxDiff(asDocs.Data[0], embed(t, eng, fmt.Sprintf(`{"queries":%q}`, docs[0])).Data[0]) < 1e-3 {
		t.Error("a query embeds like a document: no instruction prefix")
	}

	// Another instruction changes the queries, not the documents.
	other := embed(t, eng, strings.Replace(body, "{", `{"instruction":"Find code that answers the question",`, 1))
	if maxDiff(other.Data[0], out.Data[0]) < 1e-3 || maxDiff(other.Data[2], out.Data[2]) > 1e-5 {
		t.Error("the instruction does not change queries only")
	}
}

// A padded batch gives each text what it gives alone: rows of 1 to ~60
// tokens run in one right-padded batch (bypassing the scheduler, which
// would keep so different lengths apart).
func TestPaddedBatchMatchesAlone(t *testing.T) {
	m := load(t, modelDir())
	texts := []string{"x", "short", "a somewhat longer sentence about batching and padding",
		strings.Repeat("many words make a long input ", 10), "naïve café 東京 🙂"}
	var seqs [][]int64
	for _, text := range texts {
		ids, _, _, err := m.tok.Encode(text, maxTokens)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ids)
	}
	batched, err := m.runBatch(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		alone, err := m.runBatch([][]int64{s})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(batched[i], alone[0]); d > 1e-5 {
			t.Errorf("text %d (%d of %d tokens) differs by %g when batched", i, len(s), len(seqs[3]), d)
		}
	}
	if maxDiff(batched[0], batched[1]) < 1e-3 {
		t.Error("different texts give the same embedding")
	}
}

// Concurrent requests share batches through the scheduler; each text
// still gets what it gets alone.
func TestConcurrentRequests(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{MaxQueueDelay: engine.Duration(20 * time.Millisecond)})
	texts := []string{"short", "a somewhat longer sentence", "the quick brown fox jumps over", "x y", "hello world"}
	alone := make([][]float32, len(texts))
	for i, text := range texts {
		alone[i] = embed(t, eng, fmt.Sprintf(`{"text":%q}`, text)).Data[0]
	}
	var wg sync.WaitGroup
	for round := range 3 {
		for i := range texts {
			wg.Go(func() {
				body := fmt.Sprintf(`{"documents":[%q,%q,%q]}`, texts[(i+1)%len(texts)], texts[i], texts[(i+round+2)%len(texts)])
				out, err := run(t, eng, body)
				if err != nil {
					t.Error(err)
					return
				}
				if d := maxDiff(out.Data[1], alone[i]); d > 1e-5 {
					t.Errorf("text %d differs by %g when batched", i, d)
				}
			})
		}
	}
	wg.Wait()
}

// A tokenizer.json without the <|endoftext|> post-processor (the file as
// first released) gets the token from the backend, as the model card's code
// appended it: the same ids, once.
func TestEndOfTextAppendedOnce(t *testing.T) {
	dir := copyModel(t, func(tj map[string]any) { tj["post_processor"] = nil })
	with, without := load(t, modelDir()), load(t, dir)
	for _, text := range []string{"hello world", QueryText("Find code", "x")} {
		a, fa, _, err := with.encode(context.Background(), text, "text")
		if err != nil {
			t.Fatal(err)
		}
		b, fb, _, err := without.encode(context.Background(), text, "text")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, b) || fa != fb || a[len(a)-1] != with.eot || a[len(a)-2] == with.eot {
			t.Errorf("%q: %v (%d) with the post-processor, %v (%d) without", text, a, fa, b, fb)
		}
	}
	long := strings.Repeat("the dog ", 20)
	whole, _, _, err := with.encode(context.Background(), long, "text")
	if err != nil {
		t.Fatal(err)
	}
	with.maxTokens, without.maxTokens = 8, 8
	a, fa, ta, _ := with.encode(context.Background(), long, "text")
	b, fb, tb, err := without.encode(context.Background(), long, "text")
	if err != nil || len(b) != 8 || b[7] != without.eot || !slices.Equal(a, b) || fa != len(whole) || fb != fa || !ta || !tb {
		t.Errorf("truncated: %v (%d) with the post-processor, %v (%d, %v) without", a, fa, b, fb, err)
	}
}

// Over-long texts are cut to the limit, <|endoftext|> kept, or with
// truncate_inputs false refused with 413 naming the field. The limit is
// lowered through tokenizer_config.json so the test runs short sequences.
func TestTruncation(t *testing.T) {
	if m := load(t, modelDir()); m.maxTokens != 8192 {
		t.Errorf("limit %d, want 8192", m.maxTokens)
	}
	dir := copyModel(t, nil)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"model_max_length": 64}`), 0o644); err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, engine.ModelConfig{Dir: dir})
	long := strings.Repeat("word ", 40)
	out := embed(t, eng, fmt.Sprintf(`{"documents":%q}`, long))
	if out.PromptTokens != 64 {
		t.Fatalf("truncated input counted %d tokens, want 64", out.PromptTokens)
	}
	m := load(t, dir)
	ids, _, _, _ := m.encode(context.Background(), long, "text")
	if len(ids) != 64 || ids[63] != m.eot || maxDiff(out.Data[0], lastTokenState(t, ids)) > 1e-5 {
		t.Errorf("truncated ids %v do not end in <|endoftext|> or do not give the answer", ids)
	}
	for _, tc := range []struct{ body, field string }{
		{fmt.Sprintf(`{"queries":["ok",%q],"truncate_inputs":false}`, long), "queries[1]"},
		{fmt.Sprintf(`{"queries":"ok","documents":["fine",%q],"truncate_inputs":false}`, long), "documents[1]"},
		{fmt.Sprintf(`{"text":%q,"truncate_inputs":false}`, long), "documents[0]"},
	} {
		_, err := run(t, eng, tc.body)
		d := engine.Describe(err)
		if d.Status != 413 || d.Code != 3006 || !strings.Contains(d.Message, tc.field) || !strings.Contains(d.Message, "64") {
			t.Errorf("over-long %s with truncate_inputs false: %+v", tc.field, d)
		}
	}
}

func TestBadInput(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	for _, tc := range []struct{ body, field string }{
		{`{}`, "queries"},
		{`{"queries":[]}`, "queries"},
		{`{"queries":1}`, "queries"},
		{`{"documents":["a",""]}`, "documents[1]"},
		{`{"documents":"a","text":"b"}`, "text"},
		{`{"queries":"q","instruction":["x"]}`, "instruction"},
		{`{"text":"x","truncate_inputs":"no"}`, "truncate_inputs"},
		{`{"queries":["` + strings.Repeat(`q","`, 32) + `q"]}`, "queries"},
		{`[1,2]`, ""},
	} {
		_, err := run(t, eng, tc.body)
		d := engine.Describe(err)
		if d.Status != 400 || !strings.Contains(d.Message, tc.field) {
			t.Errorf("%s: %+v, want 400 naming %q", tc.body, d, tc.field)
		}
	}
}

// Text that is not UTF-8 is a 400 naming the field, from the backend when
// a Go caller hands it over without the JSON decoder.
func TestInvalidUTF8(t *testing.T) {
	m := load(t, modelDir())
	_, err := m.Embed(context.Background(), &engine.EmbeddingsInput{Text: []string{"ok", "bad \xff"}, Queries: 1, Instruction: "x"})
	if d := engine.Describe(err); d.Status != 400 || !strings.Contains(d.Message, "documents[0]") {
		t.Errorf("invalid UTF-8: %+v", d)
	}
}

func TestInt8Variant(t *testing.T) {
	body := `{"queries":"quantized weights","documents":"and a second, longer text to pad the first"}`
	fp32 := embed(t, newEngine(t, engine.ModelConfig{}), body)
	int8 := embed(t, newEngine(t, engine.ModelConfig{Variant: "int8"}), body)
	for i := range fp32.Data {
		var dot float64
		for j := range fp32.Data[i] {
			dot += float64(fp32.Data[i][j]) * float64(int8.Data[i][j])
		}
		if dot < 0.99 || math.IsNaN(dot) || maxDiff(fp32.Data[i], int8.Data[i]) == 0 {
			t.Errorf("text %d: int8 vs fp32 cosine %v", i, dot)
		}
	}
}

func TestNotInstalled(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{Dir: t.TempDir()})
	_, err := run(t, eng, `{"text":"x"}`)
	d := engine.Describe(err)
	if d.Status != 503 || !strings.Contains(d.Message, "onnx/model.onnx_data") || !strings.Contains(d.Message, "synth --only "+model) {
		t.Fatalf("missing files: %+v", d)
	}
}

// copyModel copies the tiny model directory (the fp32 files), editing
// tokenizer.json with edit when it is not nil.
func copyModel(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx", "onnx/model.onnx_data"} {
		raw, err := os.ReadFile(filepath.Join(modelDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "tokenizer.json" && edit != nil {
			var tj map[string]any
			if err := json.Unmarshal(raw, &tj); err != nil {
				t.Fatal(err)
			}
			edit(tj)
			if raw, err = json.Marshal(tj); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

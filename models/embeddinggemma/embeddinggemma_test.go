package embeddinggemma

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

const model = synth.EmbeddingGemmaModel

// modelsDir holds the tiny synthetic model, fp32 and fp16.
var modelsDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "embeddinggemma-test-")
	if err != nil {
		panic(err)
	}
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir, Float16: true}, []string{model}, io.Discard); err != nil {
		panic(err)
	}
	modelsDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newEngine serves the tiny synthetic model through the real backend.
func newEngine(t *testing.T, mc engine.ModelConfig) *engine.Engine {
	t.Helper()
	orttest.Require(t)
	if mc.Dir == "" {
		mc.Dir = modelsDir + "/" + model
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

func TestEmbeddingsShape(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	d, err := synth.EmbeddingGemmaDims(synth.Tiny)
	if err != nil {
		t.Fatal(err)
	}
	out := embed(t, eng, `{"text":["the quick brown fox","jumps over the lazy dog","the quick brown fox"]}`)
	if out.Shape != [2]int{3, d.Hidden} || len(out.Data) != 3 || len(out.Data[0]) != d.Hidden || out.PromptTokens == 0 {
		t.Fatalf("shape %v, %d rows of %d, %d tokens", out.Shape, len(out.Data), len(out.Data[0]), out.PromptTokens)
	}
	// Workers AI answers {shape, data} for this model: no pooling field.
	raw, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil || len(keys) != 2 || keys["shape"] == nil || keys["data"] == nil {
		t.Fatalf("answer %s (err %v), want exactly shape and data", raw, err)
	}
	for i, v := range out.Data {
		if n := norm(v); math.Abs(n-1) > 1e-6 {
			t.Errorf("vector %d has norm %v", i, n)
		}
	}
	if maxDiff(out.Data[0], out.Data[2]) != 0 {
		t.Error("the same text embedded twice differs")
	}
	if maxDiff(out.Data[0], out.Data[1]) < 1e-3 {
		t.Error("different texts give the same embedding")
	}
	one := embed(t, eng, `{"text":"the quick brown fox"}`)
	if one.Shape != [2]int{1, d.Hidden} || maxDiff(one.Data[0], out.Data[0]) > 1e-5 {
		t.Errorf("a single string: shape %v, differs from the batched one by %v", one.Shape, maxDiff(one.Data[0], out.Data[0]))
	}
}

// A text's embedding must not depend on what it was batched with: requests
// of three texts of different lengths run concurrently, so batches mix
// texts of several requests and pad them; each must match the text alone.
func TestBatchInvariance(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{MaxQueueDelay: engine.Duration(20 * time.Millisecond)})
	texts := []string{"short", "a somewhat longer sentence about batching and padding",
		strings.Repeat("many words make a long input ", 12), "naïve café 東京 🙂", "x y"}
	alone := make([][]float32, len(texts))
	for i, text := range texts {
		alone[i] = embed(t, eng, fmt.Sprintf(`{"text":%q}`, text)).Data[0]
	}
	var wg sync.WaitGroup
	for round := range 4 {
		for i := range texts {
			wg.Go(func() {
				body := fmt.Sprintf(`{"text":[%q,%q,%q]}`, texts[(i+1)%len(texts)], texts[i], texts[(i+round+2)%len(texts)])
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

func TestTruncation(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	long := strings.Repeat("word ", 2100)
	out := embed(t, eng, fmt.Sprintf(`{"text":%q}`, long))
	if out.PromptTokens != maxTokens {
		t.Fatalf("truncated input counted %d tokens, want %d", out.PromptTokens, maxTokens)
	}
	for _, tc := range []struct{ body, field string }{
		{fmt.Sprintf(`{"text":["ok",%q],"truncate_inputs":false}`, long), "text[1]"},
		{fmt.Sprintf(`{"text":%q,"truncate_inputs":false}`, long), "text"},
	} {
		_, err := run(t, eng, tc.body)
		d := engine.Describe(err)
		if d.Status != 413 || d.Code != 3006 || !strings.Contains(d.Message, tc.field) || !strings.Contains(d.Message, "2048") {
			t.Errorf("over-long %s with truncate_inputs false: %+v", tc.field, d)
		}
	}
}

func TestBadInput(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	for _, tc := range []struct{ body, field string }{
		{`{}`, "text"},
		{`{"text":[]}`, "text"},
		{`{"text":""}`, "text"},
		{`{"text":[1]}`, "text[0]"},
		{`{"text":"x","truncate_inputs":"no"}`, "truncate_inputs"},
		{`{"text":["a",""]}`, "text[1]"},
		{`[1,2]`, ""},
	} {
		_, err := run(t, eng, tc.body)
		d := engine.Describe(err)
		if d.Status != 400 || !strings.Contains(d.Message, tc.field) {
			t.Errorf("%s: %+v, want 400 naming %q", tc.body, d, tc.field)
		}
	}
	texts := make([]string, 101)
	for i := range texts {
		texts[i] = fmt.Sprintf("%q", "t")
	}
	_, err := run(t, eng, `{"text":[`+strings.Join(texts, ",")+`]}`)
	if d := engine.Describe(err); d.Status != 400 || !strings.Contains(d.Message, "100") {
		t.Errorf("101 texts: %+v", d)
	}
}

// TestFloat16Variant runs model_fp16.onnx (float16 outputs) on the CPU.
func TestFloat16Variant(t *testing.T) {
	body := `{"text":["half precision","a much longer sentence that makes the batch pad the short one by many positions","x"]}`
	fp32 := embed(t, newEngine(t, engine.ModelConfig{}), body)
	fp16 := embed(t, newEngine(t, engine.ModelConfig{Variant: "fp16"}), body)
	for i := range fp32.Data {
		if d := maxDiff(fp32.Data[i], fp16.Data[i]); d > 5e-3 || math.IsNaN(d) {
			t.Errorf("text %d: fp16 differs from fp32 by %v", i, d)
		}
		if n := norm(fp16.Data[i]); math.Abs(n-1) > 1e-6 {
			t.Errorf("text %d: fp16 vector has norm %v", i, n)
		}
	}
}

func TestInt8Variant(t *testing.T) {
	body := `{"text":["quantized weights","and a second, longer text to pad the first"]}`
	fp32 := embed(t, newEngine(t, engine.ModelConfig{}), body)
	int8 := embed(t, newEngine(t, engine.ModelConfig{Variant: "int8"}), body)
	for i := range fp32.Data {
		var dot float64
		for j := range fp32.Data[i] {
			dot += float64(fp32.Data[i][j]) * float64(int8.Data[i][j])
		}
		if dot < 0.98 || math.IsNaN(dot) { // unit vectors: int8 weights keep the direction
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

// Outputs edgeinfer does not read are sized from their declared dims, the
// dynamic ones being batch then sequence, whatever the output is called.
func TestOtherOutputShapes(t *testing.T) {
	for _, tc := range []struct{ dims, want []int64 }{
		{[]int64{-1, -1, 768}, []int64{2, 5, 768}},
		{[]int64{-1, 768}, []int64{2, 768}},
		{[]int64{3, -1, 8}, []int64{3, 5, 8}},
	} {
		if got := (otherOutput{dims: tc.dims}).shape(2, 5); !slices.Equal(got, tc.want) {
			t.Errorf("dims %v: shape %v, want %v", tc.dims, got, tc.want)
		}
	}
}

package bert

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

const (
	small  = "@cf/baai/bge-small-en-v1.5"
	base   = "@cf/baai/bge-base-en-v1.5"
	omni   = "@cf/baai/omni-bge-base-en-v1.5"
	distil = synth.DistilBERTModelID
)

var modelsDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bert-test-")
	if err != nil {
		panic(err)
	}
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir}, []string{small, base, omni, distil, synth.RerankerModelID, synth.BGEM3ModelID}, os.Stderr); err != nil {
		panic(err)
	}
	modelsDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newEngine serves the tiny synthetic bge-small through the real backend.
func newEngine(t *testing.T, mc engine.ModelConfig) *engine.Engine {
	t.Helper()
	orttest.Require(t)
	if mc.Dir == "" {
		mc.Dir = modelsDir + "/" + small
	}
	return enginetest.New(t, map[string]engine.ModelConfig{small: mc}, map[string]engine.Backend{Kind: Backend{}}, nil)
}

func embed(t *testing.T, eng *engine.Engine, body string) *engine.EmbeddingsOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := eng.Run(ctx, small, engine.Input{JSON: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	return out.(*engine.EmbeddingsOutput)
}

func TestEmbeddingsShapeNormAndPooling(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	out := embed(t, eng, `{"text":["The quick brown fox","jumps over the lazy dog","The quick brown fox"]}`)
	if out.Shape[0] != 3 || out.Shape[1] != len(out.Data[0]) || out.Pooling != "mean" || out.PromptTokens == 0 {
		t.Fatalf("shape %v dims %d pooling %q tokens %d", out.Shape, len(out.Data[0]), out.Pooling, out.PromptTokens)
	}
	for i, v := range out.Data {
		if n := norm(v); math.Abs(n-1) > 1e-5 {
			t.Fatalf("vector %d has norm %v", i, n)
		}
	}
	if maxDiff(out.Data[0], out.Data[2]) != 0 {
		t.Fatal("the same text embedded twice differs")
	}
	if maxDiff(out.Data[0], out.Data[1]) < 1e-3 {
		t.Fatal("different texts give the same embedding")
	}
	cls := embed(t, eng, `{"text":"The quick brown fox","pooling":"cls"}`)
	if cls.Pooling != "cls" || maxDiff(cls.Data[0], out.Data[0]) < 1e-3 {
		t.Fatal("cls pooling gives the mean-pooled vector")
	}
}

// A text's embedding must not depend on what it was batched with.
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
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each request mixes its text with others of different lengths.
				body := fmt.Sprintf(`{"text":[%q,%q,%q]}`, texts[(i+1)%len(texts)], texts[i], texts[(i+round+2)%len(texts)])
				out := embed(t, eng, body)
				if d := maxDiff(out.Data[1], alone[i]); d > 1e-5 {
					t.Errorf("text %d differs by %g when batched", i, d)
				}
			}()
		}
	}
	wg.Wait()
}

func TestTruncation(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	long := strings.Repeat("word ", 700)
	if out := embed(t, eng, fmt.Sprintf(`{"text":%q}`, long)); out.PromptTokens != 512 {
		t.Fatalf("truncated input counted %d tokens, want 512", out.PromptTokens)
	}
	_, err := eng.Run(context.Background(), small, engine.Input{JSON: []byte(fmt.Sprintf(`{"text":["ok",%q],"truncate_inputs":false}`, long))})
	d := engine.Describe(err)
	if d.Status != 413 || d.Code != 3006 || !strings.Contains(d.Message, "text[1]") {
		t.Fatalf("over-long input with truncate_inputs false: %+v", d)
	}
}

func TestInt8Variant(t *testing.T) {
	fp32 := embed(t, newEngine(t, engine.ModelConfig{}), `{"text":"quantized weights"}`).Data[0]
	int8 := embed(t, newEngine(t, engine.ModelConfig{Variant: "int8"}), `{"text":"quantized weights"}`).Data[0]
	var dot float64
	for i := range fp32 {
		dot += float64(fp32[i]) * float64(int8[i])
	}
	if dot < 0.98 { // both are unit vectors; int8 weights keep the direction
		t.Fatalf("int8 vs fp32 cosine %v", dot)
	}
}

// TestFloat16Variant runs the half-precision export, whose input and output
// are float16 as in a model_fp16.onnx converted without keep_io_types, on
// the CPU (ONNX Runtime casts the operators it has no half kernel for). A
// batch of uneven texts pads, so the clamped mask bias is exercised too.
func TestFloat16Variant(t *testing.T) {
	dir := t.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir, Float16: true}, []string{small}, io.Discard); err != nil {
		t.Fatal(err)
	}
	body := `{"text":["half precision","a much longer sentence that makes the batch pad the short one","x"]}`
	for _, pooling := range []string{"mean", "cls"} {
		req := strings.Replace(body, "{", `{"pooling":"`+pooling+`",`, 1)
		fp32 := embed(t, newEngine(t, engine.ModelConfig{Dir: dir + "/" + small}), req)
		fp16 := embed(t, newEngine(t, engine.ModelConfig{Dir: dir + "/" + small, Variant: "fp16"}), req)
		for i := range fp32.Data {
			if d := maxDiff(fp32.Data[i], fp16.Data[i]); d > 2e-3 || math.IsNaN(d) {
				t.Errorf("%s pooling, text %d: fp16 differs from fp32 by %v", pooling, i, d)
			}
			if n := norm(fp16.Data[i]); math.Abs(n-1) > 1e-5 {
				t.Errorf("%s pooling, text %d: fp16 vector has norm %v", pooling, i, n)
			}
		}
	}
}

func TestNotInstalled(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{Variant: "fp16"}) // the synthetic set has no fp16 file
	_, err := eng.Run(context.Background(), small, engine.Input{JSON: []byte(`{"text":"x"}`)})
	d := engine.Describe(err)
	if d.Status != 503 || !strings.Contains(d.Message, "onnx/model_fp16.onnx") || !strings.Contains(d.Message, "synth --only "+small+" --fp16") || strings.Contains(d.Message, modelsDir) {
		t.Fatalf("missing variant: %+v", d)
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

func TestPoolIgnoresPaddingAndNormalizes(t *testing.T) {
	states := []float32{1, 2, 3, 4, 100, 100} // two real tokens, one padded position
	mean := pool(states, 2, 2, false)
	want := []float32{float32(2 / math.Sqrt(13)), float32(3 / math.Sqrt(13))}
	if maxDiff(mean, want) > 1e-7 {
		t.Fatalf("mean pool = %v, want %v", mean, want)
	}
	cls := pool(states, 2, 2, true)
	if want := []float32{float32(1 / math.Sqrt(5)), float32(2 / math.Sqrt(5))}; maxDiff(cls, want) > 1e-7 {
		t.Fatalf("cls pool = %v, want %v", cls, want)
	}
}

func TestCorruptModelFileIsAClearError(t *testing.T) {
	orttest.Require(t)
	dir := t.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir}, []string{small}, io.Discard); err != nil {
		t.Fatal(err)
	}
	modelDir := dir + "/" + small
	if err := os.WriteFile(modelDir+"/onnx/model.onnx", []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, engine.ModelConfig{Dir: modelDir})
	_, err := eng.Run(context.Background(), small, engine.Input{JSON: []byte(`{"text":"x"}`)})
	d := engine.Describe(err)
	if d.Status != 503 || !strings.Contains(d.Message, "onnx/model.onnx") || strings.Contains(d.Message, dir) {
		t.Fatalf("corrupt file: %+v", d)
	}
}

// TestPlacementIsListed loads the model for CUDA. On a machine without a
// usable GPU (this one) it runs on the CPU, and the listing says so; with
// require_device the load fails instead.
func TestPlacementIsListed(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{Device: "cuda"})
	embed(t, eng, `{"text":"where does this run"}`)
	var st engine.ModelState
	for _, m := range eng.Models() {
		if m.Model == small {
			st = m
		}
	}
	if st.Device != "cuda" || (st.ExecutionProvider != "CPUExecutionProvider" && st.ExecutionProvider != "CUDAExecutionProvider") {
		t.Fatalf("listing shows device %q on %q", st.Device, st.ExecutionProvider)
	}
	if st.ExecutionProvider == "CUDAExecutionProvider" {
		return // a GPU machine with the CUDA build: nothing fell back
	}
	if st.Fallback == "" {
		t.Fatal("the listing runs on the CPU without saying why")
	}
	required := newEngine(t, engine.ModelConfig{Device: "cuda", RequireDevice: true})
	_, err := required.Run(context.Background(), small, engine.Input{JSON: []byte(`{"text":"x"}`)})
	if d := engine.Describe(err); d.Status != 503 || !strings.Contains(d.Message, "requires cuda:0, which is unavailable") {
		t.Fatalf("required cuda on a CPU-only runtime: %+v", d)
	}
}

// BenchmarkPool pools one 40-token row of bge-base width (768).
func BenchmarkPool(b *testing.B) {
	const tokens, hidden = 40, 768
	states := make([]float32, tokens*hidden)
	for i := range states {
		states[i] = float32(i%97) / 97
	}
	b.ReportAllocs()
	for b.Loop() {
		pool(states, tokens, hidden, false)
	}
}

// TestConcurrentBatches runs batches on two goroutines at once, as the two
// scheduler instances on a GPU do: each batch must get the answer it gets
// alone, so no buffer is shared between batches in flight (the race
// detector watches too).
func TestConcurrentBatches(t *testing.T) {
	orttest.Require(t)
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := cat.Lookup(small)
	loaded, err := Backend{}.Load(context.Background(), engine.ModelSpec{Entry: entry, Config: engine.ModelConfig{Dir: modelsDir + "/" + small}})
	if err != nil {
		t.Fatal(err)
	}
	m := loaded.(embedder).Model
	defer m.Close()
	batches := make([][]sequence, 4)
	for i := range batches {
		for j := range 3 + i {
			ids, _, _, err := m.tok.Encode(strings.Repeat(fmt.Sprintf("batch %d text %d ", i, j), 1+i*j), m.maxTokens)
			if err != nil {
				t.Fatal(err)
			}
			batches[i] = append(batches[i], sequence{ids: ids, cls: j%2 == 1})
		}
	}
	alone := make([][][]float32, len(batches))
	for i, b := range batches {
		if alone[i], err = m.runBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		var wg sync.WaitGroup
		for i, b := range batches {
			wg.Go(func() {
				got, err := m.runBatch(b)
				if err != nil {
					t.Error(err)
					return
				}
				for r := range got {
					if d := maxDiff(got[r], alone[i][r]); d > 1e-6 {
						t.Errorf("batch %d row %d differs by %v when batches run concurrently", i, r, d)
					}
				}
			})
		}
		wg.Wait()
	}
}

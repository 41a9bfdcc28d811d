package bert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
	"github.com/edgeinfer/edgeinfer/tokenize"
)

// serve runs one model of the tiny synthetic set through the real backend.
func serve(t *testing.T, id string, mc engine.ModelConfig) *engine.Engine {
	t.Helper()
	orttest.Require(t)
	if mc.Dir == "" {
		mc.Dir = filepath.Join(modelsDir, filepath.FromSlash(id))
	}
	return enginetest.New(t, map[string]engine.ModelConfig{id: mc}, map[string]engine.Backend{Kind: Backend{}}, nil)
}

// run sends a JSON body and returns the engine's answer or its error.
func run(eng *engine.Engine, id, body string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return eng.Run(ctx, id, engine.Input{JSON: []byte(body)})
}

// directLogits runs one tokenized text through a model file in ONNX
// Runtime, outside the backend, and returns its logits.
func directLogits(t *testing.T, path string, ids []int64) []float32 {
	t.Helper()
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shape := onnx.NewShape(1, int64(len(ids)))
	idT, err := onnx.NewTensor(shape, ids)
	if err != nil {
		t.Fatal(err)
	}
	defer idT.Destroy()
	maskT, err := onnx.NewTensor(shape, slices.Repeat([]int64{1}, len(ids)))
	if err != nil {
		t.Fatal(err)
	}
	defer maskT.Destroy()
	in, err := s.BindInputs(map[string]onnx.Value{"input_ids": idT, "attention_mask": maskT})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]onnx.Value, len(s.Outputs()))
	if err := s.Run(in, out); err != nil {
		t.Fatal(err)
	}
	defer out[0].Destroy()
	return slices.Clone(out[0].(*onnx.Tensor[float32]).GetData())
}

// TestTextClassificationAnswersWorkersAIShape serves distilbert-sst-2-int8
// on its default variant (the int8 file) and checks the answer against the
// model file run directly: labels in id2label order, softmax of its logits.
func TestTextClassificationAnswersWorkersAIShape(t *testing.T) {
	eng := serve(t, distil, engine.ModelConfig{})
	dir := filepath.Join(modelsDir, filepath.FromSlash(distil))
	tok, err := tokenize.LoadBERT(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"This movie was wonderful.", "Dull, slow and far too long.", "naïve café"} {
		got, err := run(eng, distil, fmt.Sprintf(`{"text":%q}`, text))
		if err != nil {
			t.Fatal(err)
		}
		out := got.(*engine.TextClassificationOutput)
		ids, _, _, _ := tok.Encode(text, 512)
		logits := directLogits(t, filepath.Join(dir, filepath.FromSlash(synth.BGEQuantizedModelFile)), ids)
		p := 1 / (1 + math.Exp(float64(logits[0]-logits[1]))) // P(POSITIVE) of a two-way softmax
		if len(out.Labels) != 2 || out.Labels[0].Label != "NEGATIVE" || out.Labels[1].Label != "POSITIVE" {
			t.Fatalf("%q: labels %+v", text, out.Labels)
		}
		if d := math.Abs(float64(out.Labels[1].Score) - p); d > 1e-6 {
			t.Errorf("%q: POSITIVE scored %v, the int8 file's softmax gives %v", text, out.Labels[1].Score, p)
		}
		if d := math.Abs(float64(out.Labels[0].Score+out.Labels[1].Score) - 1); d > 1e-6 {
			t.Errorf("%q: scores sum to 1%+g", text, d)
		}
		if out.PromptTokens != len(ids) {
			t.Errorf("%q: %d prompt tokens, want %d", text, out.PromptTokens, len(ids))
		}
		raw, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		var wire []map[string]any
		if err := json.Unmarshal(raw, &wire); err != nil || len(wire) != 2 || wire[0]["label"] != "NEGATIVE" || wire[1]["score"] == nil {
			t.Errorf("%q: wire form %s", text, raw)
		}
	}
}

// A text's scores must not depend on what it was batched with: within
// 1e-5 on the fp32 file. The int8 file quantizes each activation tensor
// with one scale over the whole batch (DynamicQuantizeLinear, as ONNX
// Runtime's dynamic quantization emits), so a batch's other rows, padding
// included, move its scores a little: measured up to 2.4e-3 here.
func TestTextClassificationBatchInvariance(t *testing.T) {
	for variant, limit := range map[string]float64{"fp32": 1e-5, "int8": 0.01} {
		eng := serve(t, distil, engine.ModelConfig{Variant: variant, MaxQueueDelay: engine.Duration(20 * time.Millisecond)})
		texts := []string{"short", "a somewhat longer sentence about batching and padding",
			strings.Repeat("many words make a long input ", 12), "x y"}
		alone := make([]float32, len(texts))
		for i, text := range texts {
			got, err := run(eng, distil, fmt.Sprintf(`{"text":%q}`, text))
			if err != nil {
				t.Fatal(err)
			}
			alone[i] = got.(*engine.TextClassificationOutput).Labels[1].Score
		}
		var wg sync.WaitGroup
		for range 3 {
			for i, text := range texts {
				wg.Go(func() {
					got, err := run(eng, distil, fmt.Sprintf(`{"text":%q}`, text))
					if err != nil {
						t.Error(err)
						return
					}
					if d := math.Abs(float64(got.(*engine.TextClassificationOutput).Labels[1].Score - alone[i])); d > limit {
						t.Errorf("%s: text %d scores %g apart in a batch", variant, i, d)
					}
				})
			}
		}
		wg.Wait()
	}
}

func TestTextClassificationBadInput(t *testing.T) {
	eng := serve(t, distil, engine.ModelConfig{})
	long := strings.Repeat("word ", 700)
	got, err := run(eng, distil, fmt.Sprintf(`{"text":%q}`, long))
	if err != nil {
		t.Fatal(err)
	}
	if n := got.(*engine.TextClassificationOutput).PromptTokens; n != 512 {
		t.Errorf("a truncated text counted %d tokens, want 512", n)
	}
	for body, want := range map[string]struct {
		status int
		field  string
	}{
		fmt.Sprintf(`{"text":%q,"truncate_inputs":false}`, long): {413, "'text'"},
		`{}`:                   {400, "'text'"},
		`{"text":""}`:          {400, "'text'"},
		`{"text":["a"]}`:       {400, "'text'"},
		"{\"text\":\"a\xff\"}": {400, ""}, // invalid UTF-8
		`[]`:                   {400, ""},
	} {
		_, err := run(eng, distil, body)
		d := engine.Describe(err)
		if d.Status != want.status || !strings.Contains(d.Message, want.field) {
			t.Errorf("%.60s: %+v, want %d naming %s", body, d, want.status, want.field)
		}
	}
}

// omni-bge-base-en-v1.5 is bge-base's files under another ID: the same
// text embeds to the same vector.
func TestOmniBGEAnswersAsBGEBase(t *testing.T) {
	orttest.Require(t)
	eng := enginetest.New(t, map[string]engine.ModelConfig{
		omni: {Dir: filepath.Join(modelsDir, filepath.FromSlash(omni))},
		base: {Dir: filepath.Join(modelsDir, filepath.FromSlash(base))},
	}, map[string]engine.Backend{Kind: Backend{}}, nil)
	body := `{"text":["omni and base","share their files"],"pooling":"cls"}`
	a, err := run(eng, omni, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := run(eng, base, body)
	if err != nil {
		t.Fatal(err)
	}
	oa, ob := a.(*engine.EmbeddingsOutput), b.(*engine.EmbeddingsOutput)
	d, _ := synth.BGEDims(base, synth.Tiny)
	if oa.Shape != [2]int{2, d.Hidden} || oa.Pooling != "cls" {
		t.Fatalf("omni answered shape %v pooling %q", oa.Shape, oa.Pooling)
	}
	for i := range oa.Data {
		if maxDiff(oa.Data[i], ob.Data[i]) != 0 {
			t.Errorf("text %d: omni and bge-base embeddings differ", i)
		}
	}
}

// A model file whose head does not fit the catalog task is a load error
// that says so, not a wrong answer.
func TestHeadMustFitTheTask(t *testing.T) {
	eng := enginetest.New(t, map[string]engine.ModelConfig{
		distil: {Dir: filepath.Join(modelsDir, filepath.FromSlash(small))},
		small:  {Dir: filepath.Join(modelsDir, filepath.FromSlash(distil)), Variant: "int8"},
	}, map[string]engine.Backend{Kind: Backend{}}, nil)
	orttest.Require(t)
	for id, want := range map[string]string{
		distil: "outputs last_hidden_state, not the logits a classifier needs",
		small:  "outputs logits, not the last_hidden_state",
	} {
		_, err := run(eng, id, `{"text":"x"}`)
		if d := engine.Describe(err); d.Status != 503 || !strings.Contains(d.Message, want) {
			t.Errorf("%s on the other's files: %+v", id, d)
		}
	}
}

// The half-precision exports of the logits heads (float16 logits) answer
// like their fp32 files.
func TestFloat16LogitsHeads(t *testing.T) {
	orttest.Require(t)
	dir := t.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir, Float16: true}, []string{distil, synth.RerankerModelID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for id, body := range map[string]string{
		distil:                `{"text":"half precision logits"}`,
		synth.RerankerModelID: `{"query":"what pet","contexts":[{"text":"cat"},{"text":"a dog and a bird"},{"text":"the river"}]}`,
	} {
		var scores [2][]float64
		for i, variant := range []string{"fp32", "fp16"} {
			got, err := run(serve(t, id, engine.ModelConfig{Dir: filepath.Join(dir, filepath.FromSlash(id)), Variant: variant}), id, body)
			if err != nil {
				t.Fatal(err)
			}
			switch out := got.(type) {
			case *engine.TextClassificationOutput:
				for _, l := range out.Labels {
					scores[i] = append(scores[i], float64(l.Score))
				}
			case *engine.RerankOutput:
				scores[i] = make([]float64, len(out.Response))
				for _, s := range out.Response {
					scores[i][s.ID] = s.Score
				}
			}
		}
		for j := range scores[0] {
			if d := math.Abs(scores[0][j] - scores[1][j]); d > 5e-3 || math.IsNaN(scores[1][j]) {
				t.Errorf("%s: score %d is %v in fp16, %v in fp32", id, j, scores[1][j], scores[0][j])
			}
		}
	}
}

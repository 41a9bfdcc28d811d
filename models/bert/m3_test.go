package bert

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

const m3 = synth.BGEM3ModelID

// m3Vector is a text's CLS state from bge-m3's fp32 file (graph in
// model.onnx, weights in model.onnx_data) run directly on the text alone,
// normalized in float64.
func m3Vector(t *testing.T, text string) []float64 {
	t.Helper()
	dir := filepath.Join(modelsDir, filepath.FromSlash(m3))
	tok, err := loadTokenizer(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	ids, _, _, err := tok.Encode(text, 8192)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := synth.XLMRDims(m3, synth.Tiny)
	states := directLogits(t, filepath.Join(dir, filepath.FromSlash(synth.BGEModelFile)), ids)
	v := make([]float64, d.Hidden)
	var norm float64
	for i := range v {
		v[i] = float64(states[i])
		norm += v[i] * v[i]
	}
	for i := range v {
		v[i] /= math.Sqrt(norm)
	}
	return v
}

func closeTo(got []float32, want []float64, limit float64) bool {
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > limit {
			return false
		}
	}
	return len(got) == len(want)
}

// bge-m3's three forms on its tiny synthetic files: {text} embeds with CLS
// pooling, {query, contexts} scores by cosine, {contexts} embeds the
// contexts; each vector is the text's own (batched with texts of other
// lengths, the one alone).
func TestBGEM3AnswersWorkersAIShapes(t *testing.T) {
	eng := serve(t, m3, engine.ModelConfig{})
	texts := []string{"paris is the capital of france", "rain", "a book about music and film in tokyo"}
	want := make([][]float64, len(texts))
	for i, text := range texts {
		want[i] = m3Vector(t, text)
	}
	d, _ := synth.XLMRDims(m3, synth.Tiny)

	got, err := run(eng, m3, fmt.Sprintf(`{"text":[%q,%q,%q]}`, texts[0], texts[1], texts[2]))
	if err != nil {
		t.Fatal(err)
	}
	emb := got.(*engine.EmbeddingsOutput)
	if emb.Shape != [2]int{3, d.Hidden} || emb.Pooling != "cls" {
		t.Fatalf("shape %v pooling %q", emb.Shape, emb.Pooling)
	}
	for i := range texts {
		if !closeTo(emb.Data[i], want[i], 1e-5) {
			t.Errorf("text %d: embedding is not its CLS state alone, normalized", i)
		}
	}

	got, err = run(eng, m3, fmt.Sprintf(`{"contexts":[{"text":%q},{"text":%q}]}`, texts[1], texts[2]))
	if err != nil {
		t.Fatal(err)
	}
	ctxs := got.(*engine.ContextEmbeddingsOutput)
	if ctxs.Shape != [2]int{2, d.Hidden} || !closeTo(ctxs.Response[0], want[1], 1e-5) || !closeTo(ctxs.Response[1], want[2], 1e-5) {
		t.Errorf("contexts form: shape %v", ctxs.Shape)
	}

	got, err = run(eng, m3, fmt.Sprintf(`{"query":%q,"contexts":[{"text":%q},{"text":%q}]}`, texts[0], texts[1], texts[2]))
	if err != nil {
		t.Fatal(err)
	}
	ranked := got.(*engine.RerankOutput).Response
	if len(ranked) != 2 || ranked[0].Score < ranked[1].Score {
		t.Fatalf("query form: %+v", ranked)
	}
	for _, s := range ranked {
		var cos float64
		for j := range want[0] {
			cos += want[0][j] * want[s.ID+1][j]
		}
		if math.Abs(s.Score-cos) > 1e-5 {
			t.Errorf("context %d scored %v, the cosine of the vectors alone is %v", s.ID, s.Score, cos)
		}
	}
}

// bge-m3 takes 8192 tokens; its truncate_inputs defaults to false, so a
// longer text is a 413 naming the field of the form it came in.
func TestBGEM3InputLimit(t *testing.T) {
	orttest.Require(t)
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := cat.Lookup(m3)
	loaded, err := Backend{}.Load(context.Background(), engine.ModelSpec{Entry: entry, Config: engine.ModelConfig{Dir: filepath.Join(modelsDir, filepath.FromSlash(m3))}})
	if err != nil {
		t.Fatal(err)
	}
	if n := loaded.(embedder).maxTokens; n != 8192 {
		t.Errorf("bge-m3 takes %d tokens, want 8192", n)
	}
	loaded.Close()

	eng := serve(t, m3, engine.ModelConfig{})
	long := strings.Repeat("alpha ", 8191) // 8193 tokens with <s> and </s>
	for body, field := range map[string]string{
		fmt.Sprintf(`{"text":%q}`, long):                                   "'text'",
		fmt.Sprintf(`{"text":["ok",%q]}`, long):                            "'text[1]'",
		fmt.Sprintf(`{"contexts":[{"text":"ok"},{"text":%q}]}`, long):      "'contexts[1].text'",
		fmt.Sprintf(`{"query":"ok","contexts":[{"text":%q}]}`, long):       "'contexts[0].text'",
		fmt.Sprintf(`{"query":%q,"contexts":[{"text":"ok"}]}`, long):       "'query'",
		fmt.Sprintf(`{"text":[%q],"truncate_inputs":false}`, long+"alpha"): "'text'",
	} {
		_, err := run(eng, m3, body)
		if d := engine.Describe(err); d.Status != 413 || !strings.Contains(d.Message, field) || !strings.Contains(d.Message, "limit of 8192") {
			t.Errorf("%.40s…: %+v, want 413 naming %s", body, d, field)
		}
	}
}

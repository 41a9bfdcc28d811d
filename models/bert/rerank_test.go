package bert

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

const rerankerID = synth.RerankerModelID

// pairScore is a query-context pair's score from the reranker's fp32 file
// run directly on the pair alone: sigmoid(logit).
func pairScore(t *testing.T, query, context string) float64 {
	t.Helper()
	dir := filepath.Join(modelsDir, filepath.FromSlash(rerankerID))
	tok, err := loadTokenizer(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	ids, _, _, err := tok.(pairTokenizer).EncodePair(query, context, 512)
	if err != nil {
		t.Fatal(err)
	}
	logit := directLogits(t, filepath.Join(dir, filepath.FromSlash(synth.BGEModelFile)), ids)[0]
	return 1 / (1 + math.Exp(-float64(logit)))
}

// contextsJSON is the contexts array of a rerank request.
func contextsJSON(texts []string) string {
	items := make([]string, len(texts))
	for i, text := range texts {
		items[i] = fmt.Sprintf(`{"text":%q}`, text)
	}
	return "[" + strings.Join(items, ",") + "]"
}

// rerankAnswer checks an answer holds each context once, best first, each
// score the pair's own.
func rerankAnswer(t *testing.T, got any, query string, contexts []string, limit float64) {
	t.Helper()
	out := got.(*engine.RerankOutput)
	if len(out.Response) != len(contexts) {
		t.Fatalf("%d scores for %d contexts", len(out.Response), len(contexts))
	}
	seen := map[int]bool{}
	for i, s := range out.Response {
		if seen[s.ID] || s.ID < 0 || s.ID >= len(contexts) {
			t.Fatalf("response %+v repeats or invents context ids", out.Response)
		}
		seen[s.ID] = true
		if i > 0 && s.Score > out.Response[i-1].Score {
			t.Errorf("response is not best first: %+v", out.Response)
		}
		if want := pairScore(t, query, contexts[s.ID]); math.Abs(s.Score-want) > limit {
			t.Errorf("context %d scored %v, the pair alone %v", s.ID, s.Score, want)
		}
	}
}

func TestRerankAnswersWorkersAIShape(t *testing.T) {
	eng := serve(t, rerankerID, engine.ModelConfig{})
	query := "what is the capital of france"
	contexts := []string{"paris is the capital of france", "the weather in london", "a book about music and film"}
	got, err := run(eng, rerankerID, fmt.Sprintf(`{"query":%q,"contexts":%s}`, query, contextsJSON(contexts)))
	if err != nil {
		t.Fatal(err)
	}
	rerankAnswer(t, got, query, contexts, 1e-6)
	if n := got.(*engine.RerankOutput).PromptTokens; n == 0 {
		t.Error("no prompt tokens counted")
	}
	raw, _ := json.Marshal(got)
	var wire struct {
		Response []map[string]any `json:"response"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil || len(wire.Response) != 3 || wire.Response[0]["id"] == nil || wire.Response[0]["score"] == nil {
		t.Errorf("wire form %s", raw)
	}

	top, err := run(eng, rerankerID, fmt.Sprintf(`{"query":%q,"contexts":%s,"top_k":2}`, query, contextsJSON(contexts)))
	if err != nil {
		t.Fatal(err)
	}
	if r := top.(*engine.RerankOutput).Response; len(r) != 2 || r[0] != got.(*engine.RerankOutput).Response[0] || r[1] != got.(*engine.RerankOutput).Response[1] {
		t.Errorf("top_k 2 gave %+v of %+v", r, got.(*engine.RerankOutput).Response)
	}
}

// permutations returns n distinct orders of words: texts of one token
// length under a tokenizer that splits on spaces first, so batches are
// never held back by the padding limit.
func permutations(words []string, n int) []string {
	var out []string
	var permute func(prefix, rest []string)
	permute = func(prefix, rest []string) {
		if len(out) == n {
			return
		}
		if len(rest) == 0 {
			out = append(out, strings.Join(prefix, " "))
			return
		}
		for i := range rest {
			next := append(append([]string{}, rest[:i]...), rest[i+1:]...)
			permute(append(append([]string{}, prefix...), rest[i]), next)
		}
	}
	permute(nil, words)
	return out
}

// batchesRun reads the engine's batch-size histogram: how many batches ran
// and how many items they held.
func batchesRun(t *testing.T, eng *engine.Engine) (batches, items float64) {
	t.Helper()
	families, err := eng.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "edgeinfer_batch_size" {
			for _, m := range f.GetMetric() {
				batches += float64(m.GetHistogram().GetSampleCount())
				items += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return batches, items
}

// One request of 1 query × 50 contexts runs as 5 batches of 10 pairs (the
// batch size limit) and comes back whole, each score its pair's own. A long
// queue delay makes batches start only when full, so the count is exact.
func TestRerankSpreadsPairsOverBatches(t *testing.T) {
	eng := serve(t, rerankerID, engine.ModelConfig{MaxBatchSize: 10, MaxQueueDelay: engine.Duration(30 * time.Second)})
	query := "which greek letter"
	contexts := permutations([]string{"alpha", "beta", "gamma", "delta", "epsilon"}, 50)
	got, err := run(eng, rerankerID, fmt.Sprintf(`{"query":%q,"contexts":%s}`, query, contextsJSON(contexts)))
	if err != nil {
		t.Fatal(err)
	}
	rerankAnswer(t, got, query, contexts, 1e-5)
	if batches, items := batchesRun(t, eng); batches != 5 || items != 50 {
		t.Errorf("%v pairs ran in %v batches, want 50 in 5", items, batches)
	}
}

// Pairs of concurrent requests share batches: 3 requests of 4 pairs run as
// 2 batches of 6, which no single request fills.
func TestRerankRequestsShareBatches(t *testing.T) {
	eng := serve(t, rerankerID, engine.ModelConfig{MaxBatchSize: 6, MaxQueueDelay: engine.Duration(30 * time.Second)})
	contexts := permutations([]string{"cat", "dog", "bird", "fish"}, 12)
	queries := []string{"which animal", "what pet", "name a bird"} // two, two and three words: pairs of 8 or 9 tokens
	var wg sync.WaitGroup
	for r, query := range queries {
		wg.Go(func() {
			mine := contexts[4*r : 4*r+4]
			got, err := run(eng, rerankerID, fmt.Sprintf(`{"query":%q,"contexts":%s}`, query, contextsJSON(mine)))
			if err != nil {
				t.Error(err)
				return
			}
			rerankAnswer(t, got, query, mine, 1e-5)
		})
	}
	wg.Wait()
	if batches, items := batchesRun(t, eng); batches != 2 || items != 12 {
		t.Errorf("%v pairs ran in %v batches, want 12 in 2", items, batches)
	}
}

func TestRerankBadInput(t *testing.T) {
	eng := serve(t, rerankerID, engine.ModelConfig{})
	long := strings.Repeat("alpha ", 600)
	got, err := run(eng, rerankerID, fmt.Sprintf(`{"query":"q","contexts":[{"text":"short"},{"text":%q}]}`, long))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := loadTokenizer(filepath.Join(modelsDir, filepath.FromSlash(rerankerID), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	short, _, _, _ := tok.(pairTokenizer).EncodePair("q", "short", 512)
	if n := got.(*engine.RerankOutput).PromptTokens; n != len(short)+512 {
		t.Errorf("a truncated pair counted %d tokens with the short one, want %d+512", n, len(short))
	}
	for body, want := range map[string]struct {
		status int
		field  string
	}{
		fmt.Sprintf(`{"query":"q","contexts":[{"text":"short"},{"text":%q}],"truncate_inputs":false}`, long): {413, "'contexts[1].text'"},
		fmt.Sprintf(`{"query":%q,"contexts":[{"text":"short"}],"truncate_inputs":false}`, long):              {413, "'query'"},
		`{"contexts":[{"text":"a"}]}`:                           {400, "'query'"},
		`{"query":"","contexts":[{"text":"a"}]}`:                {400, "'query'"},
		`{"query":"q","contexts":[]}`:                           {400, "'contexts'"},
		`{"query":"q"}`:                                         {400, "'contexts'"},
		`{"query":"q","contexts":["a"]}`:                        {400, "'contexts[0]'"},
		`{"query":"q","contexts":[{"txt":"a"}]}`:                {400, "'contexts[0].text'"},
		`{"query":"q","contexts":[{"text":""}]}`:                {400, "'contexts[0].text'"},
		`{"query":"q","contexts":[{"text":"a"}],"top_k":0}`:     {400, "'top_k'"},
		`{"query":"q","contexts":[{"text":"a"}],"top_k":-1}`:    {400, "'top_k'"},
		"{\"query\":\"q\",\"contexts\":[{\"text\":\"a\xff\"}]}": {400, ""}, // invalid UTF-8
	} {
		_, err := run(eng, rerankerID, body)
		d := engine.Describe(err)
		if d.Status != want.status || !strings.Contains(d.Message, want.field) {
			t.Errorf("%.70s: %+v, want %d naming %s", body, d, want.status, want.field)
		}
	}
}

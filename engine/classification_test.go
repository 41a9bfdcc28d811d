package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func decodeRerankJSON(raw []byte) (*RerankInput, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	return decodeRerank(f, true)
}

func items(n int, item string) string {
	return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
}

func TestDecodeRerank(t *testing.T) {
	checkDecode(t, decodeRerankJSON, []decodeCase{
		{"query and contexts", `{"query":"q","contexts":[{"text":"a"},{"text":"b"}]}`, "", false},
		{"top_k", `{"query":"q","contexts":[{"text":"a"}],"top_k":5}`, "", false},
		{"100 contexts", `{"query":"q","contexts":` + items(100, `{"text":"a"}`) + `}`, "", false},
		{"missing query", `{"contexts":[{"text":"a"}]}`, "query", false},
		{"empty query", `{"query":"","contexts":[{"text":"a"}]}`, "query", false},
		{"query not a string", `{"query":["q"],"contexts":[{"text":"a"}]}`, "query", false},
		{"missing contexts", `{"query":"q"}`, "contexts", false},
		{"empty contexts", `{"query":"q","contexts":[]}`, "contexts", false},
		{"101 contexts", `{"query":"q","contexts":` + items(101, `{"text":"a"}`) + `}`, "contexts", false},
		{"context is a string", `{"query":"q","contexts":["a"]}`, "contexts[0]", false},
		{"context without text", `{"query":"q","contexts":[{"text":"a"},{"body":"b"}]}`, "contexts[1].text", false},
		{"empty context", `{"query":"q","contexts":[{"text":""}]}`, "contexts[0].text", false},
		{"invalid utf-8", "{\"query\":\"q\",\"contexts\":[{\"text\":\"caf\xe9\"}]}", "contexts[0].text", false},
		{"top_k 0", `{"query":"q","contexts":[{"text":"a"}],"top_k":0}`, "top_k", false},
		{"top_k fractional", `{"query":"q","contexts":[{"text":"a"}],"top_k":1.5}`, "top_k", false},
		{"top_k a string", `{"query":"q","contexts":[{"text":"a"}],"top_k":"2"}`, "top_k", false},
	})
}

func TestDecodeTextClassification(t *testing.T) {
	checkDecode(t, decodeTextClassification, []decodeCase{
		{"text", `{"text":"great movie"}`, "", false},
		{"missing text", `{}`, "text", false},
		{"empty text", `{"text":""}`, "text", false},
		{"array", `{"text":["a"]}`, "text", false},
		{"invalid utf-8", "{\"text\":\"caf\xe9\"}", "text", false},
		{"truncate flag", `{"text":"a","truncate_inputs":1}`, "truncate_inputs", false},
	})
}

func TestDecodeBGEM3(t *testing.T) {
	checkDecode(t, decodeBGEM3, []decodeCase{
		{"text", `{"text":"a"}`, "", false},
		{"texts", `{"text":["a","b"],"truncate_inputs":true}`, "", false},
		{"query and contexts", `{"query":"q","contexts":[{"text":"a"}]}`, "", false},
		{"contexts alone", `{"contexts":[{"text":"a"}]}`, "", false},
		{"nothing", `{}`, "text", false},
		{"query alone", `{"query":"q"}`, "text", false},
		{"text and contexts", `{"text":"a","contexts":[{"text":"a"}]}`, "text", false},
		{"top_k is the reranker's", `{"query":"q","contexts":[{"text":"a"}],"top_k":1}`, "top_k", false},
		{"empty contexts", `{"contexts":[]}`, "contexts", false},
		{"bad context", `{"contexts":[{"text":1}]}`, "contexts[0].text", false},
		{"batch without queueRequest", `{"requests":[{"text":"a"}]}`, "requests", false},
	})
	for body, want := range map[string]any{
		`{"text":"a"}`: &EmbeddingsInput{},
		`{"query":"q","contexts":[{"text":"a"}]}`: &RerankInput{},
		`{"contexts":[{"text":"a"}]}`:             &ContextEmbeddingsInput{},
	} {
		got, err := decodeBGEM3([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		switch v := got.(type) {
		case *EmbeddingsInput:
			if _, ok := want.(*EmbeddingsInput); !ok || v.Pooling != "cls" || v.TruncateInputs {
				t.Errorf("%s decoded as %T %+v", body, got, got)
			}
		case *RerankInput:
			if _, ok := want.(*RerankInput); !ok || !v.byEmbeddings || v.TruncateInputs {
				t.Errorf("%s decoded as %T %+v", body, got, got)
			}
		case *ContextEmbeddingsInput:
			if _, ok := want.(*ContextEmbeddingsInput); !ok || v.Pooling != "cls" || v.TruncateInputs || v.Text[0] != "a" {
				t.Errorf("%s decoded as %T %+v", body, got, got)
			}
		default:
			t.Errorf("%s decoded as %T", body, got)
		}
	}
}

func TestDecodeQwen3Embedding(t *testing.T) {
	checkDecode(t, decodeQwen3Embedding, []decodeCase{
		{"queries", `{"queries":"q"}`, "", false},
		{"documents", `{"documents":["a","b"]}`, "", false},
		{"text alias", `{"text":"a"}`, "", false},
		{"both", `{"queries":["q"],"documents":"d","instruction":"Find code"}`, "", false},
		{"32 queries", `{"queries":` + items(32, `"q"`) + `}`, "", false},
		{"nothing", `{}`, "queries", false},
		{"33 documents", `{"documents":` + items(33, `"d"`) + `}`, "documents", false},
		{"documents and text", `{"documents":"a","text":"b"}`, "text", false},
		{"empty query", `{"queries":["q",""]}`, "queries[1]", false},
		{"instruction not a string", `{"queries":"q","instruction":1}`, "instruction", false},
		{"pooling is not an input", `{"text":1}`, "text", false},
	})
	in, err := decodeQwen3Embedding([]byte(`{"documents":["d1","d2"],"queries":"q"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Text, []string{"q", "d1", "d2"}) || in.Queries != 1 || in.Instruction != defaultQwen3Instruction || in.Pooling != "" {
		t.Fatalf("decoded %+v", in)
	}
}

func TestDecodeEmbeddingGemma(t *testing.T) {
	checkDecode(t, decodeEmbeddingGemma, []decodeCase{
		{"text", `{"text":"a"}`, "", false},
		{"texts", `{"text":["a","b"]}`, "", false},
		{"missing", `{}`, "text", false},
		{"101 texts", `{"text":` + items(101, `"x"`) + `}`, "text", false},
	})
}

// unitEmbedder embeds a text as a fixed unit vector per text, so cosine
// scores are known.
type unitEmbedder struct{ vecs map[string][]float32 }

func (unitEmbedder) Close() error { return nil }

func (u unitEmbedder) Embed(_ context.Context, in *EmbeddingsInput) (*EmbeddingsOutput, error) {
	out := &EmbeddingsOutput{Shape: [2]int{len(in.Text), 2}, Pooling: in.Pooling}
	for i, t := range in.Text {
		v, ok := u.vecs[t]
		if !ok {
			return nil, TooLarge(indexPath("text", i), "too long")
		}
		out.Data = append(out.Data, v)
		out.PromptTokens += 3
	}
	return out, nil
}

func TestRerankByEmbeddingsRanksByCosine(t *testing.T) {
	m := unitEmbedder{vecs: map[string][]float32{"q": {1, 0}, "far": {0, 1}, "near": {0.8, 0.6}, "same": {1, 0}}}
	in := &RerankInput{Query: "q", Contexts: []string{"far", "near", "same"}, byEmbeddings: true}
	out, err := rerank(context.Background(), m, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []RerankScore{{2, 1}, {1, 0.8}, {0, 0}}
	for i, s := range out.Response {
		if s.ID != want[i].ID || s.Score < want[i].Score-1e-6 || s.Score > want[i].Score+1e-6 {
			t.Fatalf("response = %+v, want %+v", out.Response, want)
		}
	}
	if out.PromptTokens != 12 {
		t.Fatalf("prompt tokens = %d, want 12", out.PromptTokens)
	}
	in.TopK = 1
	if out, _ = rerank(context.Background(), m, in); len(out.Response) != 1 || out.Response[0].ID != 2 {
		t.Fatalf("top_k 1 = %+v", out.Response)
	}
	in.Contexts = []string{"near", "unknown"}
	_, err = rerank(context.Background(), m, in)
	if e, ok := err.(*Error); !ok || e.Field != "contexts[1].text" || !strings.Contains(e.Message, "'contexts[1].text'") {
		t.Fatalf("over-long context: %v, want an error naming contexts[1].text", err)
	}
}

func TestRankSortsBestFirstAndKeepsTies(t *testing.T) {
	out := rank(&RerankOutput{Response: []RerankScore{{0, 0.2}, {1, 0.9}, {2, 0.2}, {3, 0.5}}}, 0)
	if got := []int{out.Response[0].ID, out.Response[1].ID, out.Response[2].ID, out.Response[3].ID}; !slices.Equal(got, []int{1, 3, 0, 2}) {
		t.Fatalf("order = %v", got)
	}
	if out = rank(out, 2); len(out.Response) != 2 {
		t.Fatalf("top_k 2 kept %d", len(out.Response))
	}
}

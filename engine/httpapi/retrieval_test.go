package httpapi

import (
	"strings"
	"testing"
)

// TestRetrievalModelsAnswerWorkersAIShapes runs each input form of the
// reranker, bge-m3, qwen3-embedding, embeddinggemma and the sentiment
// classifier through the REST route (fake backend) and checks the exact
// JSON Workers AI answers with.
func TestRetrievalModelsAnswerWorkersAIShapes(t *testing.T) {
	srv := newTestServer(t, Options{})
	tests := []struct {
		name, model, body, want string
	}{
		{"reranker best first", "@cf/baai/bge-reranker-base",
			`{"query":"red car","contexts":[{"text":"a blue boat"},{"text":"the red car"},{"text":"a red rose"}]}`,
			`{"response":[{"id":1,"score":0.6666666666666666},{"id":2,"score":0.3333333333333333},{"id":0,"score":0}]}`},
		{"reranker top_k", "@cf/baai/bge-reranker-base",
			`{"query":"red car","contexts":[{"text":"a blue boat"},{"text":"the red car"}],"top_k":1}`,
			`{"response":[{"id":1,"score":0.6666666666666666}]}`},
		{"sentiment in label order", "@cf/huggingface/distilbert-sst-2-int8", `{"text":"a good film"}`,
			`[{"label":"NEGATIVE","score":0.25},{"label":"POSITIVE","score":0.75}]`},
		{"bge-m3 text", "@cf/baai/bge-m3", `{"text":["abc"]}`,
			`{"shape":[1,2],"data":[[3,0.5]],"pooling":"cls"}`},
		{"bge-m3 contexts", "@cf/baai/bge-m3", `{"contexts":[{"text":"ab"},{"text":"abcd"}]}`,
			`{"response":[[2,0.5],[4,0.5]],"shape":[2,2],"pooling":"cls"}`},
		{"qwen3 queries first", "@cf/qwen/qwen3-embedding-0.6b", `{"documents":["abcd"],"queries":"ab"}`,
			`{"shape":[2,2],"data":[[2,0.5],[4,0.5]]}`},
		{"embeddinggemma", "@cf/google/embeddinggemma-300m", `{"text":"abc"}`,
			`{"shape":[1,2],"data":[[3,0.5]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "POST", srv.URL+runPath+tt.model, "application/json", tt.body, nil)
			env := decodeEnvelope(t, r)
			if r.status != 200 || string(env.Result) != tt.want {
				t.Fatalf("status %d: result %s, want %s", r.status, env.Result, tt.want)
			}
		})
	}
	// bge-m3 scores contexts by the cosine of its embeddings: the fake's
	// vectors (len, 0.5) make the longer context score higher.
	r := do(t, "POST", srv.URL+runPath+"@cf/baai/bge-m3", "application/json",
		`{"query":"abc","contexts":[{"text":"a"},{"text":"abcdef"}]}`, nil)
	env := decodeEnvelope(t, r)
	if r.status != 200 || !strings.HasPrefix(string(env.Result), `{"response":[{"id":1,"score":`) {
		t.Fatalf("bge-m3 query: status %d: %s", r.status, r.body)
	}
	// A reranker's input on a classifier, and the reverse, are 400s naming the field.
	for model, body := range map[string]string{
		"@cf/huggingface/distilbert-sst-2-int8": `{"query":"q","contexts":[{"text":"a"}]}`,
		"@cf/baai/bge-reranker-base":            `{"text":"a good film"}`,
	} {
		r := do(t, "POST", srv.URL+runPath+model, "application/json", body, nil)
		env := decodeEnvelope(t, r)
		if r.status != 400 || len(env.Errors) != 1 || env.Errors[0].Code != 5006 {
			t.Fatalf("%s %s: status %d: %s", model, body, r.status, r.body)
		}
	}
}

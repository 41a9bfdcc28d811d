package engine

import (
	"encoding/json"
	"testing"
)

var catalogIDs = []string{
	"@cf/llava-hf/llava-1.5-7b-hf",
	"@cf/meta/llama-2-7b-chat-int8", "@cf/mistral/mistral-7b-instruct-v0.1",
	"@hf/thebloke/llama-2-13b-chat-awq", "@hf/thebloke/codellama-7b-instruct-awq", "@cf/microsoft/phi-2",
	"@cf/google/gemma-2b-it-lora", "@cf/google/gemma-7b-it-lora", "@cf/meta/llama-3.1-8b-instruct-fp8",
	"@cf/meta/llama-3.1-8b-instruct-fast", "@cf/meta/llama-3.2-1b-instruct", "@cf/meta/llama-3.2-3b-instruct",
	"@cf/meta/llama-3.2-11b-vision-instruct", "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
	"@cf/meta/llama-4-scout-17b-16e-instruct", "@cf/meta/llama-guard-3-8b",
	"@cf/mistralai/mistral-small-3.1-24b-instruct", "@cf/qwen/qwq-32b", "@cf/qwen/qwen2.5-coder-32b-instruct",
	"@cf/qwen/qwen3-30b-a3b-fp8", "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", "@cf/openai/gpt-oss-20b",
	"@cf/openai/gpt-oss-120b", "@cf/ibm-granite/granite-4.0-h-micro", "@cf/zai-org/glm-4.7-flash",
	"@cf/google/gemma-4-26b-a4b-it", "@cf/qwen/qwen3.8-27b", "@cf/nvidia/nemotron-3-120b-a12b",
	"@cf/aisingapore/gemma-sea-lion-v4-27b-it", "@cf/utter-project/eurollm-9b-it",
	"@cf/swiss-ai/apertus-v1.5-8b", "@cf/mistral/mistral-7b-instruct-v0.2-lora",
	"@cf/meta-llama/llama-2-7b-chat-hf-lora", "@cf/moonshotai/kimi-k2.6", "@cf/moonshotai/kimi-k2.7-code",
	"@cf/zai-org/glm-5.2", "@cf/zai-org/glm-5.3-flash", "@cf/zai-org/glm-5.3",
	"@cf/deepseek-ai/deepseek-v4-flash-0731", "@cf/deepseek-ai/deepseek-v4-pro-0813",
	"@hf/thebloke/zephyr-7b-beta-awq", "@hf/thebloke/mistral-7b-instruct-v0.1-awq",
	"@hf/thebloke/openhermes-2.5-mistral-7b-awq", "@hf/thebloke/neural-chat-7b-v3-1-awq",
	"@hf/thebloke/deepseek-coder-6.7b-base-awq", "@hf/thebloke/deepseek-coder-6.7b-instruct-awq",
	"@cf/openchat/openchat-3.5-0106", "@cf/tiiuae/falcon-7b-instruct", "@cf/qwen/qwen1.5-0.5b-chat",
	"@cf/qwen/qwen1.5-1.8b-chat", "@cf/qwen/qwen1.5-7b-chat-awq", "@cf/qwen/qwen1.5-14b-chat-awq",
	"@cf/tinyllama/tinyllama-1.1b-chat-v1.0", "@hf/nexusflow/starling-lm-7b-beta",
	"@hf/thebloke/llamaguard-7b-awq", "@cf/deepseek-ai/deepseek-math-7b-instruct",
	"@cf/thebloke/discolm-german-7b-v1-awq", "@cf/fblgit/una-cybertron-7b-v2-bf16", "@cf/moonshotai/kimi-k2.5",
	"@hf/meta-llama/meta-llama-3-8b-instruct", "@cf/meta/llama-3-8b-instruct",
	"@cf/meta/llama-3-8b-instruct-awq", "@cf/meta/llama-3.1-8b-instruct", "@cf/meta/llama-3.1-8b-instruct-awq",
	"@cf/meta/llama-3.1-70b-instruct", "@cf/meta/llama-2-7b-chat-fp16", "@hf/mistral/mistral-7b-instruct-v0.2",
	"@hf/google/gemma-7b-it", "@cf/google/gemma-3-12b-it", "@hf/nousresearch/hermes-2-pro-mistral-7b",
	"@cf/defog/sqlcoder-7b-2", "@cf/baai/bge-small-en-v1.5", "@cf/baai/bge-base-en-v1.5",
	"@cf/baai/bge-large-en-v1.5", "@cf/microsoft/resnet-50", "@cf/meta/m2m100-1.2b",
	"@cf/baai/omni-bge-base-en-v1.5", "@cf/baai/bge-m3", "@cf/qwen/qwen3-embedding-0.6b",
	"@cf/google/embeddinggemma-300m", "@cf/baai/bge-reranker-base", "@cf/huggingface/distilbert-sst-2-int8",
	"@cf/openai/whisper", "@cf/openai/whisper-tiny-en", "@cf/openai/whisper-large-v3-turbo",
}

func mustCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalogHasEveryWorkersAIModel(t *testing.T) {
	c := mustCatalog(t)
	if got := len(c.Entries()); got != len(catalogIDs) {
		t.Fatalf("catalog has %d models, want %d", got, len(catalogIDs))
	}
	seenUUID := map[string]bool{}
	for _, id := range catalogIDs {
		e, ok := c.Lookup(id)
		if !ok {
			t.Fatalf("missing %s", id)
		}
		if e.UUID == "" || seenUUID[e.UUID] {
			t.Errorf("%s: empty or duplicate uuid %q", id, e.UUID)
		}
		seenUUID[e.UUID] = true
		if e.Backend == "" || e.Description == "" {
			t.Errorf("%s: backend or description missing", id)
		}
		if _, ok := c.Tasks[e.Task]; !ok {
			t.Errorf("%s: unknown task %q", id, e.Task)
		}
		var schema struct{ Input, Output json.RawMessage }
		if err := json.Unmarshal(c.Schema(e.Task), &schema); err != nil || schema.Input == nil || schema.Output == nil {
			t.Errorf("%s: schema for %s is not {input, output}: %v", id, e.Task, err)
		}
	}
}

func TestCatalogAliasesResolveToTheHFModels(t *testing.T) {
	c := mustCatalog(t)
	for alias, want := range map[string]string{
		"@cf/meta/llama-2-13b-chat-awq":      "@hf/thebloke/llama-2-13b-chat-awq",
		"@cf/meta/codellama-7b-instruct-awq": "@hf/thebloke/codellama-7b-instruct-awq",
	} {
		e, err := c.Resolve(alias)
		if err != nil || e.ID != want {
			t.Errorf("Resolve(%s) = %v, %v; want %s", alias, e, err, want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	c := mustCatalog(t)
	tests := []struct {
		id   string
		kind Kind
	}{
		{"@cf/meta/llama-9-chat", KindUnknownModel},
		{"@cf/baai/bge-huge-en-v1.5", KindUnknownModel},
		{"llama", KindInvalidModelName},
		{"", KindInvalidModelName},
		{"@cf/../../etc/passwd", KindInvalidModelName},
		{"@cf/../x", KindInvalidModelName},
		{"@cf/baai/..", KindInvalidModelName},
		{"@custom/my-embedder", KindUnknownModel},
	}
	for _, tt := range tests {
		_, err := c.Resolve(tt.id)
		if KindOf(err) != tt.kind {
			t.Errorf("Resolve(%q) kind = %v, want %v (%v)", tt.id, KindOf(err), tt.kind, err)
		}
	}
}

func TestSearchFilters(t *testing.T) {
	c := mustCatalog(t)
	tests := []struct {
		q    SearchQuery
		want int
	}{
		{SearchQuery{}, 85},
		{SearchQuery{Task: "Text Embeddings"}, 7},
		{SearchQuery{Task: "Automatic Speech Recognition"}, 3},
		{SearchQuery{Search: "whisper-1"}, 1}, // by alias
		{SearchQuery{Author: "openai"}, 5},
		{SearchQuery{Task: "Text Classification"}, 2},
		{SearchQuery{Task: "text-generation"}, 70},
		{SearchQuery{Author: "baai"}, 6},
		{SearchQuery{Search: "resnet"}, 1},
		{SearchQuery{Search: "@cf/meta/codellama-7b-instruct-awq"}, 1}, // by alias
		{SearchQuery{Task: "Translation", Author: "baai"}, 0},
	}
	for _, tt := range tests {
		if got := len(c.Search(tt.q)); got != tt.want {
			t.Errorf("Search(%+v) = %d models, want %d", tt.q, got, tt.want)
		}
	}
}

func TestSearchObjectShape(t *testing.T) {
	c := mustCatalog(t)
	e, _ := c.Lookup("@cf/baai/bge-base-en-v1.5")
	obj := c.SearchObject(e)
	if obj.ID != "429b9e8b-d99e-44de-91ad-706cf8183658" || obj.Name != e.ID || obj.Task.ID != "0137cdcf-162a-4108-94f2-1ca59e8c65ee" {
		t.Fatalf("unexpected object %+v", obj)
	}
	found := false
	for _, p := range obj.Properties {
		if p.PropertyID == "output_dimensions" && p.Value == "768" {
			found = true
		}
	}
	if !found {
		t.Fatalf("output_dimensions property missing: %+v", obj.Properties)
	}
}

// TestRetiredModelsKeepAnAnswer: every retired model names a successor in
// the catalog, carries Workers AI's deprecation property in search and the
// "deprecated" keyword in its schema, and has an Ollama tag to answer with:
// its original's, else its successor's (unless neither has a local model).
func TestRetiredModelsKeepAnAnswer(t *testing.T) {
	c := mustCatalog(t)
	retired := 0
	for _, e := range c.Entries() {
		if e.Retired == "" {
			continue
		}
		retired++
		if _, ok := c.Lookup(e.Successor); !ok {
			t.Errorf("%s: successor %q is not in the catalog", e.ID, e.Successor)
		}
		if e.Artifacts.Ollama == "" && !e.NoLocalPath {
			t.Errorf("%s: no Ollama tag to answer with", e.ID)
		}
		if e.AnsweredBy != "" {
			next, _ := c.Lookup(e.AnsweredBy)
			if next.ID != e.Successor || e.Artifacts.Ollama != next.Artifacts.Ollama {
				t.Errorf("%s: answered by %s with %q, want its successor %s's tag", e.ID, e.AnsweredBy, e.Artifacts.Ollama, e.Successor)
			}
		}
		found := false
		for _, p := range c.SearchObject(e).Properties {
			found = found || (p.PropertyID == PlannedDeprecationProperty && p.Value != "")
		}
		if !found {
			t.Errorf("%s: search object lacks %s", e.ID, PlannedDeprecationProperty)
		}
		raw, err := c.ModelSchema(e)
		var doc map[string]struct {
			Deprecated  bool   `json:"deprecated"`
			Description string `json:"description"`
		}
		if err != nil || json.Unmarshal(raw, &doc) != nil || !doc["input"].Deprecated || !doc["output"].Deprecated {
			t.Errorf("%s: schema not marked deprecated: %v %s", e.ID, err, raw)
		}
	}
	if retired != 35 {
		t.Errorf("%d retired text-generation models, want the 35 LLM IDs Workers AI retired in 2025-26", retired)
	}
	if raw, _ := c.ModelSchema(mustLookup(t, c, "@cf/meta/llama-3.1-8b-instruct-fp8")); string(raw) != string(c.Schema(TaskTextGeneration)) {
		t.Error("a current model's schema should be its task's, unmarked")
	}
}

func mustLookup(t *testing.T, c *Catalog, id string) *Entry {
	t.Helper()
	e, ok := c.Lookup(id)
	if !ok {
		t.Fatalf("%s is not in the catalog", id)
	}
	return e
}

package engine

import (
	"encoding/json"
	"testing"
)

var catalogIDs = []string{
	"@cf/meta/llama-2-7b-chat-int8", "@hf/thebloke/llama-2-13b-chat-awq", "@hf/thebloke/codellama-7b-instruct-awq",
	"@cf/mistral/mistral-7b-instruct-v0.1", "@cf/microsoft/phi-2", "@cf/google/gemma-2b-it-lora",
	"@cf/google/gemma-7b-it-lora", "@cf/baai/bge-small-en-v1.5", "@cf/baai/bge-base-en-v1.5",
	"@cf/baai/bge-large-en-v1.5", "@cf/microsoft/resnet-50", "@cf/meta/m2m100-1.2b",
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
		{SearchQuery{}, 12},
		{SearchQuery{Task: "Text Embeddings"}, 3},
		{SearchQuery{Task: "text-generation"}, 7},
		{SearchQuery{Author: "baai"}, 3},
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

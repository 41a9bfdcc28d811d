package llm

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// With the synthetic chat families in the demo set, a catalog model whose
// real tag is absent is served by its family's synthetic model on the real
// Ollama, so the family's template runs through edgeinfer's routes: Qwen3
// thinks (reasoning_content), Llama 3 answers a JSON schema with free-text
// strings as an object, and Qwen3 calls a tool.
func TestCatalogFamiliesServedBySyntheticFamilies(t *testing.T) {
	requireOllama(t)
	dir := t.TempDir()
	ids := []string{engine.SyntheticFamilyID("llama3"), engine.SyntheticFamilyID("qwen3")}
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: filepath.Join(dir, "models")}, ids, io.Discard); err != nil {
		t.Fatal(err)
	}
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = dir
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{Kind: &Backend{Logger: testLogger(t)}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := testCtx(t, 3*time.Minute)

	for id, tag := range map[string]string{
		"@cf/qwen/qwen3-30b-a3b-fp8":         "ollama:edgeinfer/qwen3-synthetic:latest",
		"@cf/meta/llama-3.1-8b-instruct-fp8": "ollama:edgeinfer/llama3-synthetic:latest",
		"@cf/meta/llama-2-7b-chat-int8":      "", // no family, and no synthetic Llama in this home
	} {
		e, _ := cat.Lookup(id)
		st := eng.Status(ctx, e)
		if tag == "" {
			if st.Installed {
				t.Errorf("%s: %+v, want not installed (its fallback is the synthetic Llama)", id, st)
			}
			continue
		}
		if !st.Installed || st.Installation.Source != tag {
			t.Errorf("%s: %+v, want served by %s", id, st, tag)
		}
	}

	gen := run(t, ctx, eng, "@cf/qwen/qwen3-30b-a3b-fp8",
		`{"messages":[{"role":"user","content":"Think, then answer."}],"chat_template_kwargs":{"enable_thinking":true},"max_tokens":96,"seed":1}`)
	if gen.Reasoning == "" {
		t.Errorf("qwen3 with thinking: no reasoning_content (response %q)", gen.Response)
	}

	gen = run(t, ctx, eng, "@cf/meta/llama-3.1-8b-instruct-fp8",
		`{"messages":[{"role":"user","content":"Describe a city."}],"max_tokens":64,"seed":2,
		  "response_format":{"type":"json_schema","json_schema":{"type":"object","properties":{"name":{"type":"string"},"summary":{"type":"string"}},"required":["name","summary"]}}}`)
	if obj, ok := gen.Response.(map[string]any); !ok || obj["name"] == nil || obj["summary"] == nil {
		t.Errorf("llama3 JSON schema: %#v, want an object with name and summary", gen.Response)
	}

	called := false
	for seed := 1; seed <= 5 && !called; seed++ {
		gen = run(t, ctx, eng, "@cf/qwen/qwen3-30b-a3b-fp8", fmt.Sprintf(
			`{"messages":[{"role":"user","content":"What is the weather in Paris?"}],"max_tokens":64,"seed":%d,"chat_template_kwargs":{"enable_thinking":false},
			  "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}`, seed))
		called = len(gen.ToolCalls) > 0 && gen.ToolCalls[0].Name == "get_weather"
	}
	if !called {
		t.Errorf("qwen3 never called the tool in 5 seeds (last: %+v)", gen)
	}
}

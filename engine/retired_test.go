package engine

import (
	"strings"
	"testing"
)

// server.retired_models: refuse answers a retired ID as Workers AI does now
// (400/5007), for users checking their code has migrated; the default
// serves it, and current models answer either way.
func TestRetiredModelsPolicy(t *testing.T) {
	const retired, current = "@cf/meta/llama-3-8b-instruct", "@cf/meta/llama-3.1-8b-instruct-fp8"
	in := Input{JSON: []byte(`{"prompt":"hi"}`)}
	for _, c := range []struct {
		yaml      string
		refuseOld bool
	}{{"", false}, {"server: {retired_models: serve}", false}, {"server: {retired_models: refuse}", true}} {
		cfg := DefaultConfig()
		if err := ParseConfig("edgeinfer.yaml", []byte(c.yaml), &cfg); err != nil {
			t.Fatal(err)
		}
		eng, err := New(mustCatalog(t), cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = eng.Decode(retired, in)
		if got := err != nil; got != c.refuseOld {
			t.Errorf("%q: Decode(%s) = %v, want refused %v", c.yaml, retired, err, c.refuseOld)
		}
		if c.refuseOld {
			if d := Describe(err); d.Status != 400 || d.Code != 5007 || !strings.Contains(d.Message, retired) {
				t.Errorf("%q: refusal %+v, want 400/5007 naming the model", c.yaml, d)
			}
		}
		if _, _, err := eng.Decode(current, in); err != nil {
			t.Errorf("%q: current model refused: %v", c.yaml, err)
		}
		eng.Close()
	}
	cfg := DefaultConfig()
	err := ParseConfig("edgeinfer.yaml", []byte("server:\n  retired_models: hide\n"), &cfg)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "server.retired_models") {
		t.Errorf("a bad policy: %v, want an error naming line 2 and server.retired_models", err)
	}
}

// A model's catalog defaults apply when the request leaves them out, and
// max_tokens may not exceed its context window.
func TestGenerationDefaultsAndContextWindow(t *testing.T) {
	eng, err := New(mustCatalog(t), DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for _, c := range []struct {
		model, body string
		maxTokens   int
		temp        float64
		badField    string
	}{
		{"@cf/qwen/qwen3-30b-a3b-fp8", `{"prompt":"hi"}`, 2000, 0.6, ""},
		{"@cf/meta/llama-4-scout-17b-16e-instruct", `{"prompt":"hi"}`, 256, 0.15, ""},
		{"@cf/meta/llama-4-scout-17b-16e-instruct", `{"prompt":"hi","temperature":0.9,"max_tokens":10}`, 10, 0.9, ""},
		{"@cf/meta/llama-3.1-8b-instruct-fp8", `{"prompt":"hi","max_tokens":32000}`, 32000, 0.6, ""},
		{"@cf/meta/llama-3.1-8b-instruct-fp8", `{"prompt":"hi","max_tokens":32001}`, 0, 0, "max_tokens"},
	} {
		_, v, err := eng.Decode(c.model, Input{JSON: []byte(c.body)})
		if c.badField != "" {
			if d := Describe(err); d.Status != 400 || !strings.Contains(d.Message, "'"+c.badField+"'") {
				t.Errorf("%s %s: %+v, want 400 naming %s", c.model, c.body, d, c.badField)
			}
			continue
		}
		in, ok := v.(*GenerationInput)
		if err != nil || !ok || in.MaxTokens != c.maxTokens || in.Temperature != c.temp {
			t.Errorf("%s %s: %+v %v, want max_tokens %d temperature %v", c.model, c.body, v, err, c.maxTokens, c.temp)
		}
	}
}

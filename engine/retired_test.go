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

package llm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
)

// TestCheckRefusesAModelTheInstalledOllamaIsTooOldFor: without a running
// Ollama, Check (what `edgeinfer models list` asks) reads the managed
// binary's recorded version, so gemma-4 (needs 0.20.0) is not listed as
// installed on 0.17.4 even with its tag in the store, and is on 0.20.1.
func TestCheckRefusesAModelTheInstalledOllamaIsTooOldFor(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	entry, ok := cat.Lookup("@cf/google/gemma-4-26b-a4b-it")
	if !ok || entry.MinOllama == "" {
		t.Fatal("gemma-4 is not in the catalog with a minimum Ollama")
	}
	dir := t.TempDir()
	paths := home.Resolve(dir, func(string) string { return "" })
	manifest := filepath.Join(dir, "ollama", "manifests", "registry.ollama.ai", "library", "gemma4", "26b-a4b-it-q8_0")
	for path, body := range map[string]string{paths.OllamaBin: "#!/bin/sh\n", manifest: `{"config":{"size":1},"layers":[{"size":41}]}`} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec := engine.ModelSpec{Entry: entry, Paths: paths}
	for _, tt := range []struct {
		version string
		refused bool
	}{{"0.17.4", true}, {"0.20.1", false}, {"", false}} {
		if err := os.WriteFile(paths.OllamaBin+".version", []byte(tt.version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		inst, err := (&Backend{}).Check(context.Background(), spec)
		if !tt.refused {
			if err != nil || inst.Bytes != 42 {
				t.Errorf("recorded version %q: %+v, %v; want installed (42 bytes)", tt.version, inst, err)
			}
			continue
		}
		if d := engine.Describe(err); d.Status != 503 || !strings.Contains(d.Message, "0.20.0") || !strings.Contains(d.Message, tt.version) {
			t.Errorf("recorded version %q: %v, want a 503 naming 0.20.0 and %s", tt.version, err, tt.version)
		}
	}
}

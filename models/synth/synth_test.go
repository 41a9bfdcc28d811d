package synth

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateKeepsRealAndFullModels: a directory with real model files is
// never replaced without Force, and with KeepFull one of full-size
// synthetic weights survives a tiny refresh; a tiny synthetic one is
// regenerated (a new seed changes its weights).
func TestGenerateKeepsRealAndFullModels(t *testing.T) {
	const id = "@cf/baai/bge-small-en-v1.5"
	out := generateTiny(t, 0, id)
	dir := filepath.Join(out, filepath.FromSlash(id))
	model := filepath.Join(dir, filepath.FromSlash(BGEModelFile))
	read := func() []byte {
		t.Helper()
		b, err := os.ReadFile(model)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	generate := func(o Options) string {
		t.Helper()
		var log bytes.Buffer
		o.Preset, o.OutDir = Tiny, out
		if err := Generate(context.Background(), o, []string{id}, &log); err != nil {
			t.Fatal(err)
		}
		return log.String()
	}

	before := read()
	if log := generate(Options{Seed: 1}); !strings.Contains(log, "synthesized") || bytes.Equal(read(), before) {
		t.Fatalf("a tiny synthetic model was not regenerated: %s", log)
	}

	// Real files: config.json without the marker.
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"hidden_size": 384}`), 0o644); err != nil {
		t.Fatal(err)
	}
	real := read()
	if log := generate(Options{Seed: 2}); !strings.Contains(log, "kept "+id) || !bytes.Equal(read(), real) {
		t.Fatalf("real model files were replaced: %s", log)
	}
	if log := generate(Options{Seed: 2, Force: true}); !strings.Contains(log, "synthesized") || bytes.Equal(read(), real) {
		t.Fatalf("--force did not replace real files: %s", log)
	}

	// Full-size synthetic weights (as the stamp records them).
	if err := os.WriteFile(filepath.Join(dir, stampFile), []byte(`{"preset": "full", "seed": 0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	full := read()
	if log := generate(Options{Seed: 3, KeepFull: true}); !strings.Contains(log, "full-size") || !bytes.Equal(read(), full) {
		t.Fatalf("KeepFull replaced full-size weights: %s", log)
	}
	if log := generate(Options{Seed: 3}); !strings.Contains(log, "synthesized") {
		t.Fatalf("without KeepFull a full-size synthetic model is replaced on request: %s", log)
	}
}

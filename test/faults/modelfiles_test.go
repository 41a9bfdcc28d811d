// Package faults injects failures into a running engine and checks that the
// affected request gets the right error and that the engine recovers without
// a restart.
package faults

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/backends"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// onnxModels are the ONNX families with a request each.
var onnxModels = []struct{ id, input string }{
	{"@cf/baai/bge-small-en-v1.5", `{"text":"the file changed under me"}`},
	{synth.ResNetModelID, ""}, // a PNG, made by the test
	{synth.M2M100ModelID, `{"text":"Hello world","source_lang":"en","target_lang":"fr"}`},
}

func newEngine(t *testing.T, home string) *engine.Engine {
	t.Helper()
	if _, err := os.Stat(ort.LibraryPath()); err != nil {
		t.Fatalf("%v: run `make setup`", err)
	}
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = home
	cfg.Models[synth.M2M100ModelID] = engine.ModelConfig{NumBeams: 1, MaxLength: 8}
	eng, err := engine.New(cat, cfg, backends.All(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func generate(t *testing.T, home string, seed uint64, ids ...string) {
	t.Helper()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: filepath.Join(home, "models"), Seed: seed}, ids, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// onnxFiles lists the model's ONNX graphs.
func onnxFiles(t *testing.T, home, id string) []string {
	files, err := filepath.Glob(filepath.Join(home, "models", filepath.FromSlash(id), "onnx", "*.onnx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ONNX files for %s: %v", id, err)
	}
	return files
}

// A loaded model keeps serving when its files are truncated or replaced
// under it; the next load of the truncated files is a 503 that names no
// path; regenerated files load again with no restart, and a replaced file
// is what the next load serves.
func TestModelFilesTruncatedAndReplacedWhileLoaded(t *testing.T) {
	home := t.TempDir()
	eng := newEngine(t, home)
	for _, m := range onnxModels {
		t.Run(m.id, func(t *testing.T) {
			generate(t, home, 1, m.id)
			if m.id == synth.ResNetModelID {
				m.input = `{"image":` + pngJSON(t) + `}`
			}
			run := func() (string, error) {
				out, err := eng.Run(context.Background(), m.id, engine.Input{JSON: []byte(m.input)})
				if err != nil {
					return "", err
				}
				b, _ := json.Marshal(out)
				return string(b), nil
			}
			before, err := run()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range onnxFiles(t, home, m.id) {
				info, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(f, info.Size()/3); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := run(); err != nil || got != before {
				t.Fatalf("the loaded model changed with its files truncated: %v\n%s\nwant\n%s", err, got, before)
			}

			if err := eng.Unload(m.id); err != nil {
				t.Fatal(err)
			}
			_, err = run()
			d := engine.Describe(err)
			if d.Status != 503 || strings.Contains(d.Message, home) {
				t.Fatalf("loading truncated files: %d %q, want a 503 naming no path", d.Status, d.Message)
			}

			generate(t, home, 2, m.id)               // replaced: other weights
			if err := eng.Unload(m.id); err != nil { // forget the failed load now, not after the cooldown
				t.Fatal(err)
			}
			after, err := run()
			if err != nil {
				t.Fatalf("after regenerating the files: %v", err)
			}
			generate(t, home, 1, m.id) // replaced again while loaded
			if got, err := run(); err != nil || got != after {
				t.Fatalf("the loaded model changed when its files were replaced: %v", err)
			}
			if m.id != synth.M2M100ModelID && after == before { // greedy translation of a tiny model may agree across seeds
				t.Fatalf("the reloaded model serves the old weights")
			}
		})
	}
}

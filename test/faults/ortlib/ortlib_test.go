// Package ortlib tests a missing or broken ONNX Runtime library. It is its
// own test binary because the library is loaded once per process.
package ortlib

import (
	"context"
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

const model = "@cf/baai/bge-small-en-v1.5"

// A request meets a missing library, then a file that is no ONNX Runtime
// (the wrong build or a broken download): each is a 503 that says what to
// do without naming a path. Installing the right library then serves the
// next request, with no restart.
func TestMissingThenBrokenThenInstalledLibrary(t *testing.T) {
	real := ort.LibraryPath()
	if _, err := os.Stat(real); err != nil {
		t.Fatalf("%v: run `make setup`", err)
	}
	home := t.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: filepath.Join(home, "models")}, []string{model}, io.Discard); err != nil {
		t.Fatal(err)
	}
	libDir := filepath.Join(home, "lib")
	if err := os.MkdirAll(libDir, 0o755); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(libDir, "libonnxruntime.so")
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = home
	eng, err := engine.New(cat, cfg, backends.All(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// A failed load is remembered for loadRetryCooldown; unloading forgets
	// it at once, as an operator does with POST /edgeinfer/v1/models/unload.
	run := func() error {
		if err := eng.Unload(model); err != nil {
			t.Fatal(err)
		}
		_, err := eng.Run(context.Background(), model, engine.Input{JSON: []byte(`{"text":"hello"}`)})
		return err
	}
	expectNotInstalled := func(what string) {
		t.Helper()
		err := run()
		d := engine.Describe(err)
		if d.Status != 503 || !strings.Contains(d.Message, "setup") && !strings.Contains(d.Message, "could not be loaded") {
			t.Fatalf("%s: %d %q, want a 503 that says what to do", what, d.Status, d.Message)
		}
		if strings.Contains(d.Message, home) || strings.Contains(d.Message, "/") && strings.Contains(d.Message, "libonnxruntime") {
			t.Fatalf("%s: the error names a path: %q", what, d.Message)
		}
		t.Logf("%s: %d %s", what, d.Status, d.Message)
	}

	t.Setenv(ort.LibEnv, filepath.Join(libDir, "missing", "libonnxruntime.so"))
	expectNotInstalled("missing library")

	if err := os.WriteFile(broken, []byte("\x7fELF this is not ONNX Runtime"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ort.LibEnv, broken)
	expectNotInstalled("broken library")

	t.Setenv(ort.LibEnv, real)
	if err := run(); err != nil {
		t.Fatalf("after installing the library: %v", err)
	}
}

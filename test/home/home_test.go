// Package home_test checks that one setting of the home moves all of it:
// the ONNX Runtime library, the Ollama binary and its store, the models.
package home_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/test/e2e"
)

const (
	embedder  = "@cf/baai/bge-small-en-v1.5"
	generator = "@cf/meta/llama-2-7b-chat-int8"
)

// TestServeHomeMovesEverything serves from a home named by --home, or by
// the config file's home:, while EDGEINFER_HOME names an empty directory:
// an embedding needs the runtime from <home>/lib, a generation the Ollama
// binary from <home>/bin. Before the home was resolved in one place, the
// runtime and Ollama were looked up under EDGEINFER_HOME alone.
func TestServeHomeMovesEverything(t *testing.T) {
	installed := home.Resolve("", os.Getenv) // where make setup put the runtime and Ollama
	for _, f := range []string{installed.ORTLib, installed.OllamaBin} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v: run `make setup`", err)
		}
	}
	dir := t.TempDir()
	bin := e2e.BuildEdgeinfer(t, dir)
	x := filepath.Join(dir, "x")
	for _, sub := range []string{"lib", "bin"} {
		if err := os.MkdirAll(x, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(installed.Home, sub), filepath.Join(x, sub)); err != nil {
			t.Fatal(err)
		}
	}
	e2e.RunCLI(t, bin, "models", "synth", "--preset", "tiny", "--only", embedder+",@edgeinfer/llama-synthetic", "--out", filepath.Join(x, "models"))
	config := filepath.Join(dir, "edgeinfer.yaml")
	e2e.WriteFile(t, config, fmt.Sprintf("home: %q\n", x))
	// EDGEINFER_HOME names an empty home; the file variables are unset, so
	// nothing but the resolved home can lead to the runtime or Ollama.
	env := []string{home.HomeEnv + "=" + filepath.Join(dir, "empty"), home.ORTLibEnv + "=", home.OllamaBinEnv + "=", home.ORTCUDADirEnv + "=", "OLLAMA_HOST="}

	for name, args := range map[string][]string{
		"--home":       {"--home", x},
		"config home:": {"--config", config, "--home", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "config home:" {
				// The variable would win over the file: leave it unset.
				env = append(env, home.HomeEnv+"=")
			}
			s := e2e.StartServer(t, bin, name, env, args...)
			r := s.Post(t, "/client/v4/accounts/a/ai/run/"+embedder, `{"text":"where is the runtime"}`, nil)
			if r.Status != 200 || !strings.Contains(string(r.Body), `"shape":[1,`) {
				t.Fatalf("embedding: %d %s", r.Status, r.Body)
			}
			r = s.Post(t, "/client/v4/accounts/a/ai/run/"+generator, `{"prompt":"hello","max_tokens":4,"seed":1}`, nil)
			if r.Status != 200 || !strings.Contains(string(r.Body), `"response"`) {
				t.Fatalf("generation: %d %s", r.Status, r.Body)
			}
			if _, err := os.Stat(filepath.Join(x, "ollama")); err != nil {
				t.Errorf("the Ollama store is not under the home: %v", err)
			}
		})
	}
}

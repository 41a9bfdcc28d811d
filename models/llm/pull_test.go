package llm

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
)

// edgeinfer pull works for today's IDs and the retired ones: each pulls its
// catalog tag (a retired ID without one pulls its successor's); a model
// with no local path says how to map it instead of pulling anything.
func TestPullLLMCatalogTags(t *testing.T) {
	f := newFakeOllama(t, "unused")
	var pulled []string
	f.pull = func(w http.ResponseWriter, req api.PullRequest) {
		pulled = append(pulled, req.Model)
		writeLine(w, map[string]any{"status": "success"})
	}
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	b := &Backend{URL: f.URL, Logger: testLogger(t)}
	for id, want := range map[string]string{
		"@cf/meta/llama-3.1-8b-instruct-fp8":       "llama3.1:8b-instruct-q8_0",
		"@cf/qwen/qwen3-30b-a3b-fp8":               "qwen3:30b-a3b-q8_0",
		"@cf/openai/gpt-oss-20b":                   "gpt-oss:20b",
		"@cf/tinyllama/tinyllama-1.1b-chat-v1.0":   "tinyllama:1.1b-chat", // retired, its original
		"@hf/nousresearch/hermes-2-pro-mistral-7b": "glm-4.7-flash",       // retired, its successor's
		"@cf/thebloke/discolm-german-7b-v1-awq":    "llama4:16x17b",       // retired, its successor's
		"@cf/llava-hf/llava-1.5-7b-hf":             "llava:7b-v1.5-q8_0",  // image-to-text
	} {
		entry, ok := cat.Lookup(id)
		if !ok {
			t.Fatalf("%s not in the catalog", id)
		}
		pulled = nil
		spec := engine.ModelSpec{Entry: entry, Paths: home.Resolve(t.TempDir(), os.Getenv)}
		if err := b.PullLLM(testCtx(t, 30*time.Second), spec, &recordingProgress{done: map[string]error{}}); err != nil || len(pulled) != 1 || pulled[0] != want {
			t.Errorf("pull %s: %v, pulled %v, want %s", id, err, pulled, want)
		}
	}
	entry, _ := cat.Lookup("@cf/moonshotai/kimi-k2.6")
	pulled = nil
	err = b.PullLLM(testCtx(t, 30*time.Second), engine.ModelSpec{Entry: entry, Paths: home.Resolve(t.TempDir(), os.Getenv)}, &recordingProgress{done: map[string]error{}})
	if err == nil || !strings.Contains(err.Error(), `{ollama: "`) || len(pulled) != 0 {
		t.Errorf("pull kimi-k2.6: %v (pulled %v), want the config line and no pull", err, pulled)
	}
}

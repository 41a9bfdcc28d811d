package pull_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/backends"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/pull"
	"github.com/edgeinfer/edgeinfer/models/pull/pulltest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// TestPullServesEveryRetrievalModel: for each ONNX model of the retrieval
// catalog, a hub at the catalog's repository holds the synthetic files as
// a real repository would (weights in LFS, no synthetic marker); pulling
// the catalog's default variant fetches exactly the files the catalog
// names, and the pulled directory answers a request through the engine.
func TestPullServesEveryRetrievalModel(t *testing.T) {
	orttest.Require(t)
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	models := map[string]string{
		"@cf/baai/bge-reranker-base":            `{"query":"q","contexts":[{"text":"a b"},{"text":"c"}]}`,
		"@cf/baai/bge-m3":                       `{"query":"q","contexts":[{"text":"a b"}]}`,
		"@cf/qwen/qwen3-embedding-0.6b":         `{"queries":"q","documents":["a b"]}`,
		"@cf/google/embeddinggemma-300m":        `{"text":"a b"}`,
		"@cf/huggingface/distilbert-sst-2-int8": `{"text":"a b"}`,
		"@cf/baai/omni-bge-base-en-v1.5":        `{"text":"a b"}`,
	}
	synthRoot := t.TempDir()
	for id, body := range models {
		t.Run(id, func(t *testing.T) {
			entry, ok := cat.Lookup(id)
			if !ok || entry.Artifacts.HFRepo == "" {
				t.Fatalf("%s has no hub repository in the catalog", id)
			}
			if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: synthRoot}, []string{id}, os.Stderr); err != nil {
				t.Fatal(err)
			}
			files := pulltest.FromDir(t, filepath.Join(synthRoot, filepath.FromSlash(id)), func(p string) bool { return strings.HasPrefix(p, "onnx/") })
			pulltest.Unmark(t, files)
			hub := pulltest.New(t, entry.Artifacts.HFRepo, files)
			dir := filepath.Join(t.TempDir(), "model")
			spec := engine.ModelSpec{Entry: entry, Config: engine.ModelConfig{Dir: dir}, Paths: home.Resolve(t.TempDir(), os.Getenv)}
			req, err := pull.ForModel(spec, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := newPuller(hub).Pull(pullCtx(t), req); err != nil {
				t.Fatalf("pull %s from %s: %v", req.Files, entry.Artifacts.HFRepo, err)
			}
			cfg := engine.DefaultConfig()
			eng := enginetest.New(t, map[string]engine.ModelConfig{id: {Dir: dir}}, backends.All(cfg), nil)
			if st := eng.Status(context.Background(), entry); !st.Installed || st.Installation.Synthetic {
				t.Fatalf("status after pull: %+v", st)
			}
			if _, err := eng.Run(pullCtx(t), id, engine.Input{JSON: []byte(body)}); err != nil {
				t.Fatalf("run after pull: %v", err)
			}
		})
	}
}

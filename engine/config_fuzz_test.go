package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseConfig feeds arbitrary YAML to the config loader: it must answer
// with a config or an error naming the file, never panic, and never accept
// a config that breaks the invariants validate promises.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"", "server:\n  addr: 127.0.0.1:8790\n  max_body_bytes: 1048576\n  request_timeout: 30s\n",
		"device: cuda:0\nmodels:\n  \"@cf/baai/bge-base-en-v1.5\":\n    variant: int8\n    max_batch_size: 8\n    max_queue_delay: 5ms\n    cuda: {}\n",
		"models:\n  \"@cf/x/y\":\n    dir: relative/path\n", "models:\n  \"../../etc\":\n    task: text-embeddings\n",
		"gateway:\n  redis: redis://127.0.0.1:6379/0\n  batch_workers: 0\n", "server:\n  keep_alive: -1\n",
		"a: &a [*a, *a]\nb: *a\n", "server: [1, 2]\n", "models: {x: {max_batch_size: -1}}\n",
	} {
		f.Add([]byte(s))
	}
	if raw, err := os.ReadFile("../deploy/k8s/config.yaml"); err == nil {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg := DefaultConfig()
		err := ParseConfig("edgeinfer.yaml", raw, &cfg)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "edgeinfer.yaml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for id, m := range cfg.Models {
			// A model ID names a directory under models/: it must stay there.
			if rel, err := filepath.Rel("/home/models", filepath.Join("/home/models", id)); !ValidModelID(id) || err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("accepted model ID %q", id)
			}
			if m.Dir != "" && !strings.HasPrefix(m.Dir, "/") {
				t.Fatalf("accepted relative dir %q", m.Dir)
			}
			if m.MaxBatchSize < 0 || m.MaxConcurrentRequests < 0 || m.IntraOpThreads < 0 {
				t.Fatalf("accepted negative limits for %q: %+v", id, m)
			}
		}
		if cfg.Server.MaxBodyBytes < 0 || cfg.Gateway.BatchWorkers < 1 || cfg.Gateway.BatchConcurrency < 1 {
			t.Fatalf("accepted server %+v gateway %+v", cfg.Server, cfg.Gateway)
		}
	})
}

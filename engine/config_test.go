package engine

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfigReadsTheDocumentedShape(t *testing.T) {
	raw := `
server: { addr: 127.0.0.1:9999, api_token: "s3cret", request_timeout: 30s }
models:
  "@cf/baai/bge-base-en-v1.5": { device: cuda, variant: int8, max_batch_tokens: 16384, max_queue_delay: 2ms }
  "@cf/meta/llama-2-7b-chat-int8": { ollama: "llama2:7b-chat-q8_0" }
  "@custom/my-embedder": { task: text-embeddings, backend: onnx-bert, dir: /models/my-embedder }
`
	cfg := DefaultConfig()
	if err := ParseConfig("edgeinfer.yaml", []byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:9999" || cfg.Server.APIToken != "s3cret" || time.Duration(cfg.Server.RequestTimeout) != 30*time.Second {
		t.Fatalf("server = %+v", cfg.Server)
	}
	if cfg.Server.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Fatalf("unset keys must keep defaults, max_body_bytes = %d", cfg.Server.MaxBodyBytes)
	}
	bge := cfg.Models["@cf/baai/bge-base-en-v1.5"]
	if bge.Device != "cuda" || bge.Variant != "int8" || bge.MaxBatchTokens != 16384 || time.Duration(bge.MaxQueueDelay) != 2*time.Millisecond {
		t.Fatalf("bge override = %+v", bge)
	}
	cat := mustCatalog(t)
	eng, err := New(cat, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	custom, ok := eng.Catalog().Lookup("@custom/my-embedder")
	if !ok || custom.Task != TaskTextEmbeddings || eng.Spec(custom).Dir() != "/models/my-embedder" {
		t.Fatalf("custom model not added: %+v", custom)
	}
}

func TestParseConfigErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"unknown key", "server:\n  adr: x\n", []string{"edgeinfer.yaml", "line 2", "adr"}},
		{"wrong type", "models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    max_batch_size: lots\n", []string{"edgeinfer.yaml", "line 3", "lots"}},
		{"bad device", "models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    device: tpu\n", []string{"edgeinfer.yaml", "line 3", "device", "tpu"}},
		{"bad variant", "models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    variant: int4\n", []string{"line 3", "variant"}},
		{"bad duration", "server:\n  request_timeout: soon\n", []string{"line 2", "soon"}},
		{"bad model id", "models:\n  llama: {}\n", []string{"line 2", "llama"}},
		{"relative dir", "models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    dir: ../x\n", []string{"line 3", "dir"}},
		{"negative", "models:\n  \"@cf/baai/bge-base-en-v1.5\":\n\n    max_batch_tokens: -1\n", []string{"line 4", "max_batch_tokens"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			err := ParseConfig("edgeinfer.yaml", []byte(tt.raw), &cfg)
			if err == nil {
				t.Fatal("accepted an invalid config")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestCustomModelNeedsTaskAndBackend(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Models["@custom/acme/thing"] = ModelConfig{Backend: "onnx-bert"}
	if _, err := New(mustCatalog(t), cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "task") {
		t.Fatalf("err = %v, want a complaint about task", err)
	}
}

func TestEmptyConfigFileMeansDefaults(t *testing.T) {
	cfg := DefaultConfig()
	if err := ParseConfig("empty.yaml", nil, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != DefaultAddr {
		t.Fatalf("addr = %q", cfg.Server.Addr)
	}
}

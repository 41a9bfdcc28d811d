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
		{"negative beams", "models:\n  \"@cf/meta/m2m100-1.2b\":\n    num_beams: -2\n", []string{"line 3", "num_beams"}},
		{"negative max_length", "models:\n  \"@cf/meta/m2m100-1.2b\":\n    max_length: -1\n", []string{"line 3", "max_length"}},
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

func TestGenerationSettingsReachTheModelSpec(t *testing.T) {
	cfg := DefaultConfig()
	raw := "models:\n  \"@cf/meta/m2m100-1.2b\": { num_beams: 1, max_length: 64 }\n"
	if err := ParseConfig("edgeinfer.yaml", []byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	eng, err := New(mustCatalog(t), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	entry, ok := eng.Catalog().Lookup("@cf/meta/m2m100-1.2b")
	if !ok {
		t.Fatal("m2m100 is not in the catalog")
	}
	if spec := eng.Spec(entry); spec.Config.NumBeams != 1 || spec.Config.MaxLength != 64 {
		t.Errorf("spec config %+v, want num_beams 1 and max_length 64", spec.Config)
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

func TestDeviceDefaultsAndCUDAOptions(t *testing.T) {
	raw := `
device: cuda:1
require_device: true
models:
  "@cf/baai/bge-base-en-v1.5":
    cuda: { gpu_mem_limit: 4294967296, arena_extend_strategy: kSameAsRequested, cudnn_conv_algo_search: HEURISTIC }
  "@cf/baai/bge-small-en-v1.5": { device: cpu }
`
	cfg := DefaultConfig()
	if err := ParseConfig("edgeinfer.yaml", []byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	base := cfg.ForModel("@cf/baai/bge-base-en-v1.5")
	want := CUDAConfig{GPUMemLimit: 4 << 30, ArenaExtendStrategy: "kSameAsRequested", CuDNNConvAlgoSearch: "HEURISTIC"}
	if base.Device != "cuda:1" || !base.RequireDevice || base.CUDA != want {
		t.Errorf("bge-base = device %q, require %v, cuda %+v; want the top-level cuda:1, required, and its cuda options", base.Device, base.RequireDevice, base.CUDA)
	}
	if small := cfg.ForModel("@cf/baai/bge-small-en-v1.5"); small.Device != "cpu" {
		t.Errorf("a model's own device must win over the default, got %q", small.Device)
	}
	if unlisted := cfg.ForModel("@cf/microsoft/resnet-50"); unlisted.Device != "cuda:1" {
		t.Errorf("a model without config must get the default device, got %q", unlisted.Device)
	}
	if !cfg.WantsCUDA() {
		t.Error("WantsCUDA is false with device: cuda:1")
	}

	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{}, false},
		{Config{Device: "cpu", Models: map[string]ModelConfig{"@cf/a/b": {Device: "cpu"}}}, false},
		{Config{Models: map[string]ModelConfig{"@cf/a/b": {Device: "cuda"}}}, true},
	} {
		if got := tc.cfg.WantsCUDA(); got != tc.want {
			t.Errorf("WantsCUDA(%+v) = %v", tc.cfg, got)
		}
	}

	eng, err := New(mustCatalog(t), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := eng.Catalog().Lookup("@cf/microsoft/resnet-50")
	if spec := eng.Spec(entry); spec.Config.Device != "cuda:1" || !spec.Config.RequireDevice {
		t.Errorf("Spec carries device %q, require %v; want the defaults applied", spec.Config.Device, spec.Config.RequireDevice)
	}
}

func TestDeviceConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want []string
	}{
		{"device: gpu\n", []string{"line 1", "device", "gpu"}},
		{"models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    cuda:\n      arena_extend_strategy: grow\n", []string{"line 3", "cuda.arena_extend_strategy", "grow"}},
		{"models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    cuda: { cudnn_conv_algo_search: fast }\n", []string{"cuda.cudnn_conv_algo_search", "fast"}},
		{"models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    cuda: { gpu_mem_limit: -1 }\n", []string{"cuda.gpu_mem_limit", "negative"}},
		{"models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    cuda: { device_id: 1 }\n", []string{"line 3", "device_id"}},
	} {
		cfg := DefaultConfig()
		err := ParseConfig("edgeinfer.yaml", []byte(tc.raw), &cfg)
		if err == nil {
			t.Errorf("%q: accepted", tc.raw)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", tc.raw, err, w)
			}
		}
	}
}

func TestCalibrateIsOnUnlessSetFalseAndModelsOverrideTheTopLevel(t *testing.T) {
	raw := `
calibrate: false
models:
  "@cf/baai/bge-base-en-v1.5": { calibrate: true }
  "@cf/microsoft/resnet-50": { max_batch_size: 4 }
`
	if !DefaultConfig().ForModel("@cf/baai/bge-small-en-v1.5").Calibrates() {
		t.Fatal("calibration must be on by default")
	}
	cfg := DefaultConfig()
	if err := ParseConfig("edgeinfer.yaml", []byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"@cf/baai/bge-base-en-v1.5": true, "@cf/microsoft/resnet-50": false, "@cf/baai/bge-small-en-v1.5": false} {
		if got := cfg.ForModel(id).Calibrates(); got != want {
			t.Errorf("%s: Calibrates() = %v, want %v", id, got, want)
		}
	}
}

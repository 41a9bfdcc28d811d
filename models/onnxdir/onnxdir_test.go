package onnxdir

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

func TestSessionOptionsCarryDeviceAndCUDAOptions(t *testing.T) {
	c := engine.ModelConfig{IntraOpThreads: 3, InterOpThreads: 2, Device: "cuda:1", RequireDevice: true,
		CUDA: engine.CUDAConfig{GPUMemLimit: 1 << 30, ArenaExtendStrategy: "kSameAsRequested", CuDNNConvAlgoSearch: "HEURISTIC"}}
	got := SessionOptions(c)
	want := ort.Options{IntraOpThreads: 3, InterOpThreads: 2, Device: "cuda:1", RequireDevice: true,
		CUDA: ort.CUDAOptions{GPUMemLimit: 1 << 30, ArenaExtendStrategy: "kSameAsRequested", CuDNNConvAlgoSearch: "HEURISTIC"}}
	if got.IntraOpThreads != want.IntraOpThreads || got.InterOpThreads != want.InterOpThreads || got.Device != want.Device ||
		got.RequireDevice != want.RequireDevice || got.CUDA.GPUMemLimit != want.CUDA.GPUMemLimit ||
		got.CUDA.ArenaExtendStrategy != want.CUDA.ArenaExtendStrategy || got.CUDA.CuDNNConvAlgoSearch != want.CUDA.CuDNNConvAlgoSearch ||
		!maps.Equal(got.CUDA.Extra, want.CUDA.Extra) {
		t.Errorf("SessionOptions(%+v) = %+v, want %+v", c, got, want)
	}
}

func TestLoadErrorForAnUnavailableDevice(t *testing.T) {
	spec := engine.ModelSpec{Entry: &engine.Entry{ID: "@cf/baai/bge-base-en-v1.5"}, Paths: home.Resolve("/home/u/.edgeinfer", os.Getenv)}
	err := LoadError(spec, fmt.Errorf("open: %w", &ort.DeviceError{Device: "cuda:1", Reason: "no NVIDIA GPU is visible"}))
	d := engine.Describe(err)
	if d.Status != 503 || !strings.Contains(d.Message, "requires cuda:1, which is unavailable: no NVIDIA GPU is visible") || strings.Contains(d.Message, "synth") {
		t.Errorf("device error described as %+v", d)
	}
}

func TestVariantFilesFallBackToTheInstalledVariantUnlessConfigured(t *testing.T) {
	entry := &engine.Entry{ID: "@cf/huggingface/distilbert-sst-2-int8", Artifacts: engine.Artifacts{DefaultVariant: "int8",
		Variants: map[string][]string{"fp32": {"onnx/model.onnx"}, "int8": {"onnx/model_quantized.onnx"}}}}
	spec := engine.ModelSpec{Entry: entry, Paths: home.Resolve(t.TempDir(), os.Getenv), Config: engine.ModelConfig{Device: "cuda:0"}}
	if err := os.MkdirAll(filepath.Join(spec.Dir(), "onnx"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec.Dir(), "onnx", "model_quantized.onnx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		variant string
		want    string
	}{
		{"", "onnx/model_quantized.onnx"}, // CUDA's default fp32 is absent: the installed int8 serves
		{"fp32", "onnx/model.onnx"},       // configured: served as configured, reported missing by Inspect
	} {
		spec.Config.Variant = c.variant
		files, err := VariantFiles(spec, nil)
		if err != nil || len(files) != 1 || files[0] != c.want {
			t.Errorf("variant %q: %v, %v; want %s", c.variant, files, err, c.want)
		}
	}
}

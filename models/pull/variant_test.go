package pull

import (
	"slices"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

// On a CUDA device pull fetches the fp32 files of a model whose CPU
// default is int8 (M2M100), the files the backend loads there; the CPU and
// a configured variant keep theirs.
func TestPullFetchesTheVariantTheDeviceLoads(t *testing.T) {
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	entry, ok := cat.Lookup("@cf/meta/m2m100-1.2b")
	if !ok {
		t.Fatal("no m2m100 in the catalog")
	}
	for _, tc := range []struct {
		device, variant, want, wantFile string
	}{
		{"", "", "int8", "onnx/decoder_model_merged_quantized.onnx"},
		{"cpu", "", "int8", "onnx/decoder_model_merged_quantized.onnx"},
		{"cuda", "", "fp32", "onnx/decoder_model_merged.onnx"},
		{"cuda:1", "", "fp32", "onnx/decoder_model_merged.onnx"},
		{"cuda", "int8", "int8", "onnx/decoder_model_merged_quantized.onnx"},
	} {
		cfg := engine.DefaultConfig()
		cfg.Home = t.TempDir()
		cfg.Device = tc.device
		cfg.Models[entry.ID] = engine.ModelConfig{Variant: tc.variant}
		spec := engine.ModelSpec{Entry: entry, Config: cfg.ForModel(entry.ID), Paths: cfg.Paths()}
		req, err := ForModel(spec, "")
		if err != nil {
			t.Fatal(err)
		}
		if req.Variant != tc.want || !slices.Contains(req.Files, tc.wantFile) {
			t.Errorf("device %q variant %q: pull fetches %s %v, want %s with %s", tc.device, tc.variant, req.Variant, req.Files, tc.want, tc.wantFile)
		}
	}
}

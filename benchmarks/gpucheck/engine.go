package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/bert"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// minCosine is how close the engine's embeddings on the device must be to
// its CPU embeddings. The engine runs with default provider options (TF32
// on), so this is a cosine, not the strict element-wise check.
const minCosine = 0.999

var engineTexts = []string{
	"The quick brown fox jumps over the lazy dog.",
	"Workers AI models on your own GPU.",
	"ONNX Runtime picks the CUDA execution provider per model.",
	"A short one.",
}

// checkEngine serves BGE-base through the engine and its real backend, on
// the requested device (required, so a fallback fails), and checks where it
// runs and, on CUDA, that it agrees with the same engine on the CPU; with
// -fp16, the fp16 variant on the device is checked against fp32 on the CPU.
func checkEngine(o options) error {
	variants := []string{"fp32"}
	if o.fp16 {
		variants = append(variants, "fp16")
	}
	var onCPU [][]float32
	for _, variant := range variants {
		fmt.Printf("\n== engine: bge-base %s through the onnx-bert backend on %s\n", variant, o.device)
		onDevice, provider, err := engineEmbed(o, o.device, variant)
		if err != nil {
			return err
		}
		want := ort.CPUProvider
		if o.device == "cuda" {
			want = ort.CUDAProvider
		}
		fmt.Printf("  listed execution_provider: %s\n", provider)
		if provider != want {
			return fmt.Errorf("bge-base %s configured for %s runs on %q, want %s", variant, o.device, provider, want)
		}
		if o.device != "cuda" && variant == "fp32" {
			onCPU = onDevice
			continue
		}
		if onCPU == nil {
			if onCPU, _, err = engineEmbed(o, "cpu", "fp32"); err != nil {
				return err
			}
		}
		if err := sameEmbeddings(onDevice, onCPU, fmt.Sprintf("%s on %s", variant, o.device)); err != nil {
			return err
		}
	}
	return nil
}

// sameEmbeddings checks the vectors against the fp32 CPU ones by cosine.
func sameEmbeddings(onDevice, onCPU [][]float32, what string) error {
	worst := 1.0
	for i := range onDevice {
		var dot float64
		for j := range onDevice[i] {
			dot += float64(onDevice[i][j]) * float64(onCPU[i][j])
		}
		worst = min(worst, dot)
	}
	fmt.Printf("  %s vs fp32 on the CPU: lowest cosine %.6f (minimum %.3f)\n", what, worst, minCosine)
	if worst < minCosine {
		return fmt.Errorf("engine embeddings (%s) differ from fp32 on the CPU: cosine %.6f", what, worst)
	}
	return nil
}

// engineEmbed embeds engineTexts with a fresh engine serving bge-base's
// variant on device, and returns the vectors and the listed execution
// provider.
func engineEmbed(o options, device, variant string) ([][]float32, string, error) {
	const id = "@cf/baai/bge-base-en-v1.5"
	cat, err := engine.LoadCatalog()
	if err != nil {
		return nil, "", err
	}
	cfg := engine.DefaultConfig()
	cfg.Home = o.models
	cfg.Models[id] = engine.ModelConfig{Dir: filepath.Join(o.models, filepath.FromSlash(id)), Device: device,
		RequireDevice: device != "cpu", IntraOpThreads: o.threads, Variant: variant}
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{bert.Kind: bert.Backend{}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, "", err
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := eng.Run(ctx, id, engine.Input{Value: &engine.EmbeddingsInput{Text: engineTexts, Pooling: "mean"}})
	if err != nil {
		return nil, "", err
	}
	var provider string
	for _, m := range eng.Models() {
		if m.Model == id {
			provider = m.ExecutionProvider
		}
	}
	return out.(*engine.EmbeddingsOutput).Data, provider, nil
}

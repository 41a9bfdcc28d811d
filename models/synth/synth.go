// Package synth writes synthetic model artifacts: the real architectures and
// file contracts of the models edgeinfer serves (shared/docs/model-contracts.md),
// filled with deterministic pseudo-random weights. Nothing here claims quality:
// the artifacts exist so every backend can be built, tested and benchmarked
// without downloading weights, and so real files drop into the same layout.
package synth

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// Preset selects the size of what is generated.
type Preset string

const (
	// Tiny keeps every file small enough for tests and the demo catalog.
	Tiny Preset = "tiny"
	// Full uses the real dimensions, so FLOPs and bytes match the real exports.
	Full Preset = "full"
)

// MarkerKey is set to true in every generated config.json (and companion file
// for GGUF models), so the engine can say "synthetic weights" wherever it lists
// or loads such a model.
const MarkerKey = "edgeinfer_synthetic"

// Options configures one generation run.
type Options struct {
	Preset Preset
	// OutDir is the models root; each model goes to OutDir/<model ID>.
	OutDir string
	// Seed makes weights deterministic; 0 means the default seed.
	Seed uint64
	// M2M100Size picks the full-size translation dims: "418M" (default) or "1.2B".
	M2M100Size string
	// Float16 also writes the half-precision variant (onnx/model_fp16.onnx)
	// of the BGE and ResNet models, for GPUs.
	Float16 bool
}

// Generator writes the artifacts of one model ID into dir.
type Generator struct {
	Model    string
	Generate func(ctx context.Context, dir string, o Options) error
}

var generators []Generator

// register adds a generator; called from the init function of each model file.
func register(g Generator) {
	generators = append(generators, g)
	sort.Slice(generators, func(i, j int) bool { return generators[i].Model < generators[j].Model })
}

// Models lists the model IDs this package can generate.
func Models() []string {
	ids := make([]string, len(generators))
	for i, g := range generators {
		ids[i] = g.Model
	}
	return ids
}

// Generate writes the artifacts of every model in only (all when only is
// empty) and reports each one on log.
func Generate(ctx context.Context, o Options, only []string, log io.Writer) error {
	if o.Preset != Tiny && o.Preset != Full {
		return fmt.Errorf("synth: unknown preset %q (want tiny or full)", o.Preset)
	}
	for _, id := range only {
		if !slices.Contains(Models(), id) {
			return fmt.Errorf("synth: no generator for model %q (have %v)", id, Models())
		}
	}
	for _, g := range generators {
		if len(only) > 0 && !slices.Contains(only, g.Model) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Join(o.OutDir, filepath.FromSlash(g.Model))
		start := time.Now()
		if err := g.Generate(ctx, dir, o); err != nil {
			return fmt.Errorf("synth %s: %w", g.Model, err)
		}
		fmt.Fprintf(log, "synthesized %s (%s) in %s -> %s\n", g.Model, o.Preset, time.Since(start).Round(time.Millisecond), dir)
	}
	return nil
}

// Package synth writes synthetic model artifacts: the real architectures and
// file contracts of the models edgeinfer serves (docs/model-files.md),
// filled with deterministic pseudo-random weights. Nothing here claims quality:
// the artifacts exist so every backend can be built, tested and benchmarked
// without downloading weights, and so real files drop into the same layout.
package synth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	// of the ONNX encoders (BGE, DistilBERT, XLM-R) and ResNet-50, for GPUs.
	Float16 bool
	// Force replaces a model directory that holds real (non-synthetic)
	// model files; without it such a directory is kept as it is.
	Force bool
	// KeepFull keeps a model directory that holds full-size synthetic
	// weights, so refreshing the tiny demo set does not shrink the models a
	// user generated for benchmarks.
	KeepFull bool
}

// stampFile records in each generated model directory how it was made.
const stampFile = ".edgeinfer-synth.json"

type stamp struct {
	Preset Preset `json:"preset"`
	Seed   uint64 `json:"seed"`
}

// keep says whether Generate must leave dir alone, and why: it holds real
// model files (config.json without the synthetic marker) and Force is off,
// or full-size synthetic ones and KeepFull is on. An empty or missing
// directory is never kept.
func (o Options) keep(dir string) (bool, string) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, ""
	}
	var cfg map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &cfg)
	}
	if (err != nil || cfg[MarkerKey] != true) && !o.Force {
		return true, "it holds model files that are not synthetic (--force replaces them)"
	}
	var st stamp
	if raw, err := os.ReadFile(filepath.Join(dir, stampFile)); err == nil && json.Unmarshal(raw, &st) == nil &&
		st.Preset == Full && o.KeepFull && o.Preset != Full {
		return true, "it holds full-size synthetic weights"
	}
	return false, ""
}

// Generator writes the artifacts of one model ID into dir.
type Generator struct {
	Model    string
	Generate func(ctx context.Context, dir string, o Options) error
	// FullOnlyIfNamed keeps a model whose full preset is very large out of
	// a full run that names no models: it is written only when listed.
	FullOnlyIfNamed bool
}

var generators []Generator

// selected says whether a run with o and only writes g's model, and why
// not when that needs saying.
func (g Generator) selected(o Options, only []string) (run bool, why string) {
	switch {
	case len(only) > 0:
		return slices.Contains(only, g.Model), ""
	case g.FullOnlyIfNamed && o.Preset == Full:
		return false, fmt.Sprintf("its full preset is written only when named (--only %s)", g.Model)
	}
	return true, ""
}

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
// empty) and reports each one on log. A model directory holding real files
// is kept unless o.Force, and one holding full-size synthetic weights when
// o.KeepFull; each kept one is reported too. Under the full preset, a
// generator marked FullOnlyIfNamed runs only when only lists it.
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
		if run, why := g.selected(o, only); !run {
			if why != "" {
				fmt.Fprintf(log, "skipped %s: %s\n", g.Model, why)
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Join(o.OutDir, filepath.FromSlash(g.Model))
		if keep, why := o.keep(dir); keep {
			fmt.Fprintf(log, "kept %s: %s (%s)\n", g.Model, why, dir)
			continue
		}
		start := time.Now()
		if err := g.Generate(ctx, dir, o); err != nil {
			return fmt.Errorf("synth %s: %w", g.Model, err)
		}
		if err := writeJSONFile(filepath.Join(dir, stampFile), stamp{Preset: o.Preset, Seed: o.Seed}); err != nil {
			return fmt.Errorf("synth %s: %w", g.Model, err)
		}
		fmt.Fprintf(log, "synthesized %s (%s) in %s -> %s\n", g.Model, o.Preset, time.Since(start).Round(time.Millisecond), dir)
	}
	return nil
}

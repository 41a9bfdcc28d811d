// Package onnxdir checks and reads the model directories of ONNX-backed
// models: the files a backend needs, the synthetic marker, the runtime.
package onnxdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// SyntheticMarker is the config.json key set by `edgeinfer models synth`.
const SyntheticMarker = "edgeinfer_synthetic"

// Inspect checks that dir holds every file in files (paths relative to the
// model directory) and that ONNX Runtime is installed. A missing piece is a
// KindNotInstalled error that says how to get it; messages name files
// relative to the model directory, never absolute paths.
func Inspect(spec engine.ModelSpec, files []string) (engine.Installation, error) {
	dir := spec.Dir()
	var missing []string
	var total int64
	for _, f := range files {
		info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			missing = append(missing, f)
			continue
		}
		total += info.Size()
	}
	if len(missing) > 0 {
		synth := "edgeinfer models synth --only " + spec.Entry.ID
		if spec.Variant() == "fp16" {
			synth += " --fp16"
		}
		return engine.Installation{}, &engine.Error{Kind: engine.KindNotInstalled,
			Message: fmt.Sprintf("Model %s is not installed (missing %s). Run `%s` for synthetic weights, `edgeinfer pull %s` for the real ones, or put the files in its model directory",
				spec.Entry.ID, strings.Join(missing, ", "), synth, spec.Entry.ID)}
	}
	if _, err := os.Stat(ort.LibraryPath()); err != nil {
		return engine.Installation{}, &engine.Error{Kind: engine.KindNotInstalled,
			Message: "ONNX Runtime is not installed: run `make setup` (or set EDGEINFER_ORT_LIB)", Err: err}
	}
	synthetic, err := IsSynthetic(dir)
	if err != nil {
		return engine.Installation{}, &engine.Error{Kind: engine.KindNotInstalled,
			Message: fmt.Sprintf("Model %s has an unreadable config.json", spec.Entry.ID), Err: err}
	}
	return engine.Installation{Synthetic: synthetic, Source: dir, Bytes: total}, nil
}

// IsSynthetic reports whether dir's config.json carries the synthetic marker.
func IsSynthetic(dir string) (bool, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return false, err
	}
	return string(cfg[SyntheticMarker]) == "true", nil
}

// ReadJSON decodes a JSON file of the model directory into v.
func ReadJSON(dir, name string, v any) error {
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// VariantFiles are the weight files of the variant to serve, from the
// catalog's artifact list; fallback is used for models the catalog does not
// describe (custom models). A configured variant (models.<id>.variant) is
// served as configured; otherwise the device's default (ModelSpec.Variant),
// unless its files are absent and those of the catalog's default (or fp32)
// are present: a model pulled or synthesized as int8 still serves on a CUDA
// device, whose default is fp32, and the reverse.
func VariantFiles(spec engine.ModelSpec, fallback map[string][]string) ([]string, error) {
	variants := spec.Entry.Artifacts.Variants
	if len(variants) == 0 {
		variants = fallback
	}
	files, ok := variants[spec.Variant()]
	if !ok {
		return nil, &engine.Error{Kind: engine.KindNotInstalled, Message: fmt.Sprintf("Model %s has no %q variant (configured in models.%q.variant)", spec.Entry.ID, spec.Variant(), spec.Entry.ID)}
	}
	if spec.Config.Variant != "" || Installed(spec, files) {
		return files, nil
	}
	other := spec.Entry.Artifacts.DefaultVariant
	if other == "" || other == spec.Variant() {
		other = "fp32"
	}
	if alt, ok := variants[other]; ok && Installed(spec, alt) {
		return alt, nil
	}
	return files, nil // reported missing by Inspect
}

// Installed reports whether every file in files is in the model directory.
func Installed(spec engine.ModelSpec, files []string) bool {
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(spec.Dir(), filepath.FromSlash(f))); err != nil {
			return false
		}
	}
	return true
}

// SessionOptions are the ONNX Runtime options from a model's config
// (with the top-level defaults applied, as ModelSpec.Config has them).
func SessionOptions(c engine.ModelConfig) ort.Options {
	return ort.Options{
		IntraOpThreads: c.IntraOpThreads,
		InterOpThreads: c.InterOpThreads,
		Device:         c.Device,
		RequireDevice:  c.RequireDevice,
		CUDA: ort.CUDAOptions{
			GPUMemLimit:         c.CUDA.GPUMemLimit,
			ArenaExtendStrategy: c.CUDA.ArenaExtendStrategy,
			CuDNNConvAlgoSearch: c.CUDA.CuDNNConvAlgoSearch,
		},
	}
}

// LoadError reports a model that failed to load, naming the problem with
// paths made relative to the model directory, so the message helps the user
// without leaking the file-system layout.
func LoadError(spec engine.ModelSpec, err error) error {
	if devErr, ok := errors.AsType[*ort.DeviceError](err); ok {
		return &engine.Error{Kind: engine.KindNotInstalled, Err: err,
			Message: fmt.Sprintf("Model %s requires %s, which is unavailable: %s. Fix that, or unset require_device to let it run on the CPU", spec.Entry.ID, devErr.Device, devErr.Reason)}
	}
	if _, missing := errors.AsType[*ort.MissingLibraryError](err); missing || errors.Is(err, ort.ErrInit) {
		// The library's path and dlopen's words stay in the server log.
		return &engine.Error{Kind: engine.KindNotInstalled, Err: err,
			Message: "ONNX Runtime could not be loaded: run `make setup` (or point EDGEINFER_ORT_LIB at an ONNX Runtime 1.x libonnxruntime.so)"}
	}
	dir := spec.Dir()
	detail := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	detail = strings.ReplaceAll(detail, dir, "<model dir>")
	return &engine.Error{Kind: engine.KindNotInstalled, Err: err,
		Message: fmt.Sprintf("Model %s could not be loaded: %s. Check its files, or regenerate them with `edgeinfer models synth --only %s`", spec.Entry.ID, detail, spec.Entry.ID)}
}

// Placement is where a model's sessions run, for engine.Placed: their
// execution provider (several, joined, if they differ) and the first
// reason one of them fell back to the CPU. Nil sessions are skipped.
func Placement(sessions ...*ort.Session) engine.Placement {
	var p engine.Placement
	var providers []string
	for _, s := range sessions {
		if s == nil {
			continue
		}
		if !slices.Contains(providers, s.ExecutionProvider()) {
			providers = append(providers, s.ExecutionProvider())
		}
		if p.Fallback == "" {
			p.Fallback = s.Fallback()
		}
	}
	p.ExecutionProvider = strings.Join(providers, "+")
	return p
}

package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/ollama/ollama/api"
	ollamamodel "github.com/ollama/ollama/types/model"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
)

// source is what serves one catalog LLM: an Ollama tag, and for the
// synthetic demo model the directory its tag is created from.
type source struct {
	Tag       string
	Synthetic bool
	// Dir holds the synthetic model's GGUF and Modelfile; empty for a
	// pulled tag.
	Dir   string
	Bytes int64
}

// resolve picks the tag that serves spec's model. The configured tag
// (models.<id>.ollama) or the catalog's serves it when Ollama has it;
// otherwise the synthetic Llama serves it if its directory exists, so the
// demo set answers on every LLM ID; otherwise the model is not installed.
func (b *Backend) resolve(ctx context.Context, spec engine.ModelSpec) (source, error) {
	if err := noLocalPath(spec); err != nil {
		return source{}, err
	}
	tag := spec.OllamaTag()
	if tag != "" {
		ok, size, err := b.hasTag(ctx, spec.Paths, tag)
		if err != nil {
			return source{}, err
		}
		if ok {
			return source{Tag: tag, Bytes: size}, nil
		}
	}
	if f := spec.Entry.Family; f != "" {
		// The synthetic model of the entry's family, when the demo set has
		// it, so the family's template, tools and thinking run.
		if src, ok := syntheticSource(spec.Paths.Home, engine.SyntheticFamilyID(f), ""); ok {
			return src, nil
		}
	}
	if src, ok := syntheticSource(spec.Paths.Home, engine.SyntheticLlamaID, engine.SyntheticLlamaTag); ok {
		return src, nil
	}
	if tag == "" {
		return source{}, &engine.Error{Kind: engine.KindNotInstalled,
			Message: fmt.Sprintf("Model %s has no Ollama model: set models.%q.ollama to an Ollama tag in the config file", spec.Entry.ID, spec.Entry.ID)}
	}
	return source{}, &engine.Error{Kind: engine.KindNotInstalled,
		Message: fmt.Sprintf("Model %s is not installed: run `edgeinfer pull %s` (Ollama model %s), or `edgeinfer models synth --only %s` for the synthetic demo model", spec.Entry.ID, spec.Entry.ID, tag, engine.SyntheticLlamaID)}
}

// syntheticSource finds a synthetic chat model that `edgeinfer models
// synth` writes under home (the directory of model ID id); defaultTag is
// its tag when its config.json names none.
func syntheticSource(home, id, defaultTag string) (source, bool) {
	dir := filepath.Join(home, "models", filepath.FromSlash(id))
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return source{}, false
	}
	var cfg struct {
		Marker    bool   `json:"edgeinfer_synthetic"`
		Tag       string `json:"ollama_tag"`
		GGUF      string `json:"gguf"`
		Modelfile string `json:"modelfile"`
	}
	if json.Unmarshal(raw, &cfg) != nil || !cfg.Marker {
		return source{}, false
	}
	if cfg.Tag == "" {
		cfg.Tag = defaultTag
	}
	if cfg.Tag == "" {
		return source{}, false
	}
	if cfg.GGUF == "" {
		cfg.GGUF = "model.gguf"
	}
	gguf, err := os.Stat(filepath.Join(dir, cfg.GGUF))
	if err != nil {
		return source{}, false
	}
	if _, err := os.Stat(filepath.Join(dir, "Modelfile")); err != nil {
		return source{}, false
	}
	return source{Tag: cfg.Tag, Synthetic: true, Dir: dir, Bytes: gguf.Size()}, true
}

// hasTag reports whether Ollama has tag, and its size. It asks the server
// in use, or one named by the config or OLLAMA_HOST; with neither, it reads
// the managed server's store, so that listing models starts nothing.
func (b *Backend) hasTag(ctx context.Context, paths home.Paths, tag string) (bool, int64, error) {
	client, err := b.clientForCheck(ctx, paths)
	if err != nil {
		return false, 0, err
	}
	if client == nil {
		return storeHasTag(filepath.Join(paths.Home, "ollama"), tag)
	}
	list, err := client.List(ctx)
	if err != nil {
		return false, 0, ollamaUnreachable(err)
	}
	want := ollamamodel.ParseName(tag)
	for _, m := range list.Models {
		if ollamamodel.ParseName(m.Model).EqualFold(want) {
			return true, m.Size, nil
		}
	}
	return false, 0, nil
}

// storeHasTag reads a tag's manifest from an Ollama model store.
func storeHasTag(store, tag string) (bool, int64, error) {
	name := ollamamodel.ParseName(tag)
	if !name.IsFullyQualified() {
		return false, 0, nil
	}
	raw, err := os.ReadFile(filepath.Join(store, "manifests", name.Filepath()))
	if errors.Is(err, os.ErrNotExist) {
		return false, 0, nil
	} else if err != nil {
		return false, 0, err
	}
	var m struct {
		Config struct {
			Size int64 `json:"size"`
		} `json:"config"`
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, 0, fmt.Errorf("ollama manifest of %s: %w", tag, err)
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return true, size, nil
}

// isNotFound reports whether Ollama answered 404 (no such model).
func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusNotFound
}

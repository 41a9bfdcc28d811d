package pull

import (
	"context"

	"github.com/edgeinfer/edgeinfer/engine"
)

// LLMPuller is implemented by a backend whose models come from its
// runtime's own registry rather than from files (the Ollama backend: its
// models are pulled by tag, spec.Config.Ollama or the catalog's
// artifacts.ollama). `edgeinfer pull` hands such a model to the backend,
// with the same Progress display the hub downloads use (one name per layer).
type LLMPuller interface {
	PullLLM(ctx context.Context, spec engine.ModelSpec, progress Progress) error
}

// OllamaTag is the Ollama tag that serves spec's model: the configured one,
// else the catalog's; empty when the model has none.
func OllamaTag(spec engine.ModelSpec) string {
	if spec.Config.Ollama != "" {
		return spec.Config.Ollama
	}
	return spec.Entry.Artifacts.Ollama
}

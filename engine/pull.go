package engine

import "context"

// LLMPuller is implemented by a backend whose models come from its
// runtime's own registry rather than from files (the Ollama backend: its
// models are pulled by tag, ModelSpec.OllamaTag). `edgeinfer pull` hands
// such a model to the backend, with the same progress display the hub
// downloads use (one name per layer).
type LLMPuller interface {
	PullLLM(ctx context.Context, spec ModelSpec, progress PullProgress) error
}

// PullProgress follows the transfers of one pull. Implementations must be
// safe for concurrent use: files download in parallel.
type PullProgress interface {
	// Update says that name has done of total bytes. The first call for a
	// name starts it (done > 0 when resuming); done goes back to 0 when a
	// transfer has to start over.
	Update(name string, done, total int64)
	// Done ends name's transfer; err is nil on success.
	Done(name string, err error)
}

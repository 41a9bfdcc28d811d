package llm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
)

// PullLLM implements engine.LLMPuller: it pulls the model's Ollama tag (the
// configured one, else the catalog's) through the server the backend uses,
// reporting each layer as a transfer named by its digest.
func (b *Backend) PullLLM(ctx context.Context, spec engine.ModelSpec, progress engine.PullProgress) error {
	if err := noLocalPath(spec); err != nil {
		return err
	}
	tag := spec.OllamaTag()
	if tag == "" {
		return fmt.Errorf("%s names no Ollama model: set models.%q.ollama in the config file", spec.Entry.ID, spec.Entry.ID)
	}
	srv, err := b.acquire(ctx, spec.Paths, max(configuredParallel(spec), defaultParallel))
	if err != nil {
		return fmt.Errorf("no Ollama server to pull %s with (run `make setup`, or set OLLAMA_HOST to a running server and `ollama pull %s` there): %w", tag, tag, err)
	}
	defer b.release()

	layers := &layerProgress{progress: progress, started: map[string]bool{}}
	err = srv.Client().Pull(ctx, &api.PullRequest{Model: tag}, layers.update)
	layers.finish(err)
	if err != nil {
		var se api.StatusError
		if errors.As(err, &se) {
			err = errors.New(se.ErrorMessage)
		}
		return fmt.Errorf("ollama could not pull %s: %w", tag, err)
	}
	return nil
}

// layerProgress turns Ollama's pull progress (a status line, and for
// layer downloads a digest with completed and total bytes) into Progress
// transfers, one per layer.
type layerProgress struct {
	progress engine.PullProgress
	started  map[string]bool
	order    []string
}

func (l *layerProgress) update(p api.ProgressResponse) error {
	if p.Digest == "" || p.Total <= 0 {
		return nil
	}
	name := "layer " + shortDigest(p.Digest)
	if !l.started[name] {
		l.started[name] = true
		l.order = append(l.order, name)
	}
	l.progress.Update(name, p.Completed, p.Total)
	return nil
}

// finish ends every layer's transfer with the pull's outcome.
func (l *layerProgress) finish(err error) {
	for _, name := range l.order {
		l.progress.Done(name, err)
	}
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

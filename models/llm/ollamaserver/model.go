package ollamaserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/parser"
)

// EnsureModel makes tag available on the server behind client. When the tag
// is missing it is created from dir, a model directory holding a Modelfile
// whose FROM names a GGUF file in it (the layout models/synth writes, and
// the one a real model dropped into $EDGEINFER_HOME/models uses): the GGUF
// is uploaded as a blob, then the model is created with the Modelfile's
// template, system prompt and parameters. An existing tag is left as it is.
func EnsureModel(ctx context.Context, client *api.Client, tag, dir string) error {
	_, err := client.Show(ctx, &api.ShowRequest{Model: tag})
	if err == nil {
		return nil
	}
	var status api.StatusError
	if !errors.As(err, &status) || status.StatusCode != http.StatusNotFound {
		return fmt.Errorf("ollama: look up %s: %w", tag, err)
	}

	req, err := createRequest(dir)
	if err != nil {
		return err
	}
	req.Model = tag
	if len(req.Files) == 0 {
		return fmt.Errorf("ollama: %s/Modelfile names no local model file (FROM %q)", dir, req.From)
	}
	files := make(map[string]string, len(req.Files))
	for path, digest := range req.Files {
		if err := uploadBlob(ctx, client, path, digest); err != nil {
			return err
		}
		// The server names files by base name, as the Ollama CLI sends them.
		files[filepath.Base(path)] = digest
	}
	req.Files = files
	if err := client.Create(ctx, req, func(api.ProgressResponse) error { return nil }); err != nil {
		return fmt.Errorf("ollama: create %s from %s: %w", tag, dir, err)
	}
	return nil
}

// createRequest reads dir/Modelfile with Ollama's own parser, which also
// resolves FROM to file paths and their sha256 digests.
func createRequest(dir string) (*api.CreateRequest, error) {
	f, err := os.Open(filepath.Join(dir, "Modelfile"))
	if err != nil {
		return nil, fmt.Errorf("ollama: model directory: %w", err)
	}
	defer f.Close()
	mf, err := parser.ParseFile(f)
	if err != nil {
		return nil, fmt.Errorf("ollama: %s: %w", f.Name(), err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return mf.CreateRequest(abs)
}

func uploadBlob(ctx context.Context, client *api.Client, path, digest string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := client.CreateBlob(ctx, digest, f); err != nil {
		return fmt.Errorf("ollama: upload %s: %w", path, err)
	}
	return nil
}

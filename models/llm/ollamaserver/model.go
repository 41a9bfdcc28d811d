package ollamaserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/parser"
)

// EnsureModel makes tag on the server behind client serve the model in
// dir, a model directory holding a Modelfile whose FROM names a GGUF file in
// it (the layout models/synth writes, and the one a real model dropped into
// $EDGEINFER_HOME/models uses). A missing tag is created: the GGUF is
// uploaded as a blob, then the model is created with the Modelfile's
// template, system prompt and parameters. A tag made from another GGUF (a
// regenerated synthetic model, a replaced file) is created again over the
// old one; a current tag is left as it is.
func EnsureModel(ctx context.Context, client *api.Client, tag, dir string) error {
	req, err := createRequest(dir)
	if err != nil {
		return err
	}
	if len(req.Files) == 0 {
		return fmt.Errorf("ollama: %s/Modelfile names no local model file (FROM %q)", dir, req.From)
	}
	show, err := client.Show(ctx, &api.ShowRequest{Model: tag})
	if err == nil && madeFrom(show.Modelfile, req.Files) {
		return nil
	}
	var status api.StatusError
	if err != nil && (!errors.As(err, &status) || status.StatusCode != http.StatusNotFound) {
		return fmt.Errorf("ollama: look up %s: %w", tag, err)
	}

	req.Model = tag
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

// madeFrom reports whether a model's Modelfile, as Ollama shows it, reads
// every one of the blobs (digests "sha256:<hex>"): its FROM lines name the
// blob files, "…/blobs/sha256-<hex>".
func madeFrom(modelfile string, files map[string]string) bool {
	for _, digest := range files {
		if !strings.Contains(modelfile, "sha256-"+strings.TrimPrefix(digest, "sha256:")) {
			return false
		}
	}
	return true
}

// requests caches createRequest per model directory for as long as the
// directory's files keep their sizes and modification times: the digests
// hash the whole GGUF, seconds for a real model, and EnsureModel runs on
// every load.
var requests = struct {
	sync.Mutex
	byDir map[string]cachedRequest
}{byDir: map[string]cachedRequest{}}

type cachedRequest struct {
	stamp string
	req   api.CreateRequest
}

// createRequest returns the create request for dir (a copy the caller may
// change), from the cache while dir is unchanged.
func createRequest(dir string) (*api.CreateRequest, error) {
	stamp, err := dirStamp(dir)
	if err != nil {
		return nil, fmt.Errorf("ollama: model directory: %w", err)
	}
	requests.Lock()
	c, ok := requests.byDir[dir]
	requests.Unlock()
	if !ok || c.stamp != stamp {
		req, err := parseModelfile(dir)
		if err != nil {
			return nil, err
		}
		c = cachedRequest{stamp: stamp, req: *req}
		requests.Lock()
		requests.byDir[dir] = c
		requests.Unlock()
	}
	req := c.req
	return &req, nil
}

// dirStamp describes the regular files directly in dir by name, size and
// modification time.
func dirStamp(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		fmt.Fprintf(&b, "%s %d %d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String(), nil
}

// parseModelfile reads dir/Modelfile with Ollama's own parser, which also
// resolves FROM to file paths and their sha256 digests.
func parseModelfile(dir string) (*api.CreateRequest, error) {
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

package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
)

// LoRA adapters are registered by name as directories under
// $EDGEINFER_HOME/loras: loras/<name>/adapter_config.json and
// adapter_model.safetensors, the files Workers AI's finetunes take. A
// request with `lora: "<name>"` on a LoRA-capable model (catalog property
// lora: "true") is served by an Ollama model built FROM the base tag with
// the adapter as ADAPTER, created on first use.
const (
	lorasDir          = "loras"
	adapterConfigFile = "adapter_config.json"
	adapterFile       = "adapter_model.safetensors"
)

// adapterName is what a registered adapter may be called: it becomes a
// directory name and part of an Ollama model name.
var adapterName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// adapters are one model's LoRA adapters, with the Ollama tags created for
// them.
type adapters struct {
	dir string

	mu   sync.Mutex // also serializes creating tags
	tags map[string]adapterTag
}

// adapterTag is the Ollama tag made from an adapter's files as they were.
type adapterTag struct {
	tag     string
	size    int64
	modTime time.Time
}

// newAdapters returns the adapters of a LoRA-capable model, nil for others.
func newAdapters(spec engine.ModelSpec) *adapters {
	if spec.Entry.Properties["lora"] != "true" {
		return nil
	}
	return &adapters{dir: filepath.Join(spec.Paths.Home, lorasDir), tags: map[string]adapterTag{}}
}

// tag returns the Ollama tag serving base model m with adapter name,
// creating it when the adapter is new or its files changed.
func (a *adapters) tag(ctx context.Context, m *model, name string) (string, error) {
	if !adapterName.MatchString(name) {
		return "", engine.BadInput("lora", "%q is not a LoRA adapter name (letters, digits, '.', '_' and '-', at most 64)", name)
	}
	dir := filepath.Join(a.dir, name)
	weights, errW := os.Stat(filepath.Join(dir, adapterFile))
	config, errC := os.Stat(filepath.Join(dir, adapterConfigFile))
	if errW != nil || errC != nil {
		return "", engine.BadInput("lora", "no LoRA adapter named %q: put %s and %s in %s/%s under EDGEINFER_HOME",
			name, adapterConfigFile, adapterFile, lorasDir, name)
	}
	modTime := weights.ModTime()
	if config.ModTime().After(modTime) {
		modTime = config.ModTime()
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.tags[name]; ok && t.size == weights.Size() && t.modTime.Equal(modTime) {
		return t.tag, nil
	}
	tag, err := createAdapterModel(ctx, m.srv.Client(), m.plan.Tag, name, dir)
	if err != nil {
		return "", err
	}
	if old, ok := a.tags[name]; !ok || old.tag != tag {
		m.backend.useTag(tag)
		if ok {
			m.backend.dropTag(old.tag) // replaced files: the old model is no longer this model's
		}
	}
	a.tags[name] = adapterTag{tag: tag, size: weights.Size(), modTime: modTime}
	return tag, nil
}

// created lists the tags made for the model's adapters.
func (a *adapters) created() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var tags []string
	for _, t := range a.tags {
		tags = append(tags, t.tag)
	}
	return tags
}

// createAdapterModel uploads an adapter's files and creates FROM base with
// ADAPTER in Ollama, unless a model for these exact files exists. The tag
// names the adapter and hashes base and files, so a changed adapter gets a
// new model.
func createAdapterModel(ctx context.Context, client *api.Client, base, name, dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, adapterConfigFile))
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", engine.BadInput("lora", "adapter %q: %s is not a JSON object: %v", name, adapterConfigFile, err)
	}
	files := map[string]string{}
	id := sha256.New()
	io.WriteString(id, base+"\n")
	for _, f := range []string{adapterConfigFile, adapterFile} {
		digest, err := fileDigest(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		files[f] = digest
		io.WriteString(id, digest+"\n")
	}
	tag := "edgeinfer-lora/" + strings.ToLower(name) + ":" + hex.EncodeToString(id.Sum(nil))[:12]

	if _, err := client.Show(ctx, &api.ShowRequest{Model: tag}); err == nil {
		return tag, nil
	} else if !isNotFound(err) {
		return "", ollamaUnreachable(err)
	}
	for f, digest := range files {
		if err := uploadBlob(ctx, client, filepath.Join(dir, f), digest); err != nil {
			return "", err
		}
	}
	req := &api.CreateRequest{Model: tag, From: base, Adapters: files}
	if err := client.Create(ctx, req, func(api.ProgressResponse) error { return nil }); err != nil {
		var se api.StatusError
		if errors.As(err, &se) && se.StatusCode < 500 {
			return "", engine.BadInput("lora", "Ollama cannot apply adapter %q to %s: %s", name, base, se.ErrorMessage)
		}
		return "", fmt.Errorf("ollama: create %s: %w", tag, err)
	}
	return tag, nil
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func uploadBlob(ctx context.Context, client *api.Client, path, digest string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := client.CreateBlob(ctx, digest, f); err != nil {
		return fmt.Errorf("ollama: upload %s: %w", filepath.Base(path), err)
	}
	return nil
}

package pull_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/bert"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/pull"
	"github.com/edgeinfer/edgeinfer/models/pull/pulltest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

const (
	small   = "@cf/baai/bge-small-en-v1.5"
	repo    = "Xenova/bge-small-en-v1.5"
	weights = "onnx/model.onnx"
	token   = "hf_test_token"
)

// synthDir holds the tiny synthetic bge-small the test hub serves.
var synthDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pull-test-")
	if err != nil {
		panic(err)
	}
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir}, []string{small}, os.Stderr); err != nil {
		panic(err)
	}
	synthDir = filepath.Join(dir, filepath.FromSlash(small))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hubFiles are the synthetic files as a real repository would hold them:
// no synthetic marker, weights in LFS.
func hubFiles(t *testing.T) map[string]pulltest.File {
	files := pulltest.FromDir(t, synthDir, func(p string) bool { return strings.HasPrefix(p, "onnx/") })
	pulltest.Unmark(t, files)
	return files
}

func newHub(t *testing.T) (*pulltest.Hub, map[string]pulltest.File) {
	files := hubFiles(t)
	return pulltest.New(t, repo, files), files
}

func newPuller(h *pulltest.Hub) pull.Puller {
	return pull.Puller{Hub: pull.Hub{Endpoint: h.URL, Token: token}, Concurrency: 3,
		RetryDelay: time.Millisecond, StallTimeout: 10 * time.Second}
}

// spec is bge-small from the real catalog, its directory set to dir.
func spec(t *testing.T, dir string) engine.ModelSpec {
	t.Helper()
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := cat.Lookup(small)
	if !ok {
		t.Fatalf("%s is not in the catalog", small)
	}
	return engine.ModelSpec{Entry: e, Config: engine.ModelConfig{Dir: dir}, Paths: home.Resolve(t.TempDir(), os.Getenv)}
}

func request(t *testing.T, dir, variant string) pull.Request {
	t.Helper()
	req, err := pull.ForModel(spec(t, dir), variant)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func pullCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// assertInstalled checks that every requested file holds the hub's bytes
// and that no partial file is left.
func assertInstalled(t *testing.T, req pull.Request, files map[string]pulltest.File) {
	t.Helper()
	for _, f := range req.Files {
		got, err := os.ReadFile(filepath.Join(req.Dir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, files[f].Data) {
			t.Fatalf("%s differs from the hub's file (%d bytes, want %d)", f, len(got), len(files[f].Data))
		}
	}
	if p := partials(t, req.Dir); len(p) > 0 {
		t.Fatalf("partial files left after a successful pull: %v", p)
	}
}

func partials(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".incomplete") {
			found = append(found, p)
		}
		return nil
	})
	return found
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func cdnGets(reqs []pulltest.Request) []pulltest.Request {
	var out []pulltest.Request
	for _, r := range reqs {
		if r.Method == "GET" && strings.HasPrefix(r.Path, "/cdn/") {
			out = append(out, r)
		}
	}
	return out
}

// After a successful pull the model serves requests, as real weights.
func TestPullThenServe(t *testing.T) {
	h, files := newHub(t)
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	res, err := newPuller(h).Pull(pullCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	assertInstalled(t, req, files)
	if len(res.Downloaded) != len(req.Files) || len(res.UpToDate) != 0 || res.ReplacedSynthetic {
		t.Fatalf("result %+v", res)
	}

	m, err := pull.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(files[weights].Data)
	if m.Repo != repo || m.Revision != "main" || m.Commit != pulltest.Commit || len(m.Files) != len(req.Files) {
		t.Fatalf("manifest %+v", m)
	}
	for _, f := range m.Files {
		switch {
		case f.Size != int64(len(files[f.Path].Data)):
			t.Fatalf("manifest size of %s: %d", f.Path, f.Size)
		case f.Path == weights && f.SHA256 != hex.EncodeToString(sum[:]):
			t.Fatalf("manifest sha256 of %s: %q", f.Path, f.SHA256)
		case f.Path == "config.json" && (f.SHA256 != "" || len(f.ETag) != 40):
			t.Fatalf("config.json is kept in git: want a git ETag and no sha256, got %+v", f)
		}
	}

	// The token goes to the hub, never to the CDN; after the first answer
	// every file is asked for at the pinned commit.
	reqs := h.Requests()
	var heads int
	for _, r := range reqs {
		onHub := strings.Contains(r.Path, "/resolve/")
		if onHub != (r.Authorization == "Bearer "+token) {
			t.Fatalf("%s %s sent Authorization %q", r.Method, r.Path, r.Authorization)
		}
		if r.Method == "HEAD" && heads > 0 && !strings.Contains(r.Path, "/resolve/"+pulltest.Commit+"/") {
			t.Fatalf("HEAD %s not pinned to the commit", r.Path)
		}
		if r.Method == "HEAD" {
			heads++
		}
	}
	if heads != len(req.Files) || len(cdnGets(reqs)) != 1 {
		t.Fatalf("%d HEADs and %d CDN downloads for %d files (one LFS)", heads, len(cdnGets(reqs)), len(req.Files))
	}

	orttest.Require(t)
	eng := enginetest.New(t, map[string]engine.ModelConfig{small: {Dir: dir}}, map[string]engine.Backend{bert.Kind: bert.Backend{}}, nil)
	entry, _ := eng.Catalog().Lookup(small)
	if st := eng.Status(context.Background(), entry); !st.Installed || st.Installation.Synthetic {
		t.Fatalf("status after pull: %+v", st)
	}
	out, err := eng.Run(pullCtx(t), small, engine.Input{JSON: []byte(`{"text":"pulled weights serve requests"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if emb := out.(*engine.EmbeddingsOutput); emb.Shape[0] != 1 || len(emb.Data[0]) == 0 {
		t.Fatalf("embedding shape %v", emb.Shape)
	}
}

func TestPullAgainOnlyAsks(t *testing.T) {
	h, _ := newHub(t)
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	p := newPuller(h)
	if _, err := p.Pull(pullCtx(t), req); err != nil {
		t.Fatal(err)
	}
	h.Requests()
	res, err := p.Pull(pullCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Downloaded) != 0 || len(res.UpToDate) != len(req.Files) {
		t.Fatalf("second pull: %+v", res)
	}
	for _, r := range h.Requests() {
		if r.Method != "HEAD" {
			t.Fatalf("second pull sent %s %s", r.Method, r.Path)
		}
	}

	// A different variant adds its file; the manifest keeps both.
	int8 := request(t, dir, "int8")
	if _, err := p.Pull(pullCtx(t), int8); err != nil {
		t.Fatal(err)
	}
	m, err := pull.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	if !slices.Contains(paths, weights) || !slices.Contains(paths, "onnx/model_quantized.onnx") {
		t.Fatalf("manifest after fp32 then int8: %v", paths)
	}
}

// An LFS file already in place with the announced sha256 is kept, not
// downloaded again.
func TestMatchingFileIsKept(t *testing.T) {
	h, files := newHub(t)
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	if err := os.MkdirAll(filepath.Join(dir, "onnx"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, weights), files[weights].Data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := newPuller(h).Pull(pullCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.UpToDate, weights) || len(cdnGets(h.Requests())) != 0 {
		t.Fatalf("matching weights were downloaded again: %+v", res)
	}
	assertInstalled(t, req, files)
}

// Pulling over `models synth` output removes every synthetic file, so none
// is later served as real.
func TestPullReplacesSyntheticArtifacts(t *testing.T) {
	h, files := newHub(t)
	root := t.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: root}, []string{small}, os.Stderr); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, filepath.FromSlash(small))
	req := request(t, dir, "")
	res, err := newPuller(h).Pull(pullCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ReplacedSynthetic {
		t.Fatal("result does not say synthetic artifacts were replaced")
	}
	assertInstalled(t, req, files)
	if synthetic, err := onnxdir.IsSynthetic(dir); err != nil || synthetic {
		t.Fatalf("still synthetic after a pull: %v %v", synthetic, err)
	}
	for _, leftover := range []string{"onnx/model_quantized.onnx", "modules.json", "1_Pooling/config.json"} {
		if exists(filepath.Join(dir, leftover)) {
			t.Errorf("synthetic %s survived the pull", leftover)
		}
	}
}

func TestHubFromEnv(t *testing.T) {
	t.Setenv("HF_ENDPOINT", "http://mirror.example:8080/")
	t.Setenv("HF_TOKEN", "hf_env")
	if h := pull.HubFromEnv(); h.Endpoint != "http://mirror.example:8080" || h.Token != "hf_env" {
		t.Fatalf("from env: %+v", h)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("hf_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_ENDPOINT", "")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", tokenFile)
	if h := pull.HubFromEnv(); h.Endpoint != pull.DefaultEndpoint || h.Token != "hf_file" {
		t.Fatalf("defaults and token file: %+v", h)
	}
	url := pull.Hub{Endpoint: "https://hub.example"}.ResolveURL("a/b", "refs/pr/1", "onnx/model x.onnx")
	if url != "https://hub.example/a/b/resolve/refs%2Fpr%2F1/onnx/model%20x.onnx" {
		t.Fatalf("resolve URL %s", url)
	}
}

// Package pull installs real model artifacts. ONNX models come from a
// Hugging Face hub (huggingface.co, a mirror, or HF_ENDPOINT) into the model
// directory the engine loads from: resumable, verified against the hub's
// size and sha256, atomic (nothing is renamed into place before it is
// verified), several files at once, with progress. LLMs are pulled by their
// runtime through the engine.LLMPuller hook.
package pull

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/models/onnxdir"
)

// Puller downloads model files from a hub. The zero value, with a Hub,
// pulls one file at a time, without retries, silently.
type Puller struct {
	Hub Hub
	// Concurrency is how many files download at once (default 1).
	Concurrency int
	// Retries is how many more attempts a file gets after a dropped
	// connection, a stall or a server error; each resumes where the last
	// one stopped.
	Retries int
	// RetryDelay is the first pause between attempts, doubled each time
	// (default 1s).
	RetryDelay time.Duration
	// StallTimeout abandons an attempt that receives nothing for this long
	// (default 30s).
	StallTimeout time.Duration
	// Progress follows the transfers; nil means Silent.
	Progress Progress
}

// Result says what a pull did.
type Result struct {
	Manifest   *Manifest
	Downloaded []string
	UpToDate   []string
	// ReplacedSynthetic is set when the directory held `models synth`
	// artifacts, which were removed once the real files were verified.
	ReplacedSynthetic bool
}

// Pull brings req's files into req.Dir. It asks the hub about every file
// first (so a missing file or a refused token fails before anything is
// written), pins the commit the revision resolves to, skips files already
// verified, downloads the rest into partial files, and renames them into
// place only when every one is verified, config.json last. A failed pull
// leaves the directory as it was, plus partial files the next pull resumes.
func (p Puller) Pull(ctx context.Context, req Request) (*Result, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	metas, err := p.statAll(ctx, req)
	if err != nil {
		return nil, err
	}
	release, err := lockDir(req.Dir)
	if err != nil {
		return nil, err
	}
	defer release()
	synthetic, err := onnxdir.IsSynthetic(req.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Dir, err)
	}
	old, err := ReadManifest(req.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if old != nil && (old.Repo != req.Repo || synthetic) {
		old = nil
	}
	res := &Result{ReplacedSynthetic: synthetic}
	var need []FileMeta
	for _, m := range metas {
		if !synthetic && upToDate(req.Dir, m, old) {
			res.UpToDate = append(res.UpToDate, m.Path)
			p.progress().Update(m.Path, m.Size, m.Size)
			p.progress().Done(m.Path, nil)
			continue
		}
		need = append(need, m)
	}
	if err := p.downloadAll(ctx, req.Dir, need); err != nil {
		return nil, err
	}
	if synthetic {
		if err := removeSynthetic(req.Dir); err != nil {
			return nil, err
		}
	}
	if err := install(req.Dir, need); err != nil {
		return nil, err
	}
	for _, m := range need {
		res.Downloaded = append(res.Downloaded, m.Path)
	}
	res.Manifest = p.manifest(req, metas, old)
	if err := writeManifest(req.Dir, res.Manifest); err != nil {
		return nil, err
	}
	return res, nil
}

func (p Puller) progress() Progress {
	if p.Progress == nil {
		return Silent
	}
	return p.Progress
}

// statAll asks the hub about every file. The first answer pins the commit,
// so every file comes from the same snapshot even if the branch moves.
func (p Puller) statAll(ctx context.Context, req Request) ([]FileMeta, error) {
	metas := make([]FileMeta, len(req.Files))
	errs := make([]error, len(req.Files))
	stat := func(i int, revision string) {
		errs[i] = p.retry(ctx, req.Files[i], func() (err error) {
			metas[i], err = p.Hub.Stat(ctx, req.Repo, revision, req.Files[i])
			return err
		})
	}
	stat(0, req.Revision)
	if errs[0] != nil {
		return nil, errs[0]
	}
	pinned := req.Revision
	if c := metas[0].Commit; c != "" {
		pinned = c
	}
	p.parallel(len(req.Files)-1, func(i int) { stat(i+1, pinned) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return metas, nil
}

// upToDate reports whether the file at m's place already holds m's bytes:
// recorded by an earlier pull with the same ETag, or hashing to m's sha256.
func upToDate(dir string, m FileMeta, old *Manifest) bool {
	path := localPath(dir, m.Path)
	info, err := os.Lstat(path)
	if err != nil || !info.Mode().IsRegular() || info.Size() != m.Size {
		return false
	}
	if rec, ok := old.file(m.Path); ok && m.ETag != "" && rec.ETag == m.ETag && rec.Size == m.Size {
		return true
	}
	if m.SHA256 == "" {
		return false
	}
	sum, err := fileSHA256(path)
	return err == nil && sum == m.SHA256
}

func (p Puller) downloadAll(ctx context.Context, dir string, need []FileMeta) error {
	stall := p.StallTimeout
	if stall <= 0 {
		stall = 30 * time.Second
	}
	errs := make([]error, len(need))
	p.parallel(len(need), func(i int) {
		m := need[i]
		errs[i] = p.retry(ctx, m.Path, func() error { return p.Hub.fetch(ctx, dir, m, stall, p.progress()) })
		p.progress().Done(m.Path, errs[i])
	})
	return errors.Join(errs...)
}

// parallel runs do(0..n-1) on at most Concurrency goroutines.
func (p Puller) parallel(n int, do func(i int)) {
	sem := make(chan struct{}, max(p.Concurrency, 1))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			do(i)
		})
	}
	wg.Wait()
}

// RetryNotifier is an optional Progress method: it is told when name's
// transfer failed and is tried again after wait.
type RetryNotifier interface {
	Retrying(name string, err error, wait time.Duration)
}

// retry runs op on name until it succeeds, fails for good, or runs out of
// attempts.
func (p Puller) retry(ctx context.Context, name string, op func() error) error {
	delay := p.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || !isRetryable(err) || attempt >= p.Retries || ctx.Err() != nil {
			return err
		}
		wait := min(delay<<attempt, 30*time.Second)
		if n, ok := p.progress().(RetryNotifier); ok {
			n.Retrying(name, err, wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

// removeSynthetic deletes what `models synth` left in dir, keeping partial
// downloads, so no synthetic file outlives a real pull (a leftover weight
// file would otherwise be served as real).
func removeSynthetic(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir {
				dirs = append(dirs, path)
			}
			return nil
		}
		if strings.HasSuffix(path, partialSuffix) || d.Name() == lockName {
			return nil
		}
		return os.Remove(path)
	})
	if err != nil {
		return fmt.Errorf("removing synthetic artifacts: %w", err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // fails, as wanted, for directories still holding partials
	}
	return nil
}

// install renames verified partial files into place. config.json goes last:
// the engine reads it first, and it decides whether the model is synthetic.
func install(dir string, files []FileMeta) error {
	order := slices.Clone(files)
	slices.SortStableFunc(order, func(a, b FileMeta) int {
		return boolInt(a.Path == "config.json") - boolInt(b.Path == "config.json")
	})
	parents := map[string]bool{}
	for _, m := range order {
		final := localPath(dir, m.Path)
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return err
		}
		if err := os.Rename(final+partialSuffix, final); err != nil {
			return err
		}
		parents[filepath.Dir(final)] = true
	}
	for parent := range parents {
		if err := syncDir(parent); err != nil {
			return err
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// manifest merges this pull's files over the records of earlier pulls of
// the same repository (another variant, say).
func (p Puller) manifest(req Request, metas []FileMeta, old *Manifest) *Manifest {
	endpoint := p.Hub.Endpoint
	if u, err := url.Parse(endpoint); err == nil {
		endpoint = u.Redacted()
	}
	m := &Manifest{Repo: req.Repo, Revision: req.Revision, Commit: metas[0].Commit, Endpoint: endpoint, PulledAt: time.Now().UTC()}
	byPath := map[string]ManifestFile{}
	if old != nil {
		for _, f := range old.Files {
			byPath[f.Path] = f
		}
	}
	for _, f := range metas {
		byPath[f.Path] = ManifestFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256, ETag: f.ETag, Commit: f.Commit}
	}
	for _, f := range byPath {
		m.Files = append(m.Files, f)
	}
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return strings.Compare(a.Path, b.Path) })
	return m
}

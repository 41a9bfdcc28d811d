package pull

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/edgeinfer/edgeinfer/engine"
)

// DefaultRevision is the branch pulled when none is named.
const DefaultRevision = "main"

// Request is one model's pull.
type Request struct {
	// Model names the model in messages.
	Model string
	// Repo is the hub repository, owner/name.
	Repo string
	// Revision is a branch, tag or commit; DefaultRevision when empty.
	Revision string
	// Variant is the weight variant the files belong to (for messages).
	Variant string
	// Dir is the model directory the files go to.
	Dir string
	// Files are repository paths; each lands at the same path under Dir.
	Files []string
}

// ForModel is the pull of spec's model: the catalog's hf_repo, its shared
// files and the weight files of variant (the configured variant when
// empty), into spec.Dir(). Every path is checked before anything is asked
// of the hub.
func ForModel(spec engine.ModelSpec, variant string) (Request, error) {
	e := spec.Entry
	a := e.Artifacts
	if a.HFRepo == "" {
		return Request{}, fmt.Errorf("%s has no hub repository in the catalog (artifacts.hf_repo); put its files in %s by hand", e.ID, spec.Dir())
	}
	if variant == "" {
		variant = spec.Variant()
	}
	weights, ok := a.Variants[variant]
	if !ok {
		have := make([]string, 0, len(a.Variants))
		for v := range a.Variants {
			have = append(have, v)
		}
		sort.Strings(have)
		return Request{}, fmt.Errorf("%s has no %q variant (have %v)", e.ID, variant, have)
	}
	var files []string
	for _, f := range append(slices.Clone(a.Files), weights...) {
		if !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	req := Request{Model: e.ID, Repo: a.HFRepo, Revision: DefaultRevision, Variant: variant, Dir: spec.Dir(), Files: files}
	if err := req.check(); err != nil {
		return Request{}, fmt.Errorf("%s: catalog artifacts: %w", e.ID, err)
	}
	return req, nil
}

func (r *Request) check() error {
	if r.Revision == "" {
		r.Revision = DefaultRevision
	}
	if err := CheckRepo(r.Repo); err != nil {
		return err
	}
	if r.Revision == "." || r.Revision == ".." {
		return fmt.Errorf("%q is not a revision", r.Revision)
	}
	if r.Dir == "" {
		return errors.New("no model directory")
	}
	if len(r.Files) == 0 {
		return errors.New("no files to pull")
	}
	seen := map[string]bool{}
	for _, f := range r.Files {
		if err := CheckPath(f); err != nil {
			return err
		}
		if f == ManifestName {
			return fmt.Errorf("file path %q is reserved for edgeinfer's manifest", f)
		}
		if seen[f] {
			return fmt.Errorf("file %q is listed twice", f)
		}
		seen[f] = true
	}
	return nil
}

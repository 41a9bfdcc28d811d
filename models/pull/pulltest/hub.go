// Package pulltest serves files in the Hugging Face hub layout for tests:
// resolve URLs with the hub's metadata headers, LFS files behind a redirect
// to a CDN path, byte ranges, and faults injected per file.
package pulltest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/synth"
)

// Commit is the commit every revision of a test hub resolves to.
const Commit = "0123456789abcdef0123456789abcdef01234567"

// File is one file of the repository.
type File struct {
	Data []byte
	// LFS files are announced by sha256 and served from the CDN path, as the
	// hub does for large files; others carry a git blob ETag.
	LFS bool
}

// Fault changes how one file's content is served.
type Fault struct {
	// Missing answers 404 with X-Error-Code EntryNotFound.
	Missing bool
	// CutAfter > 0 with Cuts > 0: the next Cuts downloads send CutAfter bytes
	// of the body, then drop the connection.
	CutAfter int64
	Cuts     int
	// Stall sends CutAfter bytes, then nothing until the client goes away.
	Stall bool
	// Corrupt serves altered bytes under the true size and hash.
	Corrupt bool
	// IgnoreRange answers range requests with the whole file and 200.
	IgnoreRange bool
}

// Request is a request the hub received.
type Request struct {
	Method, Path, Range, Authorization string
}

// Hub is a running test hub for one repository.
type Hub struct {
	// URL is the endpoint, for HF_ENDPOINT or pull.Hub.Endpoint.
	URL  string
	Repo string

	mu       sync.Mutex
	files    map[string]File
	others   map[string]map[string]File // further repositories (AddRepo)
	faults   map[string]*Fault
	aliases  map[string]bool
	requests []Request
	closed   chan struct{}
}

// New serves files as repository repo until the test ends.
func New(t testing.TB, repo string, files map[string]File) *Hub {
	h := &Hub{Repo: repo, files: files, others: map[string]map[string]File{}, faults: map[string]*Fault{}, aliases: map[string]bool{}, closed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/{owner}/{name}/resolve/{rev}/{path...}", h.resolve)
	mux.HandleFunc("/cdn/{sha}", h.cdn)
	srv := httptest.NewServer(mux)
	h.URL = srv.URL
	t.Cleanup(func() {
		close(h.closed) // releases stalled handlers, which Close waits for
		srv.Close()
	})
	return h
}

// AddRepo serves files as a further repository, for pulls that fetch
// from two (faults and aliases stay the main repository's).
func (h *Hub) AddRepo(repo string, files map[string]File) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.others[repo] = files
}

// SetFault sets the fault of one file.
func (h *Hub) SetFault(path string, f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults[path] = &f
}

// Alias makes old a renamed name of the repository: the hub answers with a
// relative redirect to the current name.
func (h *Hub) Alias(old string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.aliases[old] = true
}

// Requests returns the requests received so far and forgets them.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.requests
	h.requests = nil
	return r
}

func (h *Hub) record(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, Request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), Authorization: r.Header.Get("Authorization")})
}

func (h *Hub) resolve(w http.ResponseWriter, r *http.Request) {
	h.record(r)
	repo := r.PathValue("owner") + "/" + r.PathValue("name")
	rev, path := r.PathValue("rev"), r.PathValue("path")
	h.mu.Lock()
	alias := h.aliases[repo]
	files, known := h.files, repo == h.Repo
	if other, ok := h.others[repo]; ok {
		files, known = other, true
	}
	f, ok := files[path]
	fault := h.faults[path]
	h.mu.Unlock()
	switch {
	case alias:
		http.Redirect(w, r, strings.Replace(r.URL.Path, "/"+repo+"/", "/"+h.Repo+"/", 1), http.StatusTemporaryRedirect)
		return
	case !known:
		hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return
	case rev != "main" && rev != Commit:
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	case !ok || fault != nil && fault.Missing:
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	w.Header().Set("X-Repo-Commit", Commit)
	if f.LFS {
		sum := sha256.Sum256(f.Data)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.Data)))
		w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("ETag", `"`+gitBlobID([]byte("version https://git-lfs.github.com/spec/v1\n"))+`"`)
		w.Header().Set("Location", fmt.Sprintf("%s/cdn/%x?X-Amz-Signature=test", h.URL, sum))
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitBlobID(f.Data)+`"`)
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
		return
	}
	h.serve(w, r, path, f.Data)
}

func (h *Hub) cdn(w http.ResponseWriter, r *http.Request) {
	h.record(r)
	h.mu.Lock()
	var path string
	var data []byte
	for _, files := range append([]map[string]File{h.files}, slices.Collect(maps.Values(h.others))...) {
		for p, f := range files {
			if sum := sha256.Sum256(f.Data); f.LFS && hex.EncodeToString(sum[:]) == r.PathValue("sha") {
				path, data = p, f.Data
			}
		}
	}
	h.mu.Unlock()
	if data == nil {
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, path, data)
}

// serve writes data, honouring "Range: bytes=N-" and the file's fault.
func (h *Hub) serve(w http.ResponseWriter, r *http.Request, path string, data []byte) {
	h.mu.Lock()
	var fault Fault
	if f := h.faults[path]; f != nil {
		fault = *f
		if f.Cuts > 0 {
			f.Cuts--
		}
	}
	h.mu.Unlock()
	status, start := http.StatusOK, 0
	if rg := r.Header.Get("Range"); rg != "" && !fault.IgnoreRange {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || n >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		status, start = http.StatusPartialContent, n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	if fault.Corrupt {
		body = append([]byte(nil), body...)
		body[len(body)/2] ^= 0xff
	}
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if cut := int(fault.CutAfter); (fault.Cuts > 0 || fault.Stall) && cut < len(body) {
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		if fault.Stall {
			select {
			case <-r.Context().Done():
			case <-h.closed:
			}
			return
		}
		panic(http.ErrAbortHandler) // drops the connection mid-body
	}
	w.Write(body)
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", msg)
	w.WriteHeader(status)
}

// gitBlobID is the ID git gives a file's content, which the hub sends as the
// ETag of files kept in git.
func gitBlobID(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// FromDir reads every file under dir as a repository file; lfs says which
// are LFS files.
func FromDir(t testing.TB, dir string, lfs func(path string) bool) map[string]File {
	t.Helper()
	files := map[string]File{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		rel = filepath.ToSlash(rel)
		files[rel] = File{Data: data, LFS: lfs(rel)}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Unmark removes edgeinfer's synthetic marker from config.json, so the
// files look like a real repository's.
func Unmark(t testing.TB, files map[string]File) {
	t.Helper()
	f, ok := files["config.json"]
	if !ok {
		t.Fatal("no config.json to unmark")
	}
	var cfg map[string]any
	if err := json.Unmarshal(f.Data, &cfg); err != nil {
		t.Fatal(err)
	}
	delete(cfg, synth.MarkerKey)
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	f.Data = data
	files["config.json"] = f
}

package calibrate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// formatVersion changes when the probes or the table's meaning change, so
// tables measured by an older edgeinfer are measured again.
const formatVersion = 2 // 2: a sweep ends after two slower shapes in a row, not one

// Key is what a measurement depends on. A cached table is used only when
// every field equals the current one (file digests by name and sha256).
type Key struct {
	Format int    `json:"format"`
	Model  string `json:"model"`
	// Device is cpu or cuda:N.
	Device string       `json:"device"`
	Files  []FileDigest `json:"files"`
	CPU    string       `json:"cpu"`
	Flags  string       `json:"flags"`
	// Threads is the CPUs the process may use; IntraOpThreads the
	// configured per-session threads (0: calibration picks them).
	Threads        int    `json:"threads"`
	IntraOpThreads int    `json:"intra_op_threads"`
	Runtime        string `json:"runtime"`
}

// FileDigest is one model file's sha256. Size and ModTime let the next
// start reuse the digest without reading a large file again.
type FileDigest struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mod_time_ns"`
	SHA256  string `json:"sha256"`
}

// Matches reports whether a cached table measured under k holds for cur,
// and if not, why.
func (k Key) Matches(cur Key) (bool, string) {
	switch {
	case k.Format != cur.Format:
		return false, "measured by another edgeinfer version"
	case k.Model != cur.Model || k.Device != cur.Device:
		return false, "measured for another model or device"
	case k.CPU != cur.CPU || k.Flags != cur.Flags:
		return false, "measured on another CPU"
	case k.Threads != cur.Threads || k.IntraOpThreads != cur.IntraOpThreads:
		return false, "measured with another thread count"
	case k.Runtime != cur.Runtime:
		return false, "measured with another ONNX Runtime"
	case !slices.EqualFunc(k.Files, cur.Files, func(a, b FileDigest) bool { return a.Name == b.Name && a.SHA256 == b.SHA256 }):
		return false, "the model files changed"
	}
	return true, ""
}

// SessionFiles are the files of the ONNX graph at path: the graph and its
// external data beside it (model.onnx_data and the like).
func SessionFiles(path string) []string {
	files := []string{path}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(filepath.Base(path))+"?*"))
	for _, m := range matches {
		if !strings.HasSuffix(m, ".onnx") {
			files = append(files, m)
		}
	}
	return files
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// digests returns the files' digests, named relative to dir, reusing a
// previous digest whose name, size and modification time are unchanged.
func digests(dir string, files []string, previous []FileDigest) ([]FileDigest, error) {
	known := map[string]FileDigest{}
	for _, d := range previous {
		known[d.Name] = d
	}
	out := make([]FileDigest, 0, len(files))
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		name, err := filepath.Rel(dir, f)
		if err != nil || strings.HasPrefix(name, "..") {
			name = filepath.Base(f)
		}
		d := FileDigest{Name: filepath.ToSlash(name), Size: info.Size(), ModTime: info.ModTime().UnixNano()}
		if old, ok := known[d.Name]; ok && old.Size == d.Size && old.ModTime == d.ModTime && old.SHA256 != "" {
			d.SHA256 = old.SHA256
		} else if d.SHA256, err = hashFile(f); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", filepath.Base(path), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

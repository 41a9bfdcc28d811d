package pull

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ManifestName is the file a pull leaves in the model directory. Its
// presence says the artifacts came from a hub, not from `models synth`.
const ManifestName = "edgeinfer-pull.json"

// Manifest records where a model directory's files came from.
type Manifest struct {
	Repo     string `json:"repo"`
	Revision string `json:"revision"`
	// Commit is the commit the revision resolved to at the last pull.
	Commit   string         `json:"commit,omitempty"`
	Endpoint string         `json:"endpoint"`
	PulledAt time.Time      `json:"pulled_at"`
	Files    []ManifestFile `json:"files"`
}

// ManifestFile is one verified file.
type ManifestFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA256 is set for LFS files, whose content hash the hub gives.
	SHA256 string `json:"sha256,omitempty"`
	ETag   string `json:"etag,omitempty"`
	Commit string `json:"commit,omitempty"`
}

// Bytes is the total size of the recorded files.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// file returns the record of path, if any.
func (m *Manifest) file(path string) (ManifestFile, bool) {
	if m == nil {
		return ManifestFile{}, false
	}
	for _, f := range m.Files {
		if f.Path == path {
			return f, true
		}
	}
	return ManifestFile{}, false
}

// ReadManifest reads dir's pull manifest; the error wraps fs.ErrNotExist
// when the directory was never pulled into.
func ReadManifest(dir string) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	return &m, nil
}

// writeManifest replaces dir's manifest atomically.
func writeManifest(dir string, m *Manifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ManifestName+".*"+partialSuffix)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes it private
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, ManifestName))
}

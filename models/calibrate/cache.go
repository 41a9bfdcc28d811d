package calibrate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Result is one model's calibration as cached: what it was measured under,
// the table and the choice.
type Result struct {
	Key    Key       `json:"key"`
	Table  []Row     `json:"table"`
	Choice Choice    `json:"choice"`
	At     time.Time `json:"measured_at"`
	// Took is how long the measurement ran.
	Took time.Duration `json:"took_ns"`
}

// Dir is where the calibration tables live under a home.
func Dir(home string) string { return filepath.Join(home, "state", "calibration") }

// Path is the cache file of one model on one device.
func Path(home, model, device string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			return r
		}
		return '_'
	}, strings.TrimPrefix(model, "@"))
	return filepath.Join(Dir(home), name+"@"+strings.ReplaceAll(device, ":", "-")+".json")
}

// Read loads a cached result; a missing, unreadable or corrupt file is an
// error (the caller measures again).
func Read(path string) (Result, error) {
	var r Result
	raw, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("corrupt calibration file %s: %w", filepath.Base(path), err)
	}
	if r.Key.Format == 0 || !r.Choice.valid() {
		return r, fmt.Errorf("corrupt calibration file %s: no key or choice", filepath.Base(path))
	}
	return r, nil
}

// write stores r atomically (a temporary file renamed over the old one), so
// a crash never leaves half a table.
func write(path string, r Result) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".calibration-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

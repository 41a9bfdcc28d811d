package calibrate

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead: any bytes in a cache file are read without a panic, and a
// file Read accepts has a key and a usable choice.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"key": {"format": 1, "model": "@cf/x/y"}, "choice": {"max_batch_size": 8}, "table": [{"stage": "short", "rows": 8, "items_per_sec": 3}]}`))
	f.Add([]byte(`{"key": {"format": 1}, "choice": {"max_batch_size": -1, "instances": 2}}`))
	f.Add([]byte(`{"key": null}`))
	f.Add([]byte(`[`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte) {
		path := filepath.Join(dir, "c.json")
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Read(path)
		if err == nil && (r.Key.Format == 0 || !r.Choice.valid()) {
			t.Fatalf("accepted %q as %+v", raw, r)
		}
	})
}

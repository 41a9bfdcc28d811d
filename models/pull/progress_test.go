package pull

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1.0 kB", 711_475: "711.5 kB",
		133_000_000: "133.0 MB", 1_340_000_000: "1.3 GB", 2_500_000_000_000: "2.5 TB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBarLine(t *testing.T) {
	for _, c := range []struct {
		name        string
		done, total int64
		want        string
	}{
		{"a", 0, 100, "a     [>                       ]   0%"},
		{"a", 50, 100, "a     [============>           ]  50%"},
		{"a", 100, 100, "a     [========================] 100%"},
		{"empty", 0, 0, "empty [========================] 100%"},
		{"onnx/a-very-long-file-name.onnx", 1, 2, "...-name.onnx [============>           ]  50%"},
	} {
		width := 5
		if len(c.name) > 20 {
			width = 13
		}
		if got := barLine(width, c.name, c.done, c.total, "tail"); !strings.HasPrefix(got, c.want) || !strings.HasSuffix(got, " tail") {
			t.Errorf("barLine(%q, %d, %d) = %q, want prefix %q", c.name, c.done, c.total, got, c.want)
		}
	}
}

func TestPlainDisplay(t *testing.T) {
	var buf bytes.Buffer
	d := NewDisplay(&buf, false, time.Hour)
	d.Update("onnx/model.onnx", 0, 2000)
	d.Update("config.json", 700, 700)
	d.Done("config.json", nil)
	d.Update("tokenizer.json", 500, 1000)
	d.Update("onnx/model.onnx", 2000, 2000)
	d.Done("onnx/model.onnx", nil)
	d.Done("tokenizer.json", errors.New("connection reset"))
	d.mu.Lock()
	d.status() // what the ticker prints: nothing is active any more
	d.mu.Unlock()
	d.Close()
	want := []string{
		"onnx/model.onnx: downloading 2.0 kB",
		"config.json: already complete (700 B)",
		"tokenizer.json: resuming at 500 B of 1.0 kB",
		"onnx/model.onnx: done, 2.0 kB in ",
		"tokenizer.json: failed: connection reset",
		"total: 3.2 kB of 3.7 kB, 3 files, in ",
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("plain display printed:\n%s", buf.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestPlainDisplayStatus(t *testing.T) {
	var buf bytes.Buffer
	d := NewDisplay(&buf, false, time.Hour)
	defer d.Close()
	d.Update("a", 250, 1000)
	buf.Reset()
	d.mu.Lock()
	d.status()
	d.mu.Unlock()
	if got := buf.String(); !strings.HasPrefix(got, "a: 25% 250 B of 1.0 kB, ") || !strings.Contains(got, "\ntotal: 25% 250 B of 1.0 kB, 0/1 files done\n") {
		t.Fatalf("status lines:\n%s", got)
	}
}

// A live frame redraws over the previous one: it moves up as many lines as
// it drew before.
func TestLiveDisplayRedrawsInPlace(t *testing.T) {
	var buf bytes.Buffer
	d := NewDisplay(&buf, true, time.Hour)
	d.Update("a", 10, 100)
	d.Update("b", 0, 50)
	d.mu.Lock()
	d.redraw()
	d.mu.Unlock()
	if first := buf.String(); regexp.MustCompile(`\x1b\[\d+A`).MatchString(first) || strings.Count(first, "\n") != 3 {
		t.Fatalf("first frame moves the cursor up: %q", first)
	}
	buf.Reset()
	d.Update("a", 100, 100)
	d.Done("a", nil)
	d.Update("b", 50, 50)
	d.Done("b", nil)
	d.Close()
	frame := buf.String()
	if !strings.HasPrefix(frame, "\r\x1b[3A") || strings.Count(frame, "\x1b[2K") != 3 || !strings.Contains(frame, "2/2 files") {
		t.Fatalf("final frame %q", frame)
	}
}

func TestCheckPath(t *testing.T) {
	for p, ok := range map[string]bool{
		"config.json": true, "onnx/model.onnx": true, "a..b/c": true, "1_Pooling/config.json": true,
		"": false, "../x": false, "a/../b": false, "a/..": false, "/etc/passwd": false, "./a": false,
		"a//b": false, "a/": false, `a\b`: false, "a\x00b": false, ".": false,
	} {
		if err := CheckPath(p); (err == nil) != ok {
			t.Errorf("CheckPath(%q) = %v", p, err)
		}
	}
	for r, ok := range map[string]bool{
		"Xenova/bge-small-en-v1.5": true, "BAAI/bge-base-en-v1.5": true,
		"bge": false, "a/b/c": false, "../b": false, "a/..": false, "a/b..c": false, "/a/b": false,
	} {
		if err := CheckRepo(r); (err == nil) != ok {
			t.Errorf("CheckRepo(%q) = %v", r, err)
		}
	}
}

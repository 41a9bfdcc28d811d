package imageprep

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// sampledAnswer is Pillow's decode of a larger test picture, kept small:
// the SHA-256 of all its RGB bytes and every 16th row (pillow/sampled.json).
type sampledAnswer struct {
	Width, Height int
	SHA256        string
	Rows          map[string]string
}

func readSampled(t *testing.T) map[string]sampledAnswer {
	t.Helper()
	raw, err := os.ReadFile("testdata/pillow/sampled.json")
	if err != nil {
		t.Fatalf("%v: run testdata/generate.py", err)
	}
	var m map[string]sampledAnswer
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// check compares a decode with Pillow's: every byte with libjpeg-turbo,
// the sampled rows within Go's tolerance (TestDecodeMatchesPillow) without.
func (s sampledAnswer) check(t *testing.T, got *RGB) {
	t.Helper()
	if got.W != s.Width || got.H != s.Height {
		t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, s.Width, s.Height)
	}
	if len(s.Rows) < 5 {
		t.Fatalf("only %d sampled rows", len(s.Rows))
	}
	rowsGot, rowsWant := &RGB{W: got.W}, &RGB{W: got.W}
	for ys, b64 := range s.Rows {
		y, err := strconv.Atoi(ys)
		if err != nil {
			t.Fatal(err)
		}
		want, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(want) != 3*got.W {
			t.Fatalf("row %s: %d bytes (%v)", ys, len(want), err)
		}
		rowsGot.Pix = append(rowsGot.Pix, got.Pix[3*y*got.W:3*(y+1)*got.W]...)
		rowsWant.Pix = append(rowsWant.Pix, want...)
		rowsGot.H++
		rowsWant.H++
	}
	maxDiff, exact := diff(t, rowsGot, rowsWant)
	if !haveLibjpeg {
		t.Logf("JPEG (%s), sampled rows: up to %d levels from libjpeg-turbo, %.1f%% of pixels exact", JPEGDecoder(), maxDiff, 100*exact)
		if maxDiff > 3 || exact < 0.85 {
			t.Errorf("JPEG differs from libjpeg-turbo by up to %d levels, %.1f%% of pixels exact", maxDiff, 100*exact)
		}
		return
	}
	if maxDiff != 0 {
		t.Errorf("sampled rows differ from Pillow by up to %d levels (%.1f%% of pixels exact)", maxDiff, 100*exact)
	}
	if sum := sha256.Sum256(got.Pix); hex.EncodeToString(sum[:]) != s.SHA256 {
		t.Errorf("pixels differ from Pillow's (SHA-256 %x, want %s)", sum, s.SHA256)
	}
}

func TestJPEGDecoderIsNamed(t *testing.T) {
	name := JPEGDecoder()
	t.Logf("JPEG decoder: %s", name)
	want := "libjpeg-turbo 2"
	if !haveLibjpeg {
		want = "libjpeg-dev"
	}
	if !strings.Contains(name, want) {
		t.Fatalf("JPEGDecoder() = %q, want it to mention %q", name, want)
	}
}

// Files Pillow refuses as truncated (pillow/refused.json says what it
// said) are refused as corrupt: libjpeg pads missing data with grey and
// carries on unless told otherwise.
func TestJPEGRefusedLikePillow(t *testing.T) {
	raw, err := os.ReadFile("testdata/pillow/refused.json")
	if err != nil {
		t.Fatalf("%v: run testdata/generate.py", err)
	}
	var pillow map[string]string
	if err := json.Unmarshal(raw, &pillow); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/refused/*")
	if len(files) < 5 || len(files) != len(pillow) {
		t.Fatalf("%d files in testdata/refused, %d answers from Pillow: run testdata/generate.py", len(files), len(pillow))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			if pillow[name] == "" {
				t.Fatalf("no answer from Pillow for %s", name)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			img, err := Decode(data, Limits{})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "jpeg") {
				t.Fatalf("got %v (image %v), want ErrCorrupt as Pillow's %q", err, img != nil, pillow[name])
			}
			t.Logf("Pillow: %s; edgeinfer: %v", pillow[name], err)
		})
	}
}

// Every truncation of a JPEG is refused as corrupt, never decoded with
// padding and never a crash.
func TestJPEGEveryPrefixRefused(t *testing.T) {
	for _, name := range []string{"j420.jpg", "jprogressive.jpg", "jrestart_blocks.jpg", "jcmyk.jpg", "jgray.jpg"} {
		data, err := os.ReadFile(filepath.Join("testdata/images", name))
		if err != nil {
			t.Fatal(err)
		}
		for n := 2; n < len(data); n++ { // from the SOI marker on
			if _, err := Decode(data[:n], Limits{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s cut to %d of %d bytes: got %v, want ErrCorrupt", name, n, len(data), err)
			}
		}
	}
}

// jpegSegments splits a JPEG into its marker segments; a start-of-scan
// segment carries its entropy-coded data with it.
func jpegSegments(t *testing.T, d []byte) [][]byte {
	t.Helper()
	var segs [][]byte
	i := 2 // SOI
	for i+4 <= len(d) && d[i] == 0xFF && d[i+1] != 0xD9 {
		end := i + 2 + int(binary.BigEndian.Uint16(d[i+2:]))
		if d[i+1] == 0xDA { // scan data runs to the next marker that is not a restart or stuffed 0
			for end+1 < len(d) && (d[end] != 0xFF || d[end+1] == 0 || (d[end+1] >= 0xD0 && d[end+1] <= 0xD7)) {
				end++
			}
		}
		segs = append(segs, d[i:end])
		i = end
	}
	if !bytes.Equal(d[i:], []byte{0xFF, 0xD9}) {
		t.Fatalf("unexpected bytes at %d: % x", i, d[i:min(i+4, len(d))])
	}
	return segs
}

// withSOF changes the size a JPEG's frame header declares.
func withSOF(t *testing.T, d []byte, w, h uint16) []byte {
	t.Helper()
	out := bytes.Clone(d)
	for i := 2; i+9 <= len(out); {
		if out[i+1] == 0xC0 || out[i+1] == 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + int(binary.BigEndian.Uint16(out[i+2:]))
	}
	t.Fatal("no SOF0/SOF2 segment")
	return nil
}

// The size check comes from the header, before the pixels are allocated
// or the coefficient buffer of a progressive file is.
func TestJPEGBombRefusedBeforeDecoding(t *testing.T) {
	for _, name := range []string{"j420.jpg", "jprogressive.jpg"} {
		data, err := os.ReadFile(filepath.Join("testdata/images", name))
		if err != nil {
			t.Fatal(err)
		}
		bomb := withSOF(t, data, 60000, 60000)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = Decode(bomb, Limits{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "60000×60000") {
			t.Fatalf("%s: got %v, want ErrTooLarge naming 60000×60000", name, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Fatalf("%s: refusing a bomb allocated %d bytes", name, grew)
		}
	}
}

// A progressive file that repeats a scan hundreds of times costs a pass
// over the image per scan; libjpeg-turbo decodes it, edgeinfer refuses it.
func TestJPEGTooManyScans(t *testing.T) {
	data, err := os.ReadFile("testdata/images/jprogressive.jpg")
	if err != nil {
		t.Fatal(err)
	}
	segs := jpegSegments(t, data)
	var firstScan []byte
	out := []byte{0xFF, 0xD8}
	for _, s := range segs {
		out = append(out, s...)
		if s[1] == 0xDA && firstScan == nil {
			firstScan = s
		}
	}
	for range 600 {
		out = append(out, firstScan...)
	}
	out = append(out, 0xFF, 0xD9)
	_, err = Decode(out, Limits{})
	if !haveLibjpeg {
		t.Logf("%s: %v", JPEGDecoder(), err) // Go's decoder has no scan limit
		return
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("got %v, want ErrCorrupt about scans", err)
	}
	// The same file with its scans once each is fine.
	if _, err := Decode(data, Limits{}); err != nil {
		t.Fatal(err)
	}
}

// draftAnswer is one of Pillow's draft-then-resize results (pillow/draft.json).
type draftAnswer struct {
	Image         string
	Width, Height int
	Scale         int
	Decoded       [2]int
	Box           [4]float64
	Pillow        string
}

// With DCTScaling, a processor decodes a JPEG at the scale Pillow's draft
// picks for its resize target and resizes from the same box: the result
// matches Pillow's draft + exif_transpose + resize(box=) bit for bit.
func TestDCTScalingMatchesPillowDraft(t *testing.T) {
	raw, err := os.ReadFile("testdata/pillow/draft.json")
	if err != nil {
		t.Fatalf("%v: run testdata/generate.py", err)
	}
	var answers []draftAnswer
	if err := json.Unmarshal(raw, &answers); err != nil {
		t.Fatal(err)
	}
	scales := map[int]bool{}
	for _, a := range answers {
		scales[a.Scale] = true
		t.Run(a.Pillow, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/images", a.Image))
			if err != nil {
				t.Fatal(err)
			}
			p := &Processor{Resample: Bilinear, Width: a.Width, Height: a.Height, DCTScaling: true}
			img, err := p.Decode(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !haveLibjpeg {
				if img.draft.scale != 0 {
					t.Fatalf("Go's decoder reported DCT scale %d", img.draft.scale)
				}
				return
			}
			if got := max(img.draft.scale, 1); got != a.Scale || img.W != a.Decoded[0] || img.H != a.Decoded[1] {
				t.Fatalf("decoded at 1/%d as %dx%d, Pillow at 1/%d as %dx%d", got, img.W, img.H, a.Scale, a.Decoded[0], a.Decoded[1])
			}
			if a.Scale > 1 {
				x0, y0, x1, y1 := img.draft.box(img.W, img.H)
				if [4]float64{x0, y0, x1, y1} != a.Box {
					t.Fatalf("box %v, Pillow's %v", [4]float64{x0, y0, x1, y1}, a.Box)
				}
			}
			dst := make([]float32, p.Len())
			if err := p.Prepare(img, dst); err != nil {
				t.Fatal(err)
			}
			want := readRGB(t, filepath.Join("testdata/pillow", a.Pillow))
			got := newRGB(a.Width, a.Height)
			plane := a.Width * a.Height
			for i := range plane {
				for c := range 3 {
					got.Pix[3*i+c] = uint8(dst[c*plane+i])
				}
			}
			if maxDiff, exact := diff(t, got, want); maxDiff != 0 {
				t.Errorf("differs from Pillow by up to %d levels (%.1f%% of pixels exact)", maxDiff, 100*exact)
			}
		})
	}
	if !scales[2] || !scales[4] || !scales[8] || !scales[1] {
		t.Fatalf("draft answers cover scales %v, want 1, 2, 4 and 8", scales)
	}
}

// DCTScaling changes nothing for formats other than JPEG, nor for a JPEG
// that is not at least twice the target.
func TestDCTScalingOnlyWhereItFits(t *testing.T) {
	p := &Processor{Resample: Bilinear, Width: 20, Height: 12, DCTScaling: true}
	for _, name := range []string{"rgba.png", "j420.jpg", "lossy.webp"} {
		data, err := os.ReadFile(filepath.Join("testdata/images", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Decode(data, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := Decode(data, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) || got.draft.scale > 1 {
			t.Errorf("%s: DCT scaling changed a %dx%d image for a 20x12 target", name, want.W, want.H)
		}
	}
}

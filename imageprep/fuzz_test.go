package imageprep

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes through the whole path a request takes,
// Decode then Prepare, seeded with every test image (testdata/images) and
// a few crafted headers. It must never panic; every failure must be an
// *Error of a known kind; every success must be a consistent image within
// the pixel limit. CI runs it briefly:
//
//	go test -run='^$' -fuzz=FuzzDecode -fuzztime=10s ./imageprep
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/images/*")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed images in testdata/images (%v)", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(pngHeader(3, 2))
	f.Add(pngHeader(0, 7))
	f.Add(zeroSizeGIF())
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8X"))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))

	// Small enough that each input decodes quickly, large enough to hold
	// every seed.
	lim := Limits{MaxPixels: 1 << 16}
	p, err := ParseHFConfig([]byte(resnetConfig))
	if err != nil {
		f.Fatal(err)
	}
	out := make([]float32, p.Len())
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, lim)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" ||
				!(errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrEmpty) || errors.Is(err, ErrTooLarge)) {
				t.Fatalf("error %q (%T) is not an *Error of a known kind", err, err)
			}
			return
		}
		if img.W <= 0 || img.H <= 0 || int64(img.W)*int64(img.H) > lim.MaxPixels || len(img.Pix) != 3*img.W*img.H {
			t.Fatalf("decoded a %dx%d image with %d bytes", img.W, img.H, len(img.Pix))
		}
		if err := p.Prepare(img, out); err != nil {
			t.Fatal(err)
		}
	})
}

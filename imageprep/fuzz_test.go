package imageprep

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes through the whole path a request takes,
// Decode then Prepare, seeded with every test image (testdata/images and
// the truncated ones in testdata/refused) and a few crafted headers. It
// must never panic or crash in C; every failure must be an *Error of a
// known kind; every success must be a consistent image within the pixel
// limit, and resize the same through the vector passes as through Go's. JPEGs go through libjpeg-turbo where the build has it
// (JPEGDecoder), twice: at full size and with DCT scaling. CI runs it
// briefly:
//
//	go test -run='^$' -fuzz=FuzzDecode -fuzztime=10s ./imageprep
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/images/*")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed images in testdata/images (%v)", err)
	}
	refused, err := filepath.Glob("testdata/refused/*")
	if err != nil || len(refused) == 0 {
		f.Fatalf("no seed images in testdata/refused (%v)", err)
	}
	files = append(files, refused...)
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
	// A target small enough that the seeds' JPEGs decode at 1/2 to 1/8.
	small := &Processor{Resample: Bilinear, Width: 8, Height: 6, DCTScaling: true}
	outSmall := make([]float32, small.Len())
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, lim)
		if !checkFuzzDecode(t, img, err, lim) {
			return
		}
		if err := p.Prepare(img, out); err != nil {
			t.Fatal(err)
		}
		checkVectorPasses(t, img)
		img, err = small.Decode(data, lim)
		if !checkFuzzDecode(t, img, err, lim) {
			t.Fatalf("decodes at full size but not for a smaller target: %v", err)
		}
		if err := small.Prepare(img, outSmall); err != nil {
			t.Fatal(err)
		}
	})
}

// checkVectorPasses compares the vector resize passes, where there are
// some, with Go's on the whole decoded image, shrunk and enlarged.
func checkVectorPasses(t *testing.T, img *RGB) {
	t.Helper()
	if horizontalPassSIMD == nil || verticalRowSIMD == nil {
		return
	}
	k, _ := Bicubic.kernel()
	for _, outW := range []int{max(1, img.W/3), 2*img.W + 1} {
		a := newAxis(img.W, 0, float64(img.W), outW, 0, outW, k)
		want, got := make([]byte, 3*outW*img.H), make([]byte, 3*outW*img.H)
		horizontalPassGo(want, img, 0, img.H, &a)
		horizontalPassSIMD(got, img, 0, img.H, &a)
		if !bytes.Equal(got, want) {
			t.Fatalf("%dx%d to width %d: the vector horizontal pass differs from Go's", img.W, img.H, outW)
		}
	}
	stride := 3 * img.W
	want, got, acc := make([]byte, stride), make([]byte, stride), make([]int32, stride)
	for _, outH := range []int{max(1, img.H/3), 2*img.H + 1} {
		a := newAxis(img.H, 0, float64(img.H), outH, 0, outH, k)
		for y := range outH {
			start, w := a.weights(y)
			verticalRow(want, img.Pix[start*stride:], stride, w, acc)
			verticalRowSIMD(got, img.Pix[start*stride:], stride, w)
			if !bytes.Equal(got, want) {
				t.Fatalf("%dx%d to height %d, row %d: the vector vertical pass differs from Go's", img.W, img.H, outH, y)
			}
		}
	}
}

// checkFuzzDecode reports whether Decode succeeded, failing the test if
// its error or image breaks Decode's contract.
func checkFuzzDecode(t *testing.T, img *RGB, err error, lim Limits) bool {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Message == "" ||
			!(errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrEmpty) || errors.Is(err, ErrTooLarge)) {
			t.Fatalf("error %q (%T) is not an *Error of a known kind", err, err)
		}
		return false
	}
	if img.W <= 0 || img.H <= 0 || int64(img.W)*int64(img.H) > lim.MaxPixels || len(img.Pix) != 3*img.W*img.H {
		t.Fatalf("decoded a %dx%d image with %d bytes", img.W, img.H, len(img.Pix))
	}
	if d := img.draft; d.scale > 1 && (d.w < img.W || d.h < img.H || (d.w+d.scale-1)/d.scale != img.W || (d.h+d.scale-1)/d.scale != img.H) {
		t.Fatalf("decoded %dx%d at 1/%d of %dx%d", img.W, img.H, d.scale, d.w, d.h)
	}
	return true
}

package imageprep

import (
	"bytes"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
)

// readRGB decodes a test file with Decode.
func readRGB(t *testing.T, path string) *RGB {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(data, Limits{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// diff compares two images: the largest per-sample difference and the
// share of pixels that are identical.
func diff(t *testing.T, got, want *RGB) (maxDiff int, exact float64) {
	t.Helper()
	if got.W != want.W || got.H != want.H {
		t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, want.W, want.H)
	}
	same := 0
	for i := 0; i < len(got.Pix); i += 3 {
		px := 0
		for c := range 3 {
			d := int(got.Pix[i+c]) - int(want.Pix[i+c])
			px = max(px, d, -d)
		}
		maxDiff = max(maxDiff, px)
		if px == 0 {
			same++
		}
	}
	return maxDiff, float64(same) / float64(got.W*got.H)
}

// TestDecodeMatchesPillow decodes every test image and compares it with
// what Pillow 9.4 made of it (testdata/generate.py). Lossless formats and
// WebP (whose lossy decoding is normative, and whose YUV conversion we
// reproduce) must match exactly, and so must JPEG when it is decoded by
// libjpeg-turbo, as Pillow's is. JPEG leaves the inverse DCT to the
// decoder: Go's (the build without cgo or with -tags nolibjpeg) differs
// from libjpeg-turbo's integer one by a level now and then, which the
// YCbCr→RGB matrix turns into at most 3 levels.
func TestDecodeMatchesPillow(t *testing.T) {
	files, err := filepath.Glob("testdata/images/*")
	if err != nil || len(files) < 25 {
		t.Fatalf("test images missing (%v): run testdata/generate.py", err)
	}
	sampled := readSampled(t)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			if why, ok := goJPEGRefuses[name]; ok && !haveLibjpeg {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := Decode(data, Limits{}); err == nil {
					t.Fatalf("Go's decoder decodes %s now (%s): test it against Pillow", name, why)
				}
				t.Logf("%s: Go's decoder refuses it (%s)", JPEGDecoder(), why)
				return
			}
			got := readRGB(t, f)
			if s, ok := sampled[name]; ok { // larger pictures: a hash and some rows
				s.check(t, got)
				return
			}
			want := readRGB(t, filepath.Join("testdata/pillow", name+".png"))
			maxDiff, exact := diff(t, got, want)
			if strings.HasSuffix(name, ".jpg") && !haveLibjpeg {
				t.Logf("JPEG (%s): up to %d levels from libjpeg-turbo, %.1f%% of pixels exact", JPEGDecoder(), maxDiff, 100*exact)
				if maxDiff > 3 || exact < 0.85 {
					t.Errorf("JPEG differs from libjpeg-turbo by up to %d levels, %.1f%% of pixels exact", maxDiff, 100*exact)
				}
				return
			}
			if maxDiff != 0 {
				t.Errorf("differs from Pillow by up to %d levels (%.1f%% of pixels exact)", maxDiff, 100*exact)
			}
		})
	}
}

// goJPEGRefuses lists the test JPEGs that Pillow and libjpeg-turbo decode
// and Go's image/jpeg does not.
var goJPEGRefuses = map[string]string{
	"jcmyk_noadobe.jpg":   "4 components without an Adobe APP14 marker",
	"jrestart_blocks.jpg": "restart markers in progressive scans of subsampled chroma: missing 0xff00 sequence",
}

// nrgbaOf converts packed RGB to an opaque NRGBA image for imaging.
func nrgbaOf(img *RGB) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for i := 0; i < img.W*img.H; i++ {
		copy(out.Pix[4*i:4*i+3], img.Pix[3*i:3*i+3])
		out.Pix[4*i+3] = 255
	}
	return out
}

// TestOrientationMatchesImaging checks every EXIF orientation against the
// transform disintegration/imaging names for it, on a lossless PNG whose
// eXIf chunk is written here.
func TestOrientationMatchesImaging(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 5, 3)) // non-square, so rotations show
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = 255
	}
	oracle := map[int]func(image.Image) *image.NRGBA{
		1: imaging.Clone, 2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV,
		5: imaging.Transpose, 6: imaging.Rotate270, 7: imaging.Transverse, 8: imaging.Rotate90,
	}
	for o := 1; o <= 8; o++ {
		var buf bytes.Buffer
		if err := png.Encode(&buf, src); err != nil {
			t.Fatal(err)
		}
		img, err := Decode(withPNGExif(buf.Bytes(), o), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want := oracle[o](src)
		if got := nrgbaOf(img); !bytes.Equal(got.Pix, want.Pix) || got.Rect != want.Rect {
			t.Errorf("orientation %d: got %v %v, want %v %v", o, got.Rect, got.Pix, want.Rect, want.Pix)
		}
	}
}

// withPNGExif inserts an eXIf chunk with the given orientation after IHDR.
func withPNGExif(p []byte, orientation int) []byte {
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(orientation), 0, 0, 0, 0, 0, 0, 0, 0}
	chunk := pngChunk("eXIf", tiff)
	const ihdrEnd = 8 + 12 + 13
	return append(append(append([]byte{}, p[:ihdrEnd]...), chunk...), p[ihdrEnd:]...)
}

func TestAlphaIsDroppedNotComposited(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(m.Pix, []byte{200, 100, 50, 0, 10, 20, 30, 128}) // invisible and half-visible
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	img, err := Decode(buf.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{200, 100, 50, 10, 20, 30}; !bytes.Equal(img.Pix, want) {
		t.Fatalf("got %v, want the colour channels as stored %v", img.Pix, want)
	}
}

func TestSixteenBitKeepsHighByte(t *testing.T) {
	m := image.NewGray16(image.Rect(0, 0, 2, 1))
	m.SetGray16(0, 0, color.Gray16{Y: 0x12ff})
	m.SetGray16(1, 0, color.Gray16{Y: 0xff00})
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	img, err := Decode(buf.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x12, 0x12, 0x12, 0xff, 0xff, 0xff}; !bytes.Equal(img.Pix, want) {
		t.Fatalf("got %v, want %v", img.Pix, want)
	}
}

func TestGIFFirstFrame(t *testing.T) {
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
	red := image.NewPaletted(image.Rect(0, 0, 2, 2), pal)
	blue := image.NewPaletted(image.Rect(0, 0, 2, 2), pal)
	for i := range blue.Pix {
		blue.Pix[i] = 1
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{red, blue}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	img, err := Decode(buf.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.Pix, bytes.Repeat([]byte{255, 0, 0}, 4)) {
		t.Fatalf("got %v, want the red first frame", img.Pix)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := os.ReadFile("testdata/images/j420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	pngGood, err := os.ReadFile("testdata/images/rgba.png")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		lim  Limits
		kind error
		msg  string
	}{
		{"empty", nil, Limits{}, ErrEmpty, "empty"},
		{"text", []byte("hello, this is not an image"), Limits{}, ErrUnsupported, "JPEG, PNG, GIF, WebP, BMP or TIFF"},
		{"truncated JPEG", good[:len(good)/2], Limits{}, ErrCorrupt, "jpeg"},
		{"truncated PNG", pngGood[:len(pngGood)-40], Limits{}, ErrCorrupt, "png"},
		{"JPEG header only", good[:20], Limits{}, ErrCorrupt, "jpeg"},
		{"zero-size GIF", zeroSizeGIF(), Limits{}, ErrEmpty, "0×0"},
		{"bomb", pngHeader(10000, 10000), Limits{}, ErrTooLarge, "100.0 megapixels), over the limit of 40.0"},
		{"configured limit", good, Limits{MaxPixels: 37*23 - 1}, ErrTooLarge, "37×23"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := Decode(c.data, c.lim)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v (%T), image %v; want %v mentioning %q", err, err, img != nil, c.kind, c.msg)
			}
		})
	}
}

// A bomb is refused from its header: decoding it would allocate 400 MB.
func TestBombRefusedBeforeDecoding(t *testing.T) {
	data := pngHeader(10000, 10000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Decode(data, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("refusing a bomb allocated %d bytes", grew)
	}
}

// pngHeader is a PNG signature and IHDR declaring w×h RGB, with one empty
// IDAT: enough for DecodeConfig, not for Decode.
func pngHeader(w, h uint32) []byte {
	ihdr := []byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h), 8, 2, 0, 0, 0}
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	return append(out, pngChunk("IDAT", nil)...)
}

func pngChunk(typ string, data []byte) []byte {
	n := len(data)
	out := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	out = append(out, typ...)
	out = append(out, data...)
	crc := crc32.ChecksumIEEE(append([]byte(typ), data...))
	return append(out, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
}

// zeroSizeGIF is a GIF whose logical screen is 0×0.
func zeroSizeGIF() []byte {
	return []byte("GIF89a\x00\x00\x00\x00\x00\x00\x00;")
}

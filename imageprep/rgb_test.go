package imageprep

import (
	"bytes"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/edgeinfer/edgeinfer/imageprep/imagetest"
)

// fromRGBA, the fast path for Go's *image.RGBA, agrees with the standard
// library's colour model on every kind of pixel: opaque, transparent and
// premultiplied in between.
func TestFromRGBAMatchesColorModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := image.NewRGBA(image.Rect(3, 5, 3+61, 5+17)) // an offset origin, as a sub-image has
	for i := 0; i < len(m.Pix); i += 4 {
		a := uint8(rng.IntN(256))
		switch i / 4 % 3 {
		case 0:
			a = 255
		case 1:
			a = 0
		}
		for c := range 3 {
			m.Pix[i+c] = uint8(rng.IntN(int(a) + 1)) // premultiplied: ≤ alpha
		}
		m.Pix[i+3] = a
	}
	got, want := fromRGBA(m), fromAny(m)
	if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
		t.Fatal("fromRGBA differs from the colour model's conversion")
	}
}

// An opaque truecolour PNG, which Go decodes to *image.RGBA, keeps its
// pixels exactly.
func TestOpaquePNGKeepsPixels(t *testing.T) {
	src := imagetest.Photo(97, 41, 3)
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(buf.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got.W * got.H {
		if !bytes.Equal(got.Pix[3*i:3*i+3], src.Pix[4*i:4*i+3]) {
			t.Fatalf("pixel %d is %v, want %v", i, got.Pix[3*i:3*i+3], src.Pix[4*i:4*i+3])
		}
	}
}

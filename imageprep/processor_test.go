package imageprep

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

// resnetConfig is microsoft/resnet-50's preprocessor_config.json as
// Xenova/resnet-50 ships it (docs/model-files.md §2.1).
const resnetConfig = `{"crop_pct": 0.875, "do_normalize": true, "do_rescale": true, "do_resize": true,
 "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
 "image_processor_type": "ConvNextImageProcessor", "resample": 3,
 "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224}}`

func resnetProcessor(t *testing.T) *Processor {
	t.Helper()
	p, err := ParseHFConfig([]byte(resnetConfig))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// imagenet is what transformers computes for one 0–255 sample of channel
// c: rescale in float64 stored as float32, then normalize in float32.
func imagenet(v uint8, c int) float32 {
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	return (float32(float64(v)/255) - mean[c]) / std[c]
}

// encode writes img as a PNG and decodes it through Decode, so tests go
// through the whole pipeline from bytes.
func encodeDecode(t *testing.T, img *RGB) *RGB {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, nrgbaOf(img)); err != nil {
		t.Fatal(err)
	}
	out, err := Decode(buf.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fill(w, h int, px func(x, y int) [3]uint8) *RGB {
	img := newRGB(w, h)
	for y := range h {
		for x := range w {
			v := px(x, y)
			copy(img.Pix[3*(y*w+x):], v[:])
		}
	}
	return img
}

func prepare(t *testing.T, p *Processor, img *RGB) []float32 {
	t.Helper()
	out := make([]float32, p.Len())
	if err := p.Prepare(img, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A solid colour stays exactly that colour through any resize, so every
// value of the tensor is known.
func TestSolidColours(t *testing.T) {
	p := resnetProcessor(t)
	for _, size := range [][2]int{{640, 480}, {100, 1000}, {224, 224}, {30, 20}, {1, 1}} {
		for _, colour := range [][3]uint8{{255, 128, 0}, {0, 0, 0}, {17, 200, 255}} {
			img := encodeDecode(t, fill(size[0], size[1], func(int, int) [3]uint8 { return colour }))
			out := prepare(t, p, img)
			for c := range 3 {
				want := imagenet(colour[c], c)
				for i, v := range out[c*224*224 : (c+1)*224*224] {
					if v != want {
						t.Fatalf("%v %v: channel %d value %d is %v, want %v", size, colour, c, i, v, want)
					}
				}
			}
		}
	}
}

// The zoo recipe normalizes 0–255 values directly: (v - mean) / std.
func TestZooSolidColour(t *testing.T) {
	p := ZooProcessor()
	img := fill(300, 200, func(int, int) [3]uint8 { return [3]uint8{10, 100, 250} })
	out := prepare(t, p, img)
	for c, v := range []float32{(10 - 123.675) / 58.395, (100 - 116.28) / 57.12, (250 - 103.53) / 57.375} {
		for _, got := range out[c*224*224 : (c+1)*224*224] {
			if math.Abs(float64(got-v)) > 1e-6 {
				t.Fatalf("channel %d: %v, want %v", c, got, v)
			}
		}
	}
}

// An image whose shorter side is already 256 is not resampled at all: the
// tensor is the centre 224×224, cropped at ((w-224)//2, (h-224)//2).
func TestStripesAreCroppedNotResampled(t *testing.T) {
	p := resnetProcessor(t)
	a, b := [3]uint8{250, 10, 60}, [3]uint8{5, 180, 90}
	for _, width := range []int{300, 301, 256} {
		x0 := (width - 224) / 2 // 38, 38 (77 // 2), 16
		for _, vertical := range []bool{true, false} {
			stripe := func(x, y int) [3]uint8 {
				if !vertical {
					x = y
				}
				if x/3%2 == 0 { // stripes 3 pixels wide
					return a
				}
				return b
			}
			out := prepare(t, p, encodeDecode(t, fill(width, 256, stripe)))
			for y := range 224 {
				for x := range 224 {
					want := stripe(x+x0, y+16)
					for c := range 3 {
						if got := out[c*224*224+y*224+x]; got != imagenet(want[c], c) {
							t.Fatalf("width %d vertical %v: (%d,%d,%d) = %v, want %v", width, vertical, x, y, c, got, imagenet(want[c], c))
						}
					}
				}
			}
		}
	}
}

// keys is the bicubic kernel, Keys' cubic convolution with a = -0.5.
func keys(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return 1.5*x*x*x - 2.5*x*x + 1
	case x < 2:
		return -0.5*x*x*x + 2.5*x*x - 4*x + 2
	}
	return 0
}

// A 2×2 checker upscaled to 256×256 (then cropped to 224) is a product of
// two one-dimensional interpolations between just two samples. Output
// sample i of 256 sits at (i + 0.5) / 128 in the source, so the samples
// at 0.5 and 1.5 get the weights keys(0.5 - t) and keys(1.5 - t),
// normalized to sum to 1 (the kernel reaches past the image edges, where
// there is nothing). Pillow rounds to 8 bits after the horizontal pass and
// after the vertical one. Near the edges the weights exceed [0, 1] (the
// kernel's negative lobe), so values overshoot and are clipped.
func TestCheckerUpscaled(t *testing.T) {
	p := resnetProcessor(t)
	a, b := [3]uint8{255, 0, 40}, [3]uint8{0, 255, 200}
	checker := [2][2][3]uint8{{a, b}, {b, a}}
	img := encodeDecode(t, fill(2, 2, func(x, y int) [3]uint8 { return checker[y][x] }))
	out := prepare(t, p, img)

	weights := func(i int) (float64, float64) {
		at := (float64(i) + 0.5) / 128
		w0, w1 := keys(0.5-at), keys(1.5-at)
		return w0 / (w0 + w1), w1 / (w0 + w1)
	}
	round := func(v float64) float64 { return math.Min(255, math.Max(0, math.Floor(v+0.5))) }
	// Spot check by hand at the crop's first column (i = 16): t = 0.1289,
	// keys(0.3711) = 0.7325, keys(1.3711) = -0.0737, so w0 = 1.112.
	if w0, _ := weights(16); math.Abs(w0-1.112) > 1e-3 {
		t.Fatalf("w0(16) = %v", w0)
	}
	for y := range 224 {
		v0, v1 := weights(y + 16)
		for x := range 224 {
			h0, h1 := weights(x + 16)
			for c := range 3 {
				row0 := round(float64(checker[0][0][c])*h0 + float64(checker[0][1][c])*h1)
				row1 := round(float64(checker[1][0][c])*h0 + float64(checker[1][1][c])*h1)
				want := imagenet(uint8(round(row0*v0+row1*v1)), c)
				if got := out[c*224*224+y*224+x]; got != want {
					t.Fatalf("(%d,%d,%d) = %v, want %v", x, y, c, got, want)
				}
			}
		}
	}
}

// An image smaller than the crop (no resize) is centred on zeros, as
// transformers' center_crop pads it.
func TestCropPadsSmallImages(t *testing.T) {
	p, err := ParseHFConfig([]byte(`{"image_processor_type": "BitImageProcessor", "do_resize": false, "resample": 3,
		"do_center_crop": true, "crop_size": {"height": 8, "width": 6}, "do_rescale": false, "do_normalize": false}`))
	if err != nil {
		t.Fatal(err)
	}
	img := fill(3, 4, func(x, y int) [3]uint8 { return [3]uint8{uint8(10*y + x + 1), 0, 0} })
	out := prepare(t, p, img)
	// ceil((6-3)/2) = 2 columns and ceil((8-4)/2) = 2 rows of padding before.
	want := []float32{
		0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0,
		0, 0, 1, 2, 3, 0,
		0, 0, 11, 12, 13, 0,
		0, 0, 21, 22, 23, 0,
		0, 0, 31, 32, 33, 0,
		0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0,
	}
	for i, v := range want {
		if out[i] != v {
			t.Fatalf("red plane %v, want %v", out[:48], want)
		}
	}
}

func TestResizedSize(t *testing.T) {
	p := resnetProcessor(t)
	for _, c := range [][4]int{
		{1920, 1080, 455, 256}, // 256 × 1920 / 1080 = 455.1
		{1080, 1920, 256, 455},
		{640, 480, 341, 256},
		{256, 256, 256, 256},
		{3, 1000, 256, 85333},
		{1000, 3, 85333, 256},
	} {
		if w, h := p.resizedSize(c[0], c[1]); w != c[2] || h != c[3] {
			t.Errorf("%dx%d resizes to %dx%d, want %dx%d", c[0], c[1], w, h, c[2], c[3])
		}
	}
}

func TestPrepareChecksBuffer(t *testing.T) {
	p := resnetProcessor(t)
	if err := p.Prepare(newRGB(10, 10), make([]float32, 10)); err == nil {
		t.Fatal("a short buffer was accepted")
	}
}

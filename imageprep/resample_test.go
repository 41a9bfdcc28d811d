package imageprep

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"
)

var filters = map[string]Resample{"bilinear": Bilinear, "bicubic": Bicubic, "lanczos": Lanczos, "box": Box, "hamming": Hamming}

// TestResizeMatchesPillow compares resizes (up, down, one axis at a time)
// with Pillow 9.4's own (testdata/generate.py): they must be identical.
func TestResizeMatchesPillow(t *testing.T) {
	src := readRGB(t, "testdata/pillow/resize_src.png")
	for name, f := range filters {
		for _, size := range [][2]int{{97, 69}, {13, 9}, {41, 64}, {20, 29}, {7, 100}} {
			t.Run(fmt.Sprintf("%s_%dx%d", name, size[0], size[1]), func(t *testing.T) {
				want := readRGB(t, filepath.Join("testdata/pillow", fmt.Sprintf("resize_%s_%dx%d.png", name, size[0], size[1])))
				k, _ := f.kernel()
				got := resizeWindow(src, size[0], size[1], k, window{w: size[0], h: size[1]})
				if maxDiff, exact := diff(t, got, want); maxDiff != 0 {
					t.Errorf("differs from Pillow by up to %d levels (%.1f%% exact)", maxDiff, 100*exact)
				}
			})
		}
	}
}

func randomRGB(r *rand.Rand, w, h int) *RGB {
	img := newRGB(w, h)
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	return img
}

// TestResizeAgreesWithImaging checks the resampler against an independent
// implementation, disintegration/imaging, whose filters are the same
// functions evaluated in float64 instead of Pillow's 22-bit fixed point:
// results may differ by one level where a value falls on a rounding edge.
// (imaging's Hamming is a 3-lobe windowed sinc, not Pillow's, so it is
// not compared.)
func TestResizeAgreesWithImaging(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	oracle := map[Resample]imaging.ResampleFilter{Bilinear: imaging.Linear, Bicubic: imaging.CatmullRom, Lanczos: imaging.Lanczos, Box: imaging.Box}
	for f, of := range oracle {
		for _, c := range [][4]int{{50, 40, 17, 13}, {17, 13, 50, 40}, {64, 48, 31, 48}, {9, 9, 100, 3}} {
			src := randomRGB(r, c[0], c[1])
			k, _ := f.kernel()
			got := resizeWindow(src, c[2], c[3], k, window{w: c[2], h: c[3]})
			want := imaging.Resize(nrgbaOf(src), c[2], c[3], of)
			for i := 0; i < c[2]*c[3]; i++ {
				for ch := range 3 {
					if d := int(got.Pix[3*i+ch]) - int(want.Pix[4*i+ch]); d > 1 || d < -1 {
						t.Fatalf("%v %v: pixel %d channel %d is %d, imaging says %d", f, c, i, ch, got.Pix[3*i+ch], want.Pix[4*i+ch])
					}
				}
			}
		}
	}
}

// A window of the resize is exactly that part of the whole resize, and
// zero where it reaches outside.
func TestResizeWindowIsACrop(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	src := randomRGB(r, 61, 37)
	k, _ := Bicubic.kernel()
	const outW, outH = 45, 80
	full := resizeWindow(src, outW, outH, k, window{w: outW, h: outH})
	for _, win := range []window{{10, 20, 12, 30}, {0, 0, 1, 1}, {-5, -3, 60, 90}, {40, 75, 20, 20}, {100, 100, 4, 4}} {
		got := resizeWindow(src, outW, outH, k, win)
		for y := range win.h {
			for x := range win.w {
				for c := range 3 {
					var want byte
					if fx, fy := x+win.x0, y+win.y0; fx >= 0 && fx < outW && fy >= 0 && fy < outH {
						want = full.Pix[3*(fy*outW+fx)+c]
					}
					if g := got.Pix[3*(y*win.w+x)+c]; g != want {
						t.Fatalf("window %+v: (%d,%d,%d) = %d, want %d", win, x, y, c, g, want)
					}
				}
			}
		}
	}
}

// The vector horizontal pass, where this build and CPU have one, gives the
// Go pass's bytes for every filter, up and down, on windows that reach the
// last byte of the image (where it must not read past the end).
func TestHorizontalPassSIMD(t *testing.T) {
	if horizontalPassSIMD == nil {
		t.Log("no vector pass on this build or CPU: resizing runs the Go pass, which the Pillow tests check")
		return
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, size := range [][4]int{{1920, 9, 455, 3}, {37, 23, 300, 5}, {500, 7, 61, 7}, {64, 3, 8, 3}, {9, 4, 9 * 11, 4}} {
		src := newRGB(size[0], size[1])
		for i := range src.Pix {
			src.Pix[i] = uint8(rng.IntN(256))
		}
		for _, r := range []Resample{Box, Bilinear, Hamming, Bicubic, Lanczos} {
			k, _ := r.kernel()
			outW := size[2]
			for _, span := range [][2]int{{0, outW}, {outW / 3, outW - outW/4}, {outW - 1, outW}} {
				a := newAxis(src.W, 0, float64(src.W), outW, span[0], span[1], k)
				rows := size[3]
				want := make([]byte, 3*len(a.start)*rows)
				got := make([]byte, len(want))
				horizontalPassGo(want, src, src.H-rows, src.H, &a)
				horizontalPassSIMD(got, src, src.H-rows, src.H, &a)
				if !bytes.Equal(got, want) {
					t.Fatalf("%v %dx%d → %d wide, outputs %v: the vector pass differs", r, src.W, src.H, outW, span)
				}
			}
		}
	}
}

// The vector vertical pass, where there is one, gives the Go pass's bytes
// for every filter, up and down, on rows whose length is not a multiple of
// its eight lanes.
func TestVerticalRowSIMD(t *testing.T) {
	if verticalRowSIMD == nil {
		t.Log("no vector pass on this build or CPU: resizing runs the Go pass, which the Pillow tests check")
		return
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, size := range [][3]int{{1080, 3 * 224, 256}, {23, 3 * 37, 300}, {7, 3, 2}, {40, 3 * 5, 41}} {
		inH, stride, outH := size[0], size[1], size[2]
		src := make([]byte, inH*stride)
		for i := range src {
			src[i] = uint8(rng.IntN(256))
		}
		for _, r := range []Resample{Box, Bilinear, Hamming, Bicubic, Lanczos} {
			k, _ := r.kernel()
			a := newAxis(inH, 0, float64(inH), outH, 0, outH, k)
			want, got := make([]byte, stride), make([]byte, stride)
			acc := make([]int32, stride)
			for y := range outH {
				start, w := a.weights(y)
				verticalRow(want, src[start*stride:], stride, w, acc)
				verticalRowSIMD(got, src[start*stride:], stride, w)
				if !bytes.Equal(got, want) {
					t.Fatalf("%v %d rows → %d, row %d (%d bytes): the vector pass differs", r, inH, outH, y, stride)
				}
			}
		}
	}
}

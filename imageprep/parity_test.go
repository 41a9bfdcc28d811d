package imageprep

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/edgeinfer/edgeinfer/imageprep/imagetest"
)

// parityDir is the node project that runs transformers.js offline.
const parityDir = "../compat/imageprep-parity"

// requireTransformersJS finds node and the installed npm packages, or fails
// the test saying how to get them: without the peer there is no parity.
func requireTransformersJS(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH; the transformers.js parity test needs node 20+ and its packages: run `make setup`")
	}
	if _, err := os.Stat(filepath.Join(parityDir, "node_modules/@huggingface/transformers/package.json")); err != nil {
		t.Fatalf("transformers.js is not installed in compat/imageprep-parity: run `make setup` (it runs `npm ci --ignore-scripts` there)")
	}
	return node
}

// parityCase is one generated image and how far transformers.js may be
// from us on it.
type parityCase struct {
	name string
	data []byte
	// exact: the shorter side is already 256, so neither side resizes.
	exact bool
}

func encodeFile(t *testing.T, img image.Image, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withJPEGExif inserts an APP1 EXIF segment with the orientation after SOI.
func withJPEGExif(j []byte, orientation int) []byte {
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(orientation), 0, 0, 0, 0, 0, 0, 0, 0}
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	return append(append(append([]byte{}, j[:2]...), app1...), j[2:]...)
}

func parityCases(t *testing.T) []parityCase {
	var cases []parityCase
	add := func(name string, data []byte, exact bool) {
		cases = append(cases, parityCase{name: name, data: data, exact: exact})
	}
	// Shorter side 256: decode, orientation, alpha, crop and normalize only.
	add("p300x256.png", encodeFile(t, imagetest.Photo(300, 256, 1), "png"), true)
	add("p256x341.png", encodeFile(t, imagetest.Photo(256, 341, 2), "png"), true)
	rgba := imagetest.Photo(301, 256, 3) // odd crop offset, and colour under transparency
	for i := 3; i < len(rgba.Pix); i += 4 {
		rgba.Pix[i] = uint8(i / 4 % 256)
	}
	add("p301x256_alpha.png", encodeFile(t, rgba, "png"), true)
	gray := image.NewGray(image.Rect(0, 0, 256, 280))
	src := imagetest.Photo(256, 280, 4)
	for i := range gray.Pix {
		gray.Pix[i] = src.Pix[4*i+1]
	}
	add("p256x280_gray.png", encodeFile(t, gray, "png"), true)
	add("p300x256.jpg", encodeFile(t, imagetest.Photo(300, 256, 5), "jpeg"), true)
	add("p341x256_exif6.jpg", withJPEGExif(encodeFile(t, imagetest.Photo(341, 256, 6), "jpeg"), 6), true)
	// Resized: two upscales, three downscales (the last by 4.2, as 1080p).
	for i, size := range [][2]int{{320, 240}, {200, 150}, {640, 480}, {1280, 720}, {1080, 1200}} {
		img := imagetest.Photo(size[0], size[1], uint64(10+i))
		add(fmt.Sprintf("p%dx%d.png", size[0], size[1]), encodeFile(t, img, "png"), false)
		add(fmt.Sprintf("p%dx%d.jpg", size[0], size[1]), encodeFile(t, img, "jpeg"), false)
	}
	return cases
}

// TestParityWithTransformersJS runs transformers.js's ConvNext image
// processor (what its image-classification pipeline uses for
// microsoft/resnet-50) on generated photos and compares its tensors with
// ours, in 0–255 levels (normalized difference × std × 255).
//
// Where no resize happens the pixels must agree: identical for PNG (up to
// float32 rounding: transformers.js normalizes in float64), and for JPEG
// to float rounding as well when edgeinfer decodes with libjpeg-turbo, as
// sharp does, and within what the inverse DCT allows with Go's decoder
// (see TestDecodeMatchesPillow).
//
// Where they resize, the two kernels differ, and the tolerance follows
// from how. We are Pillow: Catmull-Rom sampled at (x+½)/s−½ in the source,
// the kernel widened by 1/s when shrinking (antialiasing). transformers.js
// in node resizes with sharp's affine transform: the same Catmull-Rom, but
// sampled at x/s (corner-aligned) and never widened. So (1) its sample grid
// is shifted by ½|1−s| output pixels on each axis, which moves each value
// by at most that shift times the local gradient; and (2) when shrinking
// it point-samples the source's fine detail instead of averaging it, which
// adds up to the detail's amplitude, here the generator's noise (σ = 3
// levels, mean absolute deviation 0.8σ). The allowed mean difference is
// the sum, plus half a level for 8-bit rounding:
//
//	½|1−s| · (mean|∂x| + mean|∂y| of our tensor) + (s < 1 ? 0.8·3 : 0) + 0.5
//
// Errors of our own (a channel order, a crop offset, a wrong resize size
// or filter) break the exact cases or exceed this by far.
func TestParityWithTransformersJS(t *testing.T) {
	node := requireTransformersJS(t)
	dir := t.TempDir()
	modelDir, outDir := filepath.Join(dir, "resnet-50"), filepath.Join(dir, "out")
	for _, d := range []string{modelDir, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(modelDir, "preprocessor_config.json"), []byte(resnetConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := parityCases(t)
	args := []string{"preprocess.mjs", modelDir, outDir}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = parityDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("transformers.js failed: %v\n%s", err, stderr.String())
	}
	theirs := map[string][]float32{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var line struct {
			File string
			Dims []int
			Out  string
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("transformers.js printed %q: %v", sc.Text(), err)
		}
		if len(line.Dims) != 3 || line.Dims[0] != 3 || line.Dims[1] != 224 || line.Dims[2] != 224 {
			t.Fatalf("%s: transformers.js made a %v tensor", line.File, line.Dims)
		}
		raw, err := os.ReadFile(line.Out)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, len(raw)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		theirs[filepath.Base(line.File)] = v
	}

	p := resnetProcessor(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, ok := theirs[c.name]
			if !ok {
				t.Fatal("transformers.js returned nothing for it")
			}
			img, err := Decode(c.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got := prepare(t, p, img)
			st := compare(got, want, p.Std)
			t.Logf("mean %.3f, p99 %.2f, max %.2f levels; max normalized %.2g", st.mean, st.p99, st.max, st.maxNorm)
			switch {
			// sharp decodes JPEG with libjpeg-turbo too: with it, only
			// float rounding may differ; with Go's decoder, the IDCT's levels.
			case c.exact && (filepath.Ext(c.name) == ".png" || haveLibjpeg):
				if st.maxNorm > 1e-6 {
					t.Errorf("differs by %.2g (normalized); only float rounding may differ", st.maxNorm)
				}
			case c.exact:
				if st.max > 3.01 || st.mean > 0.1 {
					t.Errorf("JPEG differs by up to %.2f levels (mean %.3f); the IDCT allows 3 (mean 0.1)", st.max, st.mean)
				}
			default:
				s := 256 / float64(min(img.W, img.H))
				allowed := 0.5*math.Abs(1-s)*gradient(got, p.Std) + 0.5
				if s < 1 {
					allowed += 0.8 * imagetest.NoiseSigma
				}
				t.Logf("scale %.3f: allowed mean %.3f levels", s, allowed)
				if st.mean > allowed {
					t.Errorf("mean difference %.3f levels at scale %.3f; the kernels allow %.3f", st.mean, s, allowed)
				}
			}
		})
	}
}

type diffStats struct{ mean, p99, max, maxNorm float64 }

// compare measures got against want in 0–255 levels per channel.
func compare(got, want []float32, std [3]float64) diffStats {
	const plane = 224 * 224
	var st diffStats
	levels := make([]float64, len(got))
	for i := range got {
		d := math.Abs(float64(got[i] - want[i]))
		st.maxNorm = math.Max(st.maxNorm, d)
		levels[i] = d * std[i/plane] * 255
		st.mean += levels[i]
		st.max = math.Max(st.max, levels[i])
	}
	st.mean /= float64(len(got))
	sort.Float64s(levels)
	st.p99 = levels[len(levels)*99/100]
	return st
}

// gradient is mean|∂x| + mean|∂y| of a 3×224×224 tensor, in levels per pixel.
func gradient(v []float32, std [3]float64) float64 {
	const n = 224
	var gx, gy float64
	for c := range 3 {
		p := v[c*n*n : (c+1)*n*n]
		scale := std[c] * 255
		for y := range n {
			for x := range n {
				if x+1 < n {
					gx += math.Abs(float64(p[y*n+x+1]-p[y*n+x])) * scale
				}
				if y+1 < n {
					gy += math.Abs(float64(p[(y+1)*n+x]-p[y*n+x])) * scale
				}
			}
		}
	}
	count := float64(3 * n * (n - 1))
	return gx/count + gy/count
}

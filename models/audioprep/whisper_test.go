package audioprep

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/cmplx"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// parityDir is the node project that runs transformers.js offline.
const parityDir = "../../compat/imageprep-parity"

// requireTransformersJS finds node and the installed npm packages, or fails
// the test saying how to get them: without the peer there is no parity.
func requireTransformersJS(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH; the transformers.js parity test needs node 20+ and its packages: run `make setup`")
	}
	if _, err := os.Stat(filepath.Join(parityDir, "node_modules/@huggingface/transformers/package.json")); err != nil {
		t.Fatalf("transformers.js is not installed in compat/imageprep-parity: run `make test-deps` (npm ci --ignore-scripts there)")
	}
	return node
}

func whisperConfigJSON(bins int, filters [][]float64) []byte {
	c := map[string]any{
		"feature_extractor_type": "WhisperFeatureExtractor",
		"feature_size":           bins, "sampling_rate": 16000, "hop_length": 160, "chunk_length": 30,
		"n_fft": 400, "n_samples": 480000, "nb_max_frames": 3000, "padding_side": "right",
		"padding_value": 0.0, "return_attention_mask": false,
	}
	if filters != nil {
		c["mel_filters"] = filters
	}
	b, _ := json.Marshal(c)
	return b
}

// whisperInputs are the parity signals at 16 kHz: silence, tones, a chirp,
// noise, a short clip (mostly padding), a clip cut at 30 s, and a decoded
// fixture (Opus, through the resampler).
func whisperInputs(t *testing.T) map[string][]float32 {
	gen := func(seconds float64, f func(i int, t float64) float64) []float32 {
		v := make([]float32, int(seconds*16000))
		for i := range v {
			v[i] = float32(f(i, float64(i)/16000))
		}
		return v
	}
	x := uint32(88172645)
	noise := func(int, float64) float64 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		return 0.3 * (float64(x)/(1<<32) - 0.5)
	}
	in := map[string][]float32{
		"silence": make([]float32, 16000),
		"tones": gen(5, func(_ int, t float64) float64 {
			return 0.5*math.Sin(2*math.Pi*440*t) + 0.2*math.Sin(2*math.Pi*3000*t)
		}),
		"chirp": gen(30, func(_ int, t float64) float64 { return 0.6 * math.Sin(2*math.Pi*(50*t+7900*t*t/60)) }),
		"noise": gen(12, noise),
		"short": gen(0.5, func(_ int, t float64) float64 { return 0.8 * math.Sin(2*math.Pi*1000*t) * math.Exp(-4*t) }),
		"long":  gen(37, func(i int, t float64) float64 { return 0.4*math.Sin(2*math.Pi*200*t) + noise(i, t)*0.1 }),
		"quiet": gen(3, func(_ int, t float64) float64 { return 1e-6 * math.Sin(2*math.Pi*700*t) }),
	}
	a, err := Decode(fixture(t, "chirp_44100_stereo.opus"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	in["opus"] = a.Samples
	return in
}

// TestWhisperFeaturesMatchTransformersJS runs transformers.js's
// WhisperFeatureExtractor and ours on the same samples, with 80 and 128
// mel bins and with filters given in the config: max |Δ| ≤ 1e-4.
func TestWhisperFeaturesMatchTransformersJS(t *testing.T) {
	node := requireTransformersJS(t)
	dir := t.TempDir()
	inputs := whisperInputs(t)
	var files []string
	for name, v := range inputs {
		path := filepath.Join(dir, name+".f32")
		if err := os.WriteFile(path, f32bytes(v), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	// Filters "as given": the computed ones, reshaped so that only a config
	// that is really read gives the same features.
	given := slaneyMelFilters(201, 80, 0, 8000, 16000)
	for m := range given {
		for f := range given[m] {
			given[m][f] *= 1 + 0.5*math.Sin(float64(m*201+f))
		}
	}
	for _, cfg := range []struct {
		name string
		json []byte
	}{
		{"tiny-80", whisperConfigJSON(80, nil)},
		{"turbo-128", whisperConfigJSON(128, nil)},
		{"given-filters", whisperConfigJSON(80, given)},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			modelDir, outDir := filepath.Join(dir, cfg.name), filepath.Join(dir, cfg.name+"-out")
			for _, d := range []string{modelDir, outDir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(modelDir, "preprocessor_config.json"), cfg.json, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, append([]string{"whisper-features.mjs", modelDir, outDir}, files...)...)
			cmd.Dir = parityDir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			if err != nil {
				t.Fatalf("transformers.js failed: %v\n%s", err, stderr.String())
			}
			ext, err := ParseWhisperConfig(cfg.json)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, ext.Bins()*ext.Frames())
			seen := 0
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
				name := filepath.Base(line.File)
				name = name[:len(name)-4]
				if len(line.Dims) != 2 || line.Dims[0] != ext.Bins() || line.Dims[1] != ext.Frames() {
					t.Fatalf("%s: transformers.js made %v, we make [%d %d]", name, line.Dims, ext.Bins(), ext.Frames())
				}
				raw, err := os.ReadFile(line.Out)
				if err != nil {
					t.Fatal(err)
				}
				if err := ext.Extract(inputs[name], got); err != nil {
					t.Fatal(err)
				}
				var worst float64
				at := 0
				for i := range got {
					want := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
					if d := math.Abs(float64(got[i] - want)); d > worst {
						worst, at = d, i
					}
				}
				t.Logf("%s: max |Δ| %.2g (bin %d, frame %d)", name, worst, at/ext.Frames(), at%ext.Frames())
				if worst > 1e-4 {
					t.Errorf("%s: max |Δ| %.3g at bin %d, frame %d; allowed 1e-4", name, worst, at/ext.Frames(), at%ext.Frames())
				}
				seen++
			}
			if seen != len(inputs) {
				t.Fatalf("transformers.js returned %d results for %d inputs", seen, len(inputs))
			}
		})
	}
}

// TestFFTMatchesDFT checks the mixed-radix FFT against the definition on
// sizes with every factor kind, Whisper's 400 among them.
func TestFFTMatchesDFT(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8, 12, 30, 49, 400, 512, 13 * 4} {
		in := make([]complex128, n)
		for i := range in {
			in[i] = complex(math.Sin(float64(i*i+1)), math.Cos(float64(3*i)))
		}
		p := newFFTPlan(n)
		out := make([]complex128, n)
		p.transform(out, in, make([]complex128, n))
		var worst float64
		for k := range n {
			var want complex128
			for j := range n {
				want += in[j] * cmplx.Rect(1, -2*math.Pi*float64(j*k%n)/float64(n))
			}
			worst = max(worst, cmplx.Abs(out[k]-want))
		}
		if worst > 1e-9*float64(n) {
			t.Errorf("n=%d (factors %v): max |Δ| %.3g from the DFT", n, p.factors, worst)
		}
	}
}

func TestParseWhisperConfigRefuses(t *testing.T) {
	for _, c := range []string{
		`{"feature_size": 80, "sampling_rate": 8000}`,
		`{"feature_size": 0}`,
		`{"n_fft": 1}`,
		`{"hop_length": 0}`,
		`{"feature_size": 2, "mel_filters": [[1, 2]]}`,
		`{"n_samples": 10}`,
		`not json`,
	} {
		if _, err := ParseWhisperConfig([]byte(c)); err == nil {
			t.Errorf("%s: accepted", c)
		}
	}
	e, err := ParseWhisperConfig([]byte(`{}`))
	if err != nil || e.Bins() != 80 || e.Frames() != 3000 || e.Samples() != 480000 {
		t.Errorf("defaults: %v, %v", e, err)
	}
	if err := e.Extract(nil, make([]float32, 10)); err == nil {
		t.Error("Extract accepted a short output")
	}
}

package vad

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// synthModel writes the synthetic Silero VAD and returns its directory.
func synthModel(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	o := synth.Options{Preset: synth.Tiny, OutDir: root}
	if err := synth.Generate(context.Background(), o, []string{synth.SileroModelID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.FromSlash(synth.SileroModelID))
}

// sileroReference is the v5 16 kHz graph in float64 from the file's
// initializers: reflect pad, STFT magnitude, four convolutions, an LSTM
// cell, ReLU, 1×1 convolution, sigmoid.
type sileroReference struct {
	w map[string][]float64
}

func loadReference(t *testing.T, dir string) *sileroReference {
	t.Helper()
	m, err := onnxfile.ReadModel(filepath.Join(dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	r := &sileroReference{w: map[string][]float64{}}
	for name, tensor := range onnxfile.Initializers(m.Graph) {
		if tensor.GetDataType() != int32(onnxfile.TensorProto_FLOAT) {
			continue
		}
		v, err := onnxfile.Float32Values(tensor, dir)
		if err != nil {
			t.Fatal(err)
		}
		f := make([]float64, len(v))
		for i, x := range v {
			f[i] = float64(x)
		}
		r.w[name] = f
	}
	return r
}

// conv1d is a kernel-k convolution with padding p over in[channel][time].
func conv1d(in [][]float64, w, b []float64, out, k, stride, p int) [][]float64 {
	steps := (len(in[0])+2*p-k)/stride + 1
	res := make([][]float64, out)
	for o := range res {
		res[o] = make([]float64, steps)
		for s := range res[o] {
			sum := 0.0
			if b != nil {
				sum = b[o]
			}
			for i := range in {
				for j := 0; j < k; j++ {
					if at := s*stride + j - p; at >= 0 && at < len(in[i]) {
						sum += w[(o*len(in)+i)*k+j] * in[i][at]
					}
				}
			}
			res[o][s] = sum
		}
	}
	return res
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// step runs one window (576 samples with context) from state (h, c).
func (r *sileroReference) step(x []float64, h, c []float64) (float64, []float64, []float64) {
	padded := append([]float64(nil), x...)
	for k := 0; k < 64; k++ {
		padded = append(padded, x[len(x)-2-k])
	}
	spec := conv1d([][]float64{padded}, r.w["stft.basis"], nil, 258, 256, 128, 0)
	mag := make([][]float64, 129)
	for k := range mag {
		mag[k] = make([]float64, len(spec[k]))
		for t := range mag[k] {
			mag[k][t] = math.Hypot(spec[k][t], spec[129+k][t])
		}
	}
	feat := mag
	for i, c := range [][3]int{{129, 128, 1}, {128, 64, 2}, {64, 64, 2}, {64, 128, 1}} {
		name := "encoder." + string(rune('0'+i))
		feat = conv1d(feat, r.w[name+".weight"], r.w[name+".bias"], c[1], 3, c[2], 1)
		for _, row := range feat {
			for t := range row {
				row[t] = math.Max(0, row[t])
			}
		}
	}
	gates := append([]float64(nil), r.w["lstm.bias"]...)
	for i := 0; i < 128; i++ {
		for j := range gates {
			gates[j] += feat[i][0]*r.w["lstm.weight_ih_t"][i*512+j] + h[i]*r.w["lstm.weight_hh_t"][i*512+j]
		}
	}
	h1, c1 := make([]float64, 128), make([]float64, 128)
	logit := r.w["decoder.bias"][0]
	for j := range h1 {
		c1[j] = sigmoid(gates[128+j])*c[j] + sigmoid(gates[j])*math.Tanh(gates[256+j])
		h1[j] = sigmoid(gates[384+j]) * math.Tanh(c1[j])
		logit += math.Max(0, h1[j]) * r.w["decoder.weight_t"][j]
	}
	return sigmoid(logit), h1, c1
}

// probabilities streams the windows as Silero's OnnxWrapper does.
func (r *sileroReference) probabilities(samples []float32) []float64 {
	h, c := make([]float64, 128), make([]float64, 128)
	x := make([]float64, 576)
	var out []float64
	for i := 0; i < Windows(len(samples)); i++ {
		copy(x, x[512:])
		for k := 0; k < 512; k++ {
			x[64+k] = 0
			if at := i*512 + k; at < len(samples) {
				x[64+k] = float64(samples[at])
			}
		}
		var p float64
		p, h, c = r.step(x, h, c)
		out = append(out, p)
	}
	return out
}

func testAudio(n int) []float32 {
	rng := rand.New(rand.NewPCG(1, 1))
	s := make([]float32, n)
	for k := range s {
		s[k] = float32(0.3*math.Sin(2*math.Pi*300*float64(k)/SampleRate) + 0.05*rng.NormFloat64())
		if k > n/2 {
			s[k] *= 0.01
		}
	}
	return s
}

// TestModelMatchesReference runs the synthetic model on ONNX Runtime over
// streamed windows (tone, noise, near silence) and the float64 reference
// over the same: the probabilities agree, so the context and state carry
// over as they should.
func TestModelMatchesReference(t *testing.T) {
	orttest.Require(t)
	dir := synthModel(t)
	m, err := Load(dir, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	samples := testAudio(12*512 + 300)
	got, err := m.SpeechProbabilities(context.Background(), samples)
	if err != nil {
		t.Fatal(err)
	}
	want := loadReference(t, dir).probabilities(samples)
	if len(got) != len(want) || len(got) != 13 {
		t.Fatalf("%d probabilities, reference %d, want 13", len(got), len(want))
	}
	spread := 0.0
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > 1e-5 {
			t.Errorf("window %d: %v, reference %v", i, got[i], want[i])
		}
		spread = math.Max(spread, math.Abs(want[i]-want[0]))
	}
	if spread < 1e-4 { // a constant output would prove nothing
		t.Errorf("the reference's probabilities barely move (%g)", spread)
	}
}

// TestModelSpeech runs the whole search on the synthetic model: the
// chunks (meaningless with random weights) are what the state machine
// makes of the model's probabilities, in order and inside the audio.
func TestModelSpeech(t *testing.T) {
	orttest.Require(t)
	m, err := Load(synthModel(t), ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	samples := testAudio(3 * SampleRate)
	o := DefaultOptions()
	o.MinSilenceDurationMS, o.SpeechPadMS = 100, 30
	probs, err := m.SpeechProbabilities(context.Background(), samples)
	if err != nil {
		t.Fatal(err)
	}
	// The synthetic probabilities sit near one value: put the threshold
	// there so both speech and silence occur.
	lo, hi := probs[0], probs[0]
	for _, p := range probs {
		lo, hi = min(lo, p), max(hi, p)
	}
	o.Threshold, o.NegThreshold = float64(lo+hi)/2, float64(lo+hi)/2-1e-7
	chunks, err := m.Speech(context.Background(), samples, o)
	if err != nil {
		t.Fatal(err)
	}
	want := SpeechTimestamps(probs, len(samples), o)
	if len(chunks) != len(want) || len(chunks) == 0 {
		t.Fatalf("chunks %v, want %v", chunks, want)
	}
	end := 0
	for i, c := range chunks {
		if c != want[i] || c.Start < end || c.End <= c.Start || c.End > len(samples) {
			t.Errorf("chunk %d: %v (want %v) after %d", i, c, want[i], end)
		}
		end = c.End
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.SpeechProbabilities(ctx, samples); err == nil {
		t.Error("a cancelled context ran anyway")
	}
}

func TestLoadRefusesOtherModels(t *testing.T) {
	orttest.Require(t)
	if _, err := Load(t.TempDir(), ort.Options{}); err == nil {
		t.Error("loaded an empty directory")
	}
}

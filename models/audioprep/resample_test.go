package audioprep

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type resampleSignal struct {
	name    string
	rate    int
	samples []float32
}

var resampleRates = []int{8000, 11025, 22050, 44100, 48000, 96000}

// resampleSignals are the inputs of the sox comparison, 0.3 s at each rate:
// two tones inside the pass band; a linear chirp from 20 Hz to 0.49 × the
// rate (through the transition and, when downsampling, the stop band);
// uniform white noise (xorshift, fixed seed).
func resampleSignals() []resampleSignal {
	var out []resampleSignal
	for _, rate := range resampleRates {
		n := rate * 3 / 10
		tone, chirp, noise := make([]float32, n), make([]float32, n), make([]float32, n)
		hi := 0.42 * float64(min(rate, 16000))
		f1 := 0.49 * float64(rate)
		dur := float64(n) / float64(rate)
		x := uint32(2463534242)
		for i := range n {
			t := float64(i) / float64(rate)
			tone[i] = float32(0.5*math.Sin(2*math.Pi*997*t) + 0.3*math.Sin(2*math.Pi*hi*t))
			chirp[i] = float32(0.7 * math.Sin(2*math.Pi*(20*t+(f1-20)*t*t/(2*dur))))
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			noise[i] = float32(x)/(1<<32) - 0.5
		}
		out = append(out,
			resampleSignal{fmt.Sprintf("tone_%d", rate), rate, tone},
			resampleSignal{fmt.Sprintf("chirp_%d", rate), rate, chirp},
			resampleSignal{fmt.Sprintf("noise_%d", rate), rate, noise})
	}
	return out
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestResampleMatchesSox compares Resample with sox's very-high-quality
// resampler (rate -v, outputs committed) on each signal and rate. Both are
// linear-phase low-pass filters with nearly the same band edges, so they
// agree where the signal lies in the pass band and differ by what each
// lets through the transition band (92–99 % of the lower Nyquist
// frequency) and by stop-band leakage (-120 dB here, deeper in sox). The
// tolerances, as error RMS relative to sox's output RMS:
//
//	tones (pass band), away from the onset ≤ -80 dB
//	tones, whole signal                    ≤ -60 dB (the onset is a click, full band)
//	chirp to 0.49 × rate, white noise      ≤ -40 dB (full band: ~7 % of it in transition)
//
// A wrong ratio, a time offset of a fraction of a sample, a missing
// anti-aliasing filter or a gain error fails them by far. The lengths may
// differ by one sample at the end (sox rounds the output length).
func TestResampleMatchesSox(t *testing.T) {
	for _, sig := range resampleSignals() {
		t.Run(sig.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata/resample", sig.name+".f32"))
			if err != nil {
				t.Fatalf("%v (regenerate: go test -tags gen -run TestGenerateResampleReference ./audioprep)", err)
			}
			want := make([]float32, len(raw)/4)
			for i := range want {
				want[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			got := Resample(sig.samples, sig.rate, 16000)
			if d := len(got) - len(want); d < 0 || d > 1 {
				t.Errorf("%d samples, sox made %d", len(got), len(want))
			}
			whole := relErrDB(got, want, 0)
			mid := relErrDB(got, want, 300)
			t.Logf("error %.1f dB relative to the signal, %.1f dB away from the ends", whole, mid)
			if strings.HasPrefix(sig.name, "tone") {
				if whole > -60 || mid > -80 {
					t.Errorf("differs from sox by %.1f dB (limit -60), %.1f dB away from the ends (limit -80)", whole, mid)
				}
			} else if whole > -40 {
				t.Errorf("differs from sox by %.1f dB (limit -40)", whole)
			}
		})
	}
}

// relErrDB is the RMS of got−want relative to want's, in dB, leaving out
// edge samples at each end.
func relErrDB(got, want []float32, edge int) float64 {
	var e, s float64
	for i := edge; i < min(len(got), len(want))-edge; i++ {
		d := float64(got[i] - want[i])
		e += d * d
		s += float64(want[i]) * float64(want[i])
	}
	return 10 * math.Log10(e/s)
}

// TestResamplerStreams: feeding the input in pieces of any size gives the
// same output as one call.
func TestResamplerStreams(t *testing.T) {
	for _, sig := range resampleSignals()[3:6] { // 11025 Hz: 640 phases
		whole := Resample(sig.samples, sig.rate, 16000)
		r := NewResampler(sig.rate, 16000)
		var out []float32
		for i, step := 0, 1; i < len(sig.samples); i, step = i+step, step*3%1000+1 {
			out = r.Process(out, sig.samples[i:min(i+step, len(sig.samples))])
		}
		out = r.Flush(out)
		if len(out) != len(whole) || maxDiff(out, whole) != 0 {
			t.Errorf("%s: streamed %d samples (max |Δ| %g), whole %d", sig.name, len(out), maxDiff(out, whole), len(whole))
		}
	}
}

// TestResampleOddRatio covers the interpolated kernel, used where the
// rates share no large factor (44099 → 16000 needs 16000 phases): a
// 1 kHz tone comes out as a 1 kHz tone of the same amplitude.
func TestResampleOddRatio(t *testing.T) {
	const from = 44099
	in := make([]float32, from/2)
	for i := range in {
		in[i] = float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/from))
	}
	r := NewResampler(from, 16000)
	if r.table == nil {
		t.Fatal("expected the interpolated kernel for 44099 → 16000")
	}
	out := Resample(in, from, 16000)
	var worst float64
	for i := 200; i < len(out)-200; i++ {
		want := 0.5 * math.Sin(2*math.Pi*1000*float64(i)/16000)
		worst = max(worst, math.Abs(float64(out[i])-want))
	}
	if worst > 1e-4 {
		t.Errorf("max |Δ| from the ideal tone %.3g", worst)
	}
}

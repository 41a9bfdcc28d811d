package audioprep

import (
	"math"
)

// The resampling filter: a Kaiser-windowed sinc low-pass, flat to
// passBand × the lower Nyquist frequency, stopBandDB down from stopBand ×
// it. The edges follow sox's very-high-quality resampler (rate -v), as
// measured from 48 kHz: -0.006 dB at 92.5 %, -3 dB at 95 %, -31 dB at
// 97.5 %, -67 dB at 98.75 % of Nyquist.
const (
	passBand   = 0.92
	stopBand   = 0.99
	stopBandDB = 120.0
	// maxBank bounds the precomputed polyphase bank (floats); ratios that
	// would need more phases interpolate a finely sampled kernel instead.
	maxBank = 1 << 21
	// tableSteps is that kernel's samples per input sample.
	tableSteps = 1024
)

// Resampler converts a stream of samples from one rate to another with a
// polyphase windowed-sinc filter. Output sample n sits at input time
// n·from/to exactly (sample 0 on sample 0, no delay); samples before the
// first and after the last are zero. It keeps only the filter's span of
// input between calls.
type Resampler struct {
	l, m   int64 // to/from reduced: output n is at input n·m/l
	half   int   // taps on each side of the output time
	bank   []float32
	table  []float32
	buf    []float32 // input from absolute index base on
	base   int64
	n      int64 // next output
	in     int64 // input samples received
	coeffs []float32
}

// NewResampler returns a resampler from rate from to rate to (Hz, > 0).
func NewResampler(from, to int) *Resampler {
	g := gcd(from, to)
	r := &Resampler{l: int64(to / g), m: int64(from / g)}
	if r.l == r.m {
		return r
	}
	nyquist := float64(min(from, to)) / 2
	fc := nyquist * (stopBand + passBand) / 2 / float64(from) // cycles per input sample
	width := nyquist * (stopBand - passBand) / float64(from)
	beta := 0.1102 * (stopBandDB - 8.7)
	taps := (stopBandDB-7.95)/(2.285*2*math.Pi*width) + 1
	r.half = int(math.Ceil(taps / 2))
	kernel := func(x float64) float64 { // x in input samples
		if math.Abs(x) >= float64(r.half) {
			return 0
		}
		u := x / float64(r.half)
		return 2 * fc * sinc(2*fc*x) * bessel0(beta*math.Sqrt(1-u*u)) / bessel0(beta)
	}
	taps2 := 2 * r.half
	if r.l*int64(taps2) <= maxBank {
		r.bank = make([]float32, int(r.l)*taps2)
		for p := range int(r.l) {
			d := float64(p) / float64(r.l)
			for j := range taps2 {
				r.bank[p*taps2+j] = float32(kernel(d + float64(r.half-1-j)))
			}
		}
	} else {
		r.table = make([]float32, taps2*tableSteps+2)
		for i := range r.table {
			r.table[i] = float32(kernel(float64(i)/tableSteps - float64(r.half)))
		}
		r.coeffs = make([]float32, taps2)
	}
	r.buf = make([]float32, r.half, 4096)
	r.base = -int64(r.half)
	return r
}

// Process resamples in, appending the outputs it can already compute to
// out, and returns out.
func (r *Resampler) Process(out, in []float32) []float32 {
	r.in += int64(len(in))
	if r.l == r.m {
		return append(out, in...)
	}
	r.buf = append(r.buf, in...)
	return r.run(out, math.MaxInt64)
}

// Flush appends the outputs still held (those at input times before the
// end of the input) and returns out. The Resampler is spent afterwards.
func (r *Resampler) Flush(out []float32) []float32 {
	if r.l == r.m {
		return out
	}
	r.buf = append(r.buf, make([]float32, r.half+1)...)
	last := (r.in*r.l + r.m - 1) / r.m // outputs at times < r.in
	return r.run(out, last)
}

func (r *Resampler) run(out []float32, limit int64) []float32 {
	taps := 2 * r.half
	end := r.base + int64(len(r.buf))
	for ; r.n < limit; r.n++ {
		t := r.n * r.m
		i, p := t/r.l, t%r.l
		if i+int64(r.half) >= end {
			break
		}
		x := r.buf[i-int64(r.half)+1-r.base:][:taps]
		var c []float32
		if r.bank != nil {
			c = r.bank[int(p)*taps:][:taps]
		} else {
			c = r.interpolate(float64(p) / float64(r.l))
		}
		out = append(out, dot(x, c))
	}
	// Keep input from the next output's first tap on.
	keep := r.n*r.m/r.l - int64(r.half) + 1 - r.base
	if keep > 0 && keep > int64(len(r.buf))/2 {
		keep = min(keep, int64(len(r.buf)))
		r.buf = r.buf[:copy(r.buf, r.buf[keep:])]
		r.base += keep
	}
	return out
}

// interpolate fills r.coeffs for fractional offset d from the table.
func (r *Resampler) interpolate(d float64) []float32 {
	for j := range r.coeffs {
		x := (d + float64(r.half-1-j) + float64(r.half)) * tableSteps
		k := int(x)
		f := float32(x - float64(k))
		r.coeffs[j] = r.table[k] + f*(r.table[k+1]-r.table[k])
	}
	return r.coeffs
}

// Resample converts a whole signal from one rate to another.
func Resample(in []float32, from, to int) []float32 {
	r := NewResampler(from, to)
	out := make([]float32, 0, int(int64(len(in))*int64(to)/int64(from))+1)
	return r.Flush(r.Process(out, in))
}

func dot(x, c []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(c) &^ 3
	x = x[:len(c)]
	for j := 0; j < n; j += 4 {
		s0 += x[j] * c[j]
		s1 += x[j+1] * c[j+1]
		s2 += x[j+2] * c[j+2]
		s3 += x[j+3] * c[j+3]
	}
	for j := n; j < len(c); j++ {
		s0 += x[j] * c[j]
	}
	return (s0 + s1) + (s2 + s3)
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// bessel0 is the modified Bessel function of the first kind, order 0.
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 200; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

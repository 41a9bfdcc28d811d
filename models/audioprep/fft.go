package audioprep

import (
	"math"
	"math/cmplx"
)

// fftPlan is a mixed-radix Cooley–Tukey FFT of one size (decimation in
// time, any factorization; Whisper's 400 = 4·4·5·5). It is read-only once
// built, so one plan serves concurrent callers, each with its own buffers.
type fftPlan struct {
	n       int
	factors []int
	tw      []complex128 // e^{-2πik/n}
}

func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n, tw: make([]complex128, n)}
	for k := range n {
		p.tw[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(n))
	}
	for m := n; m > 1; {
		f := 0
		for _, c := range []int{4, 2, 3, 5} {
			if m%c == 0 {
				f = c
				break
			}
		}
		if f == 0 {
			for f = 7; m%f != 0; f += 2 {
			}
		}
		p.factors = append(p.factors, f)
		m /= f
	}
	return p
}

// transform writes the DFT of in (length n) to out (length n); scratch
// needs the largest factor's length.
func (p *fftPlan) transform(out, in, scratch []complex128) {
	p.rec(out, in, 1, 0, scratch)
}

func (p *fftPlan) rec(out, in []complex128, stride, level int, scratch []complex128) {
	n := len(out)
	if n == 1 {
		out[0] = in[0]
		return
	}
	r := p.factors[level]
	m := n / r
	for q := range r {
		p.rec(out[q*m:(q+1)*m], in[q*stride:], stride*r, level+1, scratch)
	}
	// Combine: X[k + s·m] = Σ_q W_n^{q(k+s·m)} · Y_q[k].
	step := p.n / n // W_n^j = tw[j·step]
	for k := range m {
		for q := range r {
			scratch[q] = out[q*m+k] * p.tw[(q*k*step)%p.n]
		}
		for s := range r {
			var sum complex128
			for q := range r {
				sum += scratch[q] * p.tw[(q*s*m*step)%p.n]
			}
			out[k+s*m] = sum
		}
	}
}

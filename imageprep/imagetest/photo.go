// Package imagetest makes deterministic photo-like test images, for tests
// and benchmarks that need realistic inputs without shipping photographs.
package imagetest

import (
	"image"
	"math"
	"math/rand/v2"
)

// NoiseSigma is the standard deviation of Photo's sensor-like noise, in
// 0–255 levels: the finest detail a picture has, which resizers that do
// not antialias pass through.
const NoiseSigma = 3

// Photo returns a w×h opaque picture that has what photographs have and
// resizers react to: smooth illumination gradients, objects with softly
// focused edges, and faint sensor-like noise. The same (w, h, seed) always
// gives the same pixels; the scene is laid out in relative coordinates, so
// a large and a small picture of one seed show the same scene.
func Photo(w, h int, seed uint64) *image.NRGBA {
	scene := rand.New(rand.NewPCG(seed, 0xface))
	buf := make([]float32, 3*w*h)
	background(buf, w, h, scene)
	short := float64(min(w, h))
	for range 6 + scene.IntN(5) {
		paintObject(buf, w, h, short, scene)
	}
	noise := rand.New(rand.NewPCG(seed, 0x5eed^uint64(w)<<20^uint64(h)))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		for c := range 3 {
			v := float64(buf[3*i+c]) + NoiseSigma*noise.NormFloat64()
			img.Pix[4*i+c] = uint8(math.Round(math.Min(255, math.Max(0, v))))
		}
		img.Pix[4*i+3] = 255
	}
	return img
}

// background fills buf with a base level per channel and two slow waves,
// sin(2π(fx·u + fy·v) + φ), evaluated as sin(a)cos(b) + cos(a)sin(b) from
// per-column and per-row tables.
func background(buf []float32, w, h int, scene *rand.Rand) {
	for c := range 3 {
		base := 60 + 120*scene.Float64()
		for y := range h {
			for x := range w {
				buf[3*(y*w+x)+c] = float32(base)
			}
		}
		for range 2 {
			amp, fx, fy, phase := 20+30*scene.Float64(), 0.5+2.5*scene.Float64(), 0.5+2.5*scene.Float64(), 2*math.Pi*scene.Float64()
			su, cu := make([]float64, w), make([]float64, w)
			for x := range w {
				su[x], cu[x] = math.Sincos(2 * math.Pi * fx * (float64(x) + 0.5) / float64(w))
			}
			for y := range h {
				sv, cv := math.Sincos(2*math.Pi*fy*(float64(y)+0.5)/float64(h) + phase)
				row := buf[3*y*w:]
				for x := range w {
					row[3*x+c] += float32(amp * (su[x]*cv + cu[x]*sv))
				}
			}
		}
	}
}

// paintObject blends a shaded ellipse with a soft edge (0.3–1.5% of the
// shorter side) into buf, touching only the pixels its edge can reach.
func paintObject(buf []float32, w, h int, short float64, scene *rand.Rand) {
	cx, cy := scene.Float64(), scene.Float64()
	rx, ry := 0.05+0.25*scene.Float64(), 0.05+0.25*scene.Float64() // in units of the shorter side
	soft := 0.003 + 0.012*scene.Float64()
	var col [3]float64
	for c := range col {
		col[c] = 255 * scene.Float64()
	}
	shade := 40 * (scene.Float64() - 0.5)
	// Beyond 5 edge widths the coverage is under 1e-4 (outside) or over
	// 1-1e-4 (inside): only the band between needs the edge profile.
	reach := 1 + 5*soft/math.Min(rx, ry)
	inner := max(0, 1-5*soft/math.Min(rx, ry))
	x0 := max(0, int((cx-rx*reach*short/float64(w))*float64(w)))
	x1 := min(w, int((cx+rx*reach*short/float64(w))*float64(w))+1)
	y0 := max(0, int((cy-ry*reach*short/float64(h))*float64(h)))
	y1 := min(h, int((cy+ry*reach*short/float64(h))*float64(h))+1)
	for y := y0; y < y1; y++ {
		dy := ((float64(y)+0.5)/float64(h) - cy) * float64(h) / short
		for x := x0; x < x1; x++ {
			dx := ((float64(x)+0.5)/float64(w) - cx) * float64(w) / short
			q := (dx/rx)*(dx/rx) + (dy/ry)*(dy/ry)
			if q >= reach*reach {
				continue
			}
			cover := 1.0
			if q > inner*inner {
				d := (math.Sqrt(q) - 1) * math.Min(rx, ry) // signed distance to the edge
				cover = 0.5 - 0.5*math.Tanh(d/soft)
			}
			px := buf[3*(y*w+x):]
			for c := range 3 {
				inside := col[c] + shade*(dx-dy)/math.Max(rx, ry)
				px[c] = float32(float64(px[c])*(1-cover) + inside*cover)
			}
		}
	}
}

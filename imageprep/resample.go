package imageprep

import "math"

// Resample is an interpolation filter, numbered as Pillow numbers them (the
// "resample" key of preprocessor_config.json).
type Resample int

// The filters edgeinfer implements, with Pillow's numbers. Nearest (0) is
// not among them: Pillow resizes with it through a different code path.
const (
	Lanczos  Resample = 1
	Bilinear Resample = 2
	Bicubic  Resample = 3
	Box      Resample = 4
	Hamming  Resample = 5
)

func (r Resample) String() string {
	switch r {
	case Lanczos:
		return "lanczos"
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	case Box:
		return "box"
	case Hamming:
		return "hamming"
	}
	return "unsupported"
}

// kernel is a filter as Pillow's Resample.c defines it: the function and
// its support at scale 1.
type kernel struct {
	support float64
	eval    func(x float64) float64
}

func (r Resample) kernel() (kernel, bool) {
	switch r {
	case Box:
		return kernel{0.5, func(x float64) float64 {
			if x > -0.5 && x <= 0.5 {
				return 1
			}
			return 0
		}}, true
	case Bilinear:
		return kernel{1, func(x float64) float64 {
			x = math.Abs(x)
			if x < 1 {
				return 1 - x
			}
			return 0
		}}, true
	case Hamming:
		return kernel{1, func(x float64) float64 {
			x = math.Abs(x)
			if x == 0 {
				return 1
			}
			if x >= 1 {
				return 0
			}
			x *= math.Pi
			// Pillow writes 0.54f and 0.46f: float32 constants.
			return math.Sin(x) / x * (float64(float32(0.54)) + float64(float32(0.46))*math.Cos(x))
		}}, true
	case Bicubic:
		// Keys' cubic with a = -0.5 (Catmull-Rom), as PIL.Image.BICUBIC.
		const a = -0.5
		return kernel{2, func(x float64) float64 {
			x = math.Abs(x)
			if x < 1 {
				return ((a+2)*x-(a+3))*x*x + 1
			}
			if x < 2 {
				return (((x-5)*x+8)*x - 4) * a
			}
			return 0
		}}, true
	case Lanczos:
		sinc := func(x float64) float64 {
			if x == 0 {
				return 1
			}
			x *= math.Pi
			return math.Sin(x) / x
		}
		return kernel{3, func(x float64) float64 {
			if x >= -3 && x < 3 {
				return sinc(x) * sinc(x/3)
			}
			return 0
		}}, true
	}
	return kernel{}, false
}

// precisionBits is Pillow's fixed-point precision for 8-bit images: the
// weights are integers scaled by 2^22, leaving room for 8-bit samples and
// the sign in an int32 accumulator.
const precisionBits = 32 - 8 - 2

// axis holds the fixed-point weights that map one axis of an image from
// inSize to outSize samples, for outputs first … first+len(start)-1:
// output i reads inputs start[i-first] … +n[i-first]-1 with the weights
// at w[(i-first)*ksize:].
type axis struct {
	first, ksize int
	start, n     []int
	w            []int32
	wf           []float64 // w as float64, for dot3
}

// weights returns output i's first input and its weights.
func (a *axis) weights(i int) (int, []int32) {
	j := i - a.first
	return a.start[j], a.w[j*a.ksize : j*a.ksize+a.n[j]]
}

// floatWeights is weights with the weights as float64.
func (a *axis) floatWeights(i int) (int, []float64) {
	j := i - a.first
	return a.start[j], a.wf[j*a.ksize : j*a.ksize+a.n[j]]
}

// newAxis computes the weights of outputs from … to-1 exactly as Pillow's
// precompute_coeffs and normalize_coeffs_8bpc do, so that resizing matches
// PIL.Image.resize bit for bit: the filter is stretched by the downscale
// factor (antialiasing), sample centres are at in0 + (i + 0.5) × (in1 -
// in0)/out, where in0…in1 is 0…inSize or the box Pillow's resize was given;
// weights
// are normalized to sum to 1 in float64 and then rounded half away from
// zero to 2^22 fixed point. Only the outputs asked for are computed: a
// resize target can be enormous (a 1×40,000,000 image has a shorter side
// of 1), while the crop needs a few hundred.
func newAxis(inSize int, in0, in1 float64, outSize, from, to int, k kernel) axis {
	scale := (in1 - in0) / float64(outSize)
	filterScale := max(scale, 1)
	support := k.support * filterScale
	ksize := int(math.Ceil(support))*2 + 1
	count := to - from
	a := axis{first: from, ksize: ksize, start: make([]int, count), n: make([]int, count), w: make([]int32, count*ksize)}
	weights := make([]float64, ksize)
	ss := 1 / filterScale // Pillow multiplies by the reciprocal; dividing rounds differently
	for i := from; i < to; i++ {
		center := in0 + (float64(i)+0.5)*scale
		// C's (int) truncates toward zero, as Go's conversion does.
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), inSize)
		n := hi - lo
		var sum float64
		for j := range n {
			w := k.eval((float64(j+lo) - center + 0.5) * ss)
			weights[j] = w
			sum += w
		}
		row := a.w[(i-from)*ksize:]
		for j := range n {
			if sum != 0 {
				weights[j] /= sum
			}
			f := weights[j] * (1 << precisionBits)
			if f < 0 {
				row[j] = int32(f - 0.5)
			} else {
				row[j] = int32(f + 0.5)
			}
		}
		a.start[i-from], a.n[i-from] = lo, n
	}
	a.wf = make([]float64, len(a.w))
	for i, w := range a.w {
		a.wf[i] = float64(w)
	}
	return a
}

// clip8 turns an accumulator into a sample, as Pillow's clip8.
func clip8(acc int32) uint8 {
	v := acc >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// window is a rectangle of the resized image, in its coordinates; it may
// reach outside the image, where the result is zero (centre-crop padding).
type window struct {
	x0, y0, w, h int
}

// resizeWindow resamples src to outW×outH with filter k and returns only
// the pixels inside win, as packed RGB. The result is bit-identical to
// Pillow's im.resize((outW, outH), k) followed by a crop, but only the
// rows and columns that the window needs are computed. Like Pillow, the
// horizontal pass runs first and rounds to 8 bits before the vertical one,
// and an axis whose size does not change is not resampled at all.
//
// A draft-decoded src (JPEG DCT scaling) is resized from the box that
// shows the picture, as Pillow's thumbnail does after draft: the decoded
// size is rounded up, so one row and one column are partly outside it.
func resizeWindow(src *RGB, outW, outH int, k kernel, win window) *RGB {
	dst := &RGB{W: win.w, H: win.h, Pix: make([]byte, 3*win.w*win.h)}
	// The window clipped to the resized image; outside it dst stays zero.
	cx0, cx1 := max(win.x0, 0), min(win.x0+win.w, outW)
	cy0, cy1 := max(win.y0, 0), min(win.y0+win.h, outH)
	if cx0 >= cx1 || cy0 >= cy1 {
		return dst
	}
	x0, y0, x1, y1 := 0.0, 0.0, float64(src.W), float64(src.H)
	if src.draft.scale > 1 {
		x0, y0, x1, y1 = src.draft.box(src.W, src.H)
	}
	// Pillow's test: the size changes or the box is not the whole image.
	needH := outW != src.W || x0 != 0 || x1 != float64(src.W)
	needV := outH != src.H || y0 != 0 || y1 != float64(src.H)

	// Source rows the vertical pass reads.
	var vert axis
	rowLo, rowHi := cy0, cy1
	if needV {
		vert = newAxis(src.H, y0, y1, outH, cy0, cy1, k)
		first, _ := vert.weights(cy0)
		last, w := vert.weights(cy1 - 1)
		rowLo, rowHi = first, last+len(w)
	}

	// Horizontal pass: rows rowLo…rowHi-1 of src, columns cx0…cx1-1 of the
	// resized width.
	cols := cx1 - cx0
	tmp := &RGB{W: cols, H: rowHi - rowLo, Pix: make([]byte, 3*cols*(rowHi-rowLo))}
	if needH {
		horiz := newAxis(src.W, x0, x1, outW, cx0, cx1, k)
		horizontalPass(tmp.Pix, src, rowLo, rowHi, &horiz)
	} else {
		for y := rowLo; y < rowHi; y++ {
			copy(tmp.Pix[3*(y-rowLo)*cols:3*(y-rowLo+1)*cols], src.Pix[3*(y*src.W+cx0):3*(y*src.W+cx1)])
		}
	}

	// Vertical pass into the window, a whole row at a time so that memory
	// is read in order; integer sums do not depend on the order.
	acc := make([]int32, 3*cols)
	for y := cy0; y < cy1; y++ {
		out := dst.Pix[3*((y-win.y0)*win.w+cx0-win.x0) : 3*((y-win.y0)*win.w+cx1-win.x0)]
		if !needV {
			copy(out, tmp.Pix[3*(y-rowLo)*cols:3*(y-rowLo+1)*cols])
			continue
		}
		start, w := vert.weights(y)
		if verticalRowSIMD != nil {
			verticalRowSIMD(out, tmp.Pix[3*(start-rowLo)*cols:], 3*cols, w)
			continue
		}
		verticalRow(out, tmp.Pix[3*(start-rowLo)*cols:], 3*cols, w, acc)
	}
	return dst
}

// half is 0.5 in fixed point: accumulators start from it so that the
// final shift rounds to nearest, as Pillow's do.
const half = 1 << (precisionBits - 1)

// horizontalPassSIMD, where the build and the CPU have one
// (resample_avx2.go), is horizontalPass in vector instructions.
var horizontalPassSIMD func(tmp []byte, src *RGB, rowLo, rowHi int, a *axis)

// horizontalPass resamples rows rowLo … rowHi-1 of src along axis a, into
// consecutive rows of tmp, each 3 × (outputs of a) bytes.
func horizontalPass(tmp []byte, src *RGB, rowLo, rowHi int, a *axis) {
	if horizontalPassSIMD != nil {
		horizontalPassSIMD(tmp, src, rowLo, rowHi, a)
		return
	}
	horizontalPassGo(tmp, src, rowLo, rowHi, a)
}

// horizontalPassGo is horizontalPass in Go.
func horizontalPassGo(tmp []byte, src *RGB, rowLo, rowHi int, a *axis) {
	cols := len(a.start)
	for y := rowLo; y < rowHi; y++ {
		horizontalRow(tmp[3*(y-rowLo)*cols:3*(y-rowLo+1)*cols], src.Pix[3*y*src.W:3*(y+1)*src.W], a, a.first)
	}
}

// horizontalRow resamples one row of packed RGB: out holds outputs cx0,
// cx0+1, … of axis a.
func horizontalRow(out, in []byte, a *axis, cx0 int) {
	for o := 0; o+2 < len(out); o += 3 {
		start, w := a.floatWeights(cx0 + o/3)
		r, g, b := dot3(in[3*start:], w)
		out[o], out[o+1], out[o+2] = clip8(int32(r)), clip8(int32(g)), clip8(int32(b))
	}
}

// sample is each 8-bit value as a float64, so that loading one is a table
// lookup rather than a conversion.
var sample = func() (t [256]float64) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

// dot3 is Σ w[j]·px[3j+c] for each channel c of packed RGB, plus ½ in
// fixed point, in float64. It gives exactly Pillow's 32-bit integer sums:
// each product of an 8-bit sample and a weight below 2²³ needs 31 bits,
// and their sum well under 2⁵³, so float64 rounds nothing. It is float
// because this loop is most of the resize's time and bound by
// multiplications, of which a core runs two float64 ones per cycle and one
// integer one (9% faster here on a Zen 4 core, min of 40 runs, than the
// same loop in int32). Taps go four at a time, one bounds check each. This
// is the pass of builds without cgo and of CPUs without AVX2; the others
// run resample_avx2.c, about three times as fast again.
func dot3(px []byte, w []float64) (r, g, b float64) {
	r, g, b = half, half, half
	for len(w) >= 4 && len(px) >= 12 {
		w0, w1, w2, w3 := w[0], w[1], w[2], w[3]
		r += sample[px[0]]*w0 + sample[px[3]]*w1 + sample[px[6]]*w2 + sample[px[9]]*w3
		g += sample[px[1]]*w0 + sample[px[4]]*w1 + sample[px[7]]*w2 + sample[px[10]]*w3
		b += sample[px[2]]*w0 + sample[px[5]]*w1 + sample[px[8]]*w2 + sample[px[11]]*w3
		w, px = w[4:], px[12:]
	}
	for len(w) >= 1 && len(px) >= 3 {
		r += sample[px[0]] * w[0]
		g += sample[px[1]] * w[0]
		b += sample[px[2]] * w[0]
		w, px = w[1:], px[3:]
	}
	return r, g, b
}

// verticalRowSIMD, where the build and the CPU have one
// (resample_avx2.go), is verticalRow in vector instructions.
var verticalRowSIMD func(out, rows []byte, stride int, w []int32)

// verticalRow writes one output row: the weighted sum of len(w) rows of
// rows, each stride bytes after the last, into out (stride bytes), using
// acc (stride values) as scratch. Rows are added two at a time, reading
// memory in order.
func verticalRow(out, rows []byte, stride int, w []int32, acc []int32) {
	acc = acc[:stride]
	for i := range acc {
		acc[i] = half
	}
	j := 0
	for ; j+2 <= len(w); j += 2 {
		r0 := rows[j*stride : (j+1)*stride]
		r1 := rows[(j+1)*stride : (j+2)*stride]
		w0, w1 := w[j], w[j+1]
		for i := range acc {
			acc[i] += int32(r0[i])*w0 + int32(r1[i])*w1
		}
	}
	if j < len(w) {
		r0 := rows[j*stride : (j+1)*stride]
		for i := range acc {
			acc[i] += int32(r0[i]) * w[j]
		}
	}
	out = out[:stride]
	for i, a := range acc {
		out[i] = clip8(a)
	}
}

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
}

// weights returns output i's first input and its weights.
func (a *axis) weights(i int) (int, []int32) {
	j := i - a.first
	return a.start[j], a.w[j*a.ksize : j*a.ksize+a.n[j]]
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
		for y := rowLo; y < rowHi; y++ {
			in := src.Pix[3*y*src.W : 3*(y+1)*src.W]
			out := tmp.Pix[3*(y-rowLo)*cols : 3*(y-rowLo+1)*cols]
			for x := cx0; x < cx1; x++ {
				start, w := horiz.weights(x)
				px := in[3*start : 3*(start+len(w))]
				r, g, b := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
				for j, wj := range w {
					q := px[3*j : 3*j+3 : 3*j+3]
					r += int32(q[0]) * wj
					g += int32(q[1]) * wj
					b += int32(q[2]) * wj
				}
				o := 3 * (x - cx0)
				out[o], out[o+1], out[o+2] = clip8(r), clip8(g), clip8(b)
			}
		}
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
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		start, w := vert.weights(y)
		first := start - rowLo
		for j, wj := range w {
			row := tmp.Pix[3*(first+j)*cols : 3*(first+j+1)*cols]
			for i, v := range row {
				acc[i] += int32(v) * wj
			}
		}
		for i, a := range acc {
			out[i] = clip8(a)
		}
	}
	return dst
}

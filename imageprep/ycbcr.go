package imageprep

import "image"

// JPEG and lossy WebP store colour as YCbCr with subsampled chroma. Go's
// decoders hand back the planes, and image.YCbCr's own conversion repeats
// each chroma sample (nearest neighbour) with JFIF full-range maths. The
// reference decoders behind Pillow and sharp do otherwise: libjpeg-turbo
// interpolates chroma ("fancy upsampling", a triangle filter) and libwebp
// both interpolates differently and uses limited-range BT.601. The
// functions here reproduce both, so decoded pixels match theirs.

// chromaFactors are the horizontal and vertical subsampling factors.
func chromaFactors(r image.YCbCrSubsampleRatio) (h, v int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

// plane is one chroma plane with its logical size: libjpeg's
// downsampled_width/height, ceil(image size / factor). Reads outside it
// repeat the edge, as libjpeg's context rows and edge cases do.
type plane struct {
	pix          []uint8
	stride, w, h int
}

func (p plane) at(x, y int) int {
	x = min(max(x, 0), p.w-1)
	y = min(max(y, 0), p.h-1)
	return int(p.pix[y*p.stride+x])
}

func chromaPlanes(m *image.YCbCr) (cb, cr plane, hf, vf int) {
	hf, vf = chromaFactors(m.SubsampleRatio)
	b := m.Bounds()
	w, h := (b.Dx()+hf-1)/hf, (b.Dy()+vf-1)/vf
	// Planes are addressed relative to the chroma sample of b.Min.
	off := m.COffset(b.Min.X, b.Min.Y)
	return plane{m.Cb[off:], m.CStride, w, h}, plane{m.Cr[off:], m.CStride, w, h}, hf, vf
}

// jpegUpsampleRow writes the chroma of output row y into out, as
// libjpeg-turbo's jdsample.c: h2v1 and h2v2 are "fancy" (3/4 nearer + 1/4
// further sample per axis, with alternating rounding biases) only when the
// plane is wider than 2 samples, h1v2 always, and anything else repeats
// samples (int_upsample). colsum is scratch of at least p.w values.
func jpegUpsampleRow(p plane, hf, vf, y int, out []uint8, colsum []int32) {
	fancyH := hf == 2 && p.w > 2
	switch {
	case hf == 2 && vf == 1 && fancyH:
		row := p.pix[min(y, p.h-1)*p.stride:][:p.w]
		for c := range colsum[:p.w] {
			colsum[c] = 4 * int32(row[c]) // one row: the vertical weights sum to 4
		}
		fancyColumns(colsum[:p.w], out, 4)
	case vf == 2 && (hf == 1 || fancyH):
		r, far, bias := y/2, y/2+1, int32(2) // odd rows lean on the row below
		if y%2 == 0 {
			far, bias = r-1, 1
		}
		near := p.pix[min(r, p.h-1)*p.stride:][:p.w]
		other := p.pix[min(max(far, 0), p.h-1)*p.stride:][:p.w]
		cs := colsum[:p.w]
		for c := range cs {
			cs[c] = 3*int32(near[c]) + int32(other[c])
		}
		if hf == 1 {
			for x := range out {
				out[x] = uint8((cs[x] + bias) >> 2)
			}
			return
		}
		fancyColumns(cs, out, 16)
	default:
		row := p.pix[min(y/vf, p.h-1)*p.stride:][:p.w]
		for x := range out {
			out[x] = row[x/hf]
		}
	}
}

// fancyColumns interpolates column sums (each the vertical blend, scaled
// by 4) to twice their number: output 2c is (3·cs[c] + cs[c-1]) and 2c+1 is
// (3·cs[c] + cs[c+1]), with libjpeg's biases, edges repeated. div is 16 for
// h2v2 (two 4× blends); h2v1's rows are pre-scaled by 4 to share the code
// and its ((3a + b + 1) >> 2, (3a + b + 2) >> 2) rounding.
func fancyColumns(cs []int32, out []uint8, div int32) {
	shift, even, odd := uint(4), int32(8), int32(7)
	if div == 4 {
		// 4·(3a+b)+4 >> 4 = (3a+b+1) >> 2; 4·(3a+b)+8 >> 4 = (3a+b+2) >> 2.
		even, odd = 4, 8
	}
	// The plane has n ≥ 3 sums and the row is 2n or 2n-1 wide; the edge
	// columns repeat their own sum.
	n := len(cs)
	out[0] = uint8((4*cs[0] + even) >> shift)
	body := out[1 : 2*n-1]
	for c := 0; c+1 < n; c++ {
		a, b := cs[c], cs[c+1]
		p := body[2*c : 2*c+2 : 2*c+2]
		p[0] = uint8((3*a + b + odd) >> shift)
		p[1] = uint8((3*b + a + even) >> shift)
	}
	if len(out) == 2*n {
		out[2*n-1] = uint8((4*cs[n-1] + odd) >> shift)
	}
}

// libjpeg's YCbCr→RGB tables (jdcolor.c build_ycc_rgb_table): 16-bit fixed
// point, Cb→G and Cr→G summed before one rounding shift.
var jpegCrR, jpegCbB, jpegCrG, jpegCbG [256]int32

// rangeLimit clamps v to 0…255 as rangeLimit[(v+rangeOffset)&1023]: the
// sums of a sample and a colour term stay within -227…481.
var rangeLimit [1024]uint8

const rangeOffset = 512

func init() {
	const scaleBits = 16
	fix := func(x float64) int32 { return int32(x*(1<<scaleBits) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		jpegCrR[i] = (fix(1.40200)*x + 1<<(scaleBits-1)) >> scaleBits
		jpegCbB[i] = (fix(1.77200)*x + 1<<(scaleBits-1)) >> scaleBits
		jpegCrG[i] = -fix(0.71414) * x
		jpegCbG[i] = -fix(0.34414)*x + 1<<(scaleBits-1)
	}
	for i := range rangeLimit {
		rangeLimit[i] = clamp8(i - rangeOffset)
	}
}

func jpegYCbCrToRGB(m *image.YCbCr) *RGB {
	b := m.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	cb, cr, hf, vf := chromaPlanes(m)
	cbRow, crRow := make([]uint8, out.W), make([]uint8, out.W)
	colsum := make([]int32, cb.w)
	for y := range out.H {
		jpegUpsampleRow(cb, hf, vf, y, cbRow, colsum)
		jpegUpsampleRow(cr, hf, vf, y, crRow, colsum)
		yRow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):][:out.W]
		o := out.Pix[3*y*out.W : 3*(y+1)*out.W]
		cbRow, crRow := cbRow[:len(yRow)], crRow[:len(yRow)]
		for x, l := range yRow {
			u, v, y := cbRow[x], crRow[x], int32(l)+rangeOffset
			px := o[3*x : 3*x+3 : 3*x+3]
			px[0] = rangeLimit[(y+jpegCrR[v])&1023]
			px[1] = rangeLimit[(y+(jpegCbG[u]+jpegCrG[v])>>16)&1023]
			px[2] = rangeLimit[(y+jpegCbB[u])&1023]
		}
	}
	return out
}

// webpUpsampleRow writes the chroma of output row y into out as libwebp's
// fancy upsampler (upsampling.c, EmitFancyRGB) does for 4:2:0: row 0 and
// the last row of an even-height image use one chroma row; every other
// row blends its nearer chroma row with the further one, and columns are
// blended through the two diagonals of each 2×2 chroma neighbourhood.
func webpUpsampleRow(p plane, y int, out []uint8) {
	near, far := y/2, y/2 // row 0 and the last row of an even height
	switch {
	case y%2 == 1 && (y+1)/2 < p.h:
		near, far = y/2, y/2+1
	case y%2 == 0 && y > 0:
		near, far = y/2, y/2-1
	}
	n := func(c int) int { return int(p.pix[near*p.stride+c]) }
	f := func(c int) int { return int(p.pix[far*p.stride+c]) }
	out[0] = uint8((3*n(0) + f(0) + 2) >> 2)
	last := (len(out) - 1) / 2
	for c := 1; c <= last; c++ {
		n0, n1, f0, f1 := n(c-1), n(c), f(c-1), f(c)
		avg := n0 + n1 + f0 + f1 + 8
		out[2*c-1] = uint8(((avg+2*(n1+f0))>>3 + n0) >> 1)
		out[2*c] = uint8(((avg+2*(n0+f1))>>3 + n1) >> 1)
	}
	if len(out)%2 == 0 {
		out[len(out)-1] = uint8((3*n(last) + f(last) + 2) >> 2)
	}
}

// webpClip is libwebp's VP8Clip8 for values with 6 fractional bits.
func webpClip(v int) uint8 {
	if v&^(256<<6-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// webpYCbCrToRGB converts lossy WebP's limited-range BT.601 YUV as libwebp's
// yuv.h does (14-bit multipliers, 6 fractional bits).
func webpYCbCrToRGB(m *image.YCbCr) *RGB {
	if m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return jpegYCbCrToRGB(m) // VP8 is always 4:2:0; anything else is not from libwebp's format
	}
	b := m.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	cb, cr, _, _ := chromaPlanes(m)
	uRow, vRow := make([]uint8, out.W), make([]uint8, out.W)
	mulHi := func(v, c int) int { return (v * c) >> 8 }
	for y := range out.H {
		webpUpsampleRow(cb, y, uRow)
		webpUpsampleRow(cr, y, vRow)
		yRow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		o := out.Pix[3*y*out.W : 3*(y+1)*out.W]
		for x := range out.W {
			l, u, v := mulHi(int(yRow[x]), 19077), int(uRow[x]), int(vRow[x])
			o[3*x] = webpClip(l + mulHi(v, 26149) - 14234)
			o[3*x+1] = webpClip(l - mulHi(u, 6419) - mulHi(v, 13320) + 8708)
			o[3*x+2] = webpClip(l + mulHi(u, 33050) - 17685)
		}
	}
	return out
}

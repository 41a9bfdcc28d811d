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
// samples (int_upsample).
func jpegUpsampleRow(p plane, hf, vf, y int, out []uint8) {
	fancyH := hf == 2 && p.w > 2
	switch {
	case hf == 2 && vf == 1 && fancyH:
		for x := range out {
			c := x / 2
			if x%2 == 0 {
				out[x] = uint8((3*p.at(c, y) + p.at(c-1, y) + 1) >> 2)
			} else {
				out[x] = uint8((3*p.at(c, y) + p.at(c+1, y) + 2) >> 2)
			}
		}
	case vf == 2 && (hf == 1 || fancyH):
		r, far, bias := y/2, y/2+1, 2 // odd rows lean on the row below
		if y%2 == 0 {
			far, bias = r-1, 1
		}
		colsum := func(c int) int { return 3*p.at(c, r) + p.at(c, far) }
		if hf == 1 {
			for x := range out {
				out[x] = uint8((colsum(x) + bias) >> 2)
			}
			return
		}
		for x := range out {
			c := x / 2
			if x%2 == 0 {
				out[x] = uint8((3*colsum(c) + colsum(c-1) + 8) >> 4)
			} else {
				out[x] = uint8((3*colsum(c) + colsum(c+1) + 7) >> 4)
			}
		}
	default:
		for x := range out {
			out[x] = uint8(p.at(x/hf, y/vf))
		}
	}
}

// libjpeg's YCbCr→RGB tables (jdcolor.c build_ycc_rgb_table): 16-bit fixed
// point, Cb→G and Cr→G summed before one rounding shift.
var jpegCrR, jpegCbB, jpegCrG, jpegCbG [256]int

func init() {
	const scaleBits = 16
	fix := func(x float64) int { return int(x*(1<<scaleBits) + 0.5) }
	for i := range 256 {
		x := i - 128
		jpegCrR[i] = (fix(1.40200)*x + 1<<(scaleBits-1)) >> scaleBits
		jpegCbB[i] = (fix(1.77200)*x + 1<<(scaleBits-1)) >> scaleBits
		jpegCrG[i] = -fix(0.71414) * x
		jpegCbG[i] = -fix(0.34414)*x + 1<<(scaleBits-1)
	}
}

func jpegYCbCrToRGB(m *image.YCbCr) *RGB {
	b := m.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	cb, cr, hf, vf := chromaPlanes(m)
	cbRow, crRow := make([]uint8, out.W), make([]uint8, out.W)
	for y := range out.H {
		jpegUpsampleRow(cb, hf, vf, y, cbRow)
		jpegUpsampleRow(cr, hf, vf, y, crRow)
		yRow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		o := out.Pix[3*y*out.W : 3*(y+1)*out.W]
		for x := range out.W {
			l, u, v := int(yRow[x]), cbRow[x], crRow[x]
			o[3*x] = clamp8(l + jpegCrR[v])
			o[3*x+1] = clamp8(l + (jpegCbG[u]+jpegCrG[v])>>16)
			o[3*x+2] = clamp8(l + jpegCbB[u])
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

package imageprep

import (
	"image"
	"image/color"
)

// RGB is an 8-bit image with three packed channels and no padding: pixel
// (x, y) is Pix[3*(y*W+x) : 3*(y*W+x)+3]. It is what Pillow calls mode
// "RGB", the form every image takes before resizing.
type RGB struct {
	W, H int
	Pix  []byte

	// draft is set when a JPEG was decoded at a reduced scale for a
	// Processor (Processor.Decode); Prepare then resizes as if from the
	// full image.
	draft draft
}

func newRGB(w, h int) *RGB {
	return &RGB{W: w, H: h, Pix: make([]byte, 3*w*h)}
}

// toRGB converts a decoded image as Pillow's convert("RGB") does: alpha is
// dropped, not composited (a transparent pixel keeps its own colour),
// greyscale is replicated, 16-bit samples keep their high byte. JPEG's and
// WebP's YCbCr (told apart by format) are converted as their reference decoders do (libjpeg-turbo
// and libwebp, which Pillow and sharp use), so pixels match theirs.
func toRGB(img image.Image, format string) *RGB {
	switch m := img.(type) {
	case *image.YCbCr:
		if format == "webp" {
			return webpYCbCrToRGB(m)
		}
		return jpegYCbCrToRGB(m)
	case *image.NYCbCrA:
		if format == "webp" {
			return webpYCbCrToRGB(&m.YCbCr)
		}
		return jpegYCbCrToRGB(&m.YCbCr)
	case *image.NRGBA:
		return fromNRGBA(m)
	case *image.RGBA:
		return fromRGBA(m)
	case *image.Gray:
		return fromGray(m)
	case *image.Paletted:
		return fromPaletted(m)
	case *image.CMYK:
		return fromCMYK(m)
	}
	return fromAny(img)
}

func fromNRGBA(m *image.NRGBA) *RGB {
	b := m.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	for y := range out.H {
		row := m.Pix[(y)*m.Stride : y*m.Stride+4*out.W]
		o := out.Pix[3*y*out.W:]
		for x := range out.W {
			o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
	return out
}

// fromRGBA copies opaque pixels and un-premultiplies the others as
// fromAny does. Go's PNG decoder returns an opaque *image.RGBA for every
// truecolour PNG without alpha, so this is the common case, and going
// through fromAny's interface call per pixel doubled the decode time.
func fromRGBA(m *image.RGBA) *RGB {
	b := m.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	for y := range out.H {
		row := m.Pix[y*m.Stride : y*m.Stride+4*out.W]
		o := out.Pix[3*y*out.W : 3*(y+1)*out.W]
		for x := range out.W {
			p := row[4*x : 4*x+4 : 4*x+4]
			if p[3] == 255 {
				o[3*x], o[3*x+1], o[3*x+2] = p[0], p[1], p[2]
				continue
			}
			c := color.NRGBA64Model.Convert(color.RGBA{p[0], p[1], p[2], p[3]}).(color.NRGBA64)
			o[3*x], o[3*x+1], o[3*x+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
		}
	}
	return out
}

func fromGray(m *image.Gray) *RGB {
	b := m.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	for y := range out.H {
		row := m.Pix[y*m.Stride : y*m.Stride+out.W]
		o := out.Pix[3*y*out.W:]
		for x, v := range row {
			o[3*x], o[3*x+1], o[3*x+2] = v, v, v
		}
	}
	return out
}

func fromPaletted(m *image.Paletted) *RGB {
	var lut [256][3]byte
	for i, c := range m.Palette {
		n := nrgba(c)
		lut[i] = [3]byte{n.R, n.G, n.B}
	}
	b := m.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	for y := range out.H {
		row := m.Pix[y*m.Stride : y*m.Stride+out.W]
		o := out.Pix[3*y*out.W:]
		for x, idx := range row {
			copy(o[3*x:3*x+3], lut[idx][:])
		}
	}
	return out
}

// fromCMYK uses Pillow's cmyk2rgb: each channel is (255-k)·(255-c)/255 with
// Pillow's rounded division by 255.
func fromCMYK(m *image.CMYK) *RGB {
	b := m.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	for y := range out.H {
		row := m.Pix[y*m.Stride : y*m.Stride+4*out.W]
		o := out.Pix[3*y*out.W:]
		for x := range out.W {
			nk := 255 - int(row[4*x+3])
			for c := range 3 {
				o[3*x+c] = clamp8(nk - mulDiv255(int(row[4*x+c]), nk))
			}
		}
	}
	return out
}

// mulDiv255 is Pillow's MULDIV255: a·b/255 rounded, without a division.
func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

func clamp8(v int) uint8 {
	return uint8(min(max(v, 0), 255))
}

// fromAny handles the rarer image types (16-bit, premultiplied RGBA, …)
// through the colour model: un-premultiplied, high byte of 16 bits.
func fromAny(img image.Image) *RGB {
	b := img.Bounds()
	out := newRGB(b.Dx(), b.Dy())
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
			i += 3
		}
	}
	return out
}

func nrgba(c color.Color) color.NRGBA {
	return color.NRGBAModel.Convert(c).(color.NRGBA)
}

package imageprep

import "bytes"

// JPEGDecoder names the JPEG decoder this binary was built with, and for
// Go's, what to install for the fast one; for `edgeinfer doctor` and logs.
// With cgo and libjpeg-turbo's headers (jpeglib.h) the build links
// libjpeg-turbo, the decoder Pillow uses; with CGO_ENABLED=0 or -tags
// nolibjpeg it uses Go's image/jpeg.
func JPEGDecoder() string { return jpegDecoder }

// isJPEG is image.DecodeConfig's test for the JPEG format: a start-of-image
// marker.
func isJPEG(data []byte) bool { return bytes.HasPrefix(data, []byte("\xff\xd8")) }

// draft records that an image was decoded at a reduced scale: it shows the
// full w×h picture (after orientation) at 1/scale of its size, rounded up.
// The rounding adds a partial last column and row to the stored image;
// after orientation they may be on the left (flipX) or at the top (flipY).
type draft struct {
	scale        int
	w, h         int
	flipX, flipY bool
}

// box is the part of the decoded image, in its pixels, that shows the
// picture: Pillow's resize box.
func (d draft) box(decodedW, decodedH int) (x0, y0, x1, y1 float64) {
	s := float64(d.scale)
	bw, bh := float64(d.w)/s, float64(d.h)/s
	if d.flipX {
		x0 = float64(decodedW) - bw
	}
	if d.flipY {
		y0 = float64(decodedH) - bh
	}
	return x0, y0, x0 + bw, y0 + bh
}

// newDraft describes a decode at 1/scale of a w×h stored image shown with
// EXIF orientation o.
func newDraft(scale, w, h, o int) draft {
	d := draft{scale: scale, w: w, h: h}
	if o >= 5 {
		d.w, d.h = h, w
	}
	// Where orient puts the stored right column and bottom row.
	switch o {
	case 2, 6:
		d.flipX = true
	case 4, 8:
		d.flipY = true
	case 3, 7:
		d.flipX, d.flipY = true, true
	}
	return d
}

// draftScale picks the JPEG DCT scaling the way Pillow's JpegImageFile.draft
// does for a requested size: the largest of 1/8, 1/4, 1/2 that keeps both
// sides at least as large as the resize target fit(w, h), so the resize
// that follows still only shrinks.
func draftScale(w, h int, fit func(w, h int) (int, int)) int {
	rw, rh := fit(w, h)
	if rw <= 0 || rh <= 0 {
		return 1
	}
	scale := min(w/rw, h/rh)
	for _, s := range []int{8, 4, 2} {
		if scale >= s {
			return s
		}
	}
	return 1
}

// invertedCMYKToRGB converts libjpeg's CMYK output to RGB as Pillow does:
// it reads four-component JPEGs as "CMYK;I" (Adobe's inverted polarity,
// whatever the file's markers say) and then applies its cmyk2rgb.
func invertedCMYKToRGB(pix []byte, w, h int) *RGB {
	out := newRGB(w, h)
	for i := range w * h {
		in := pix[4*i : 4*i+4 : 4*i+4]
		nk := int(in[3]) // 255 - (255 - k)
		for c := range 3 {
			out.Pix[3*i+c] = clamp8(nk - mulDiv255(255-int(in[c]), nk))
		}
	}
	return out
}

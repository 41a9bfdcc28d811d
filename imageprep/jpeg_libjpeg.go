//go:build cgo && !nolibjpeg

package imageprep

// #cgo LDFLAGS: -ljpeg
// #include "jpeg_libjpeg.h"
import "C"

import "runtime"

// The decoder Pillow uses, through the same libjpeg API and settings, so
// JPEG pixels match Pillow's exactly.
var jpegDecoder = C.GoString(C.ei_jpeg_version())

// haveLibjpeg: JPEGs are decoded exactly as Pillow does, DCT scaling included.
const haveLibjpeg = true

// decodeJPEG decodes a JPEG with libjpeg-turbo. The header is read and the
// size checked against lim before anything the size of the image is
// allocated; fit, when non-nil, lets libjpeg decode at 1/2, 1/4 or 1/8
// scale (see draftScale).
func decodeJPEG(data []byte, lim Limits, fit func(w, h int) (int, int)) (*RGB, error) {
	j := C.ei_jpeg_new()
	if j == nil {
		return nil, fail(ErrTooLarge, "could not be decoded as jpeg: out of memory")
	}
	defer C.ei_jpeg_free(j)
	// libjpeg keeps a pointer to the input between the calls below.
	var pin runtime.Pinner
	pin.Pin(&data[0])
	defer pin.Unpin()

	var w, h, comps C.int
	if kind := C.ei_jpeg_header(j, (*C.uchar)(&data[0]), C.ulong(len(data)), &w, &h, &comps); kind != 0 {
		return nil, libjpegError(j, kind)
	}
	if err := checkSize(int(w), int(h), lim); err != nil {
		return nil, err
	}
	if comps != 1 && comps != 3 && comps != 4 {
		// Pillow maps 1, 3 and 4 components to L, RGB and CMYK and refuses the rest.
		return nil, fail(ErrUnsupported, "uses a jpeg feature that is not supported: %d colour components", comps)
	}
	o := orientation(data, "jpeg")
	denom := 1
	if fit != nil {
		full := newDraft(1, int(w), int(h), o)
		denom = draftScale(full.w, full.h, fit)
	}
	cmyk := C.int(0)
	if comps == 4 {
		cmyk = 1
	}
	var ow, oh C.int
	if kind := C.ei_jpeg_start(j, C.int(denom), cmyk, &ow, &oh); kind != 0 {
		return nil, libjpegError(j, kind)
	}
	channels := 3
	if comps == 4 {
		channels = 4
	}
	stride := channels * int(ow)
	pix := make([]byte, stride*int(oh))
	if kind := C.ei_jpeg_read(j, (*C.uchar)(&pix[0]), C.size_t(stride)); kind != 0 {
		return nil, libjpegError(j, kind)
	}
	img := &RGB{W: int(ow), H: int(oh), Pix: pix}
	if comps == 4 {
		img = invertedCMYKToRGB(pix, int(ow), int(oh))
	}
	img = orient(img, o)
	if denom > 1 {
		img.draft = newDraft(denom, int(w), int(h), o)
	}
	return img, nil
}

func libjpegError(j *C.ei_jpeg, kind C.int) *Error {
	msg := C.GoString(C.ei_jpeg_message(j))
	switch kind {
	case C.EI_UNSUPPORTED:
		return fail(ErrUnsupported, "uses a jpeg feature that is not supported: %s", msg)
	case C.EI_TOO_LARGE:
		return fail(ErrTooLarge, "is too large to decode as jpeg: %s", msg)
	case C.EI_EMPTY:
		return fail(ErrEmpty, "has no pixels: %s", msg)
	}
	return fail(ErrCorrupt, "could not be decoded as jpeg (truncated or corrupt): %s", msg)
}

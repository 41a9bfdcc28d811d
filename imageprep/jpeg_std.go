//go:build !cgo || nolibjpeg

package imageprep

// Without cgo, or built with -tags nolibjpeg (no jpeglib.h on the machine),
// JPEGs go through Go's image/jpeg: about 5x slower, and up to 3
// levels off libjpeg-turbo's pixels (Go's inverse DCT rounds differently).
const jpegDecoder = "Go image/jpeg (slower; build with cgo and libjpeg-turbo's headers, Debian/Ubuntu package libjpeg-dev, for the fast decoder)"

// haveLibjpeg: no DCT scaling, pixels within 3 levels of Pillow's.
const haveLibjpeg = false

func decodeJPEG(data []byte, lim Limits, _ func(w, h int) (int, int)) (*RGB, error) {
	return decodeStd(data, lim)
}

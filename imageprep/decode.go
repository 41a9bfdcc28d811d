// Package imageprep turns encoded images into model input the way Hugging
// Face's Python image processors do on Pillow: decode (JPEG, PNG, GIF's
// first frame, WebP, BMP, TIFF), apply the EXIF orientation, convert to RGB
// dropping alpha, resize (Pillow's antialiased filters, bit for bit), centre
// crop, rescale and normalize into CHW float32. JPEG goes through
// libjpeg-turbo, as in Pillow, where the build has it (JPEGDecoder).
//
// Decode refuses what it cannot or should not decode with an *Error whose
// Kind says why; Processor.Prepare does the rest on the decoded pixels.
package imageprep

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the decompression-bomb guard: images whose header
// declares more pixels than this are refused before any pixel is decoded.
const DefaultMaxPixels = 40_000_000

// Limits bound what Decode accepts.
type Limits struct {
	// MaxPixels bounds width × height as the image header declares them;
	// 0 means DefaultMaxPixels.
	MaxPixels int64
}

func (l Limits) maxPixels() int64 {
	if l.MaxPixels > 0 {
		return l.MaxPixels
	}
	return DefaultMaxPixels
}

// The kinds of decode failure; every *Error wraps one, for errors.Is.
var (
	ErrUnsupported = errors.New("unsupported image format")
	ErrCorrupt     = errors.New("corrupt image")
	ErrEmpty       = errors.New("empty image")
	ErrTooLarge    = errors.New("image too large")
)

// Error is a decode failure. Its message describes the input, never the
// server, so it can be shown to whoever sent the image.
type Error struct {
	// Kind is ErrUnsupported, ErrCorrupt, ErrEmpty or ErrTooLarge.
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Kind }

func fail(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// decoders are the formats Decode reads, by the name image.DecodeConfig
// reports. Registering them with the image package happens in their own
// packages' init functions; listing them here makes the set explicit.
var decoders = map[string]func([]byte) (image.Image, error){
	"jpeg": func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
	"png":  func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
	"gif":  func(b []byte) (image.Image, error) { return gif.Decode(bytes.NewReader(b)) }, // first frame
	"webp": func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) },
	"bmp":  func(b []byte) (image.Image, error) { return bmp.Decode(bytes.NewReader(b)) },
	"tiff": func(b []byte) (image.Image, error) { return tiff.Decode(bytes.NewReader(b)) },
}

const supported = "JPEG, PNG, GIF, WebP, BMP or TIFF"

// Decode decodes an encoded image into RGB, as Pillow's
// ImageOps.exif_transpose(Image.open(f)).convert("RGB") would. The header
// is read first, so empty and oversized images (decompression bombs) are
// refused before their pixels are decoded.
func Decode(data []byte, lim Limits) (*RGB, error) {
	return decode(data, lim, nil)
}

// decode is Decode; fit, when non-nil, allows a JPEG to be decoded at a
// reduced scale (see draftScale).
func decode(data []byte, lim Limits, fit func(w, h int) (int, int)) (*RGB, error) {
	if len(data) == 0 {
		return nil, fail(ErrEmpty, "is empty (0 bytes)")
	}
	if isJPEG(data) {
		return decodeJPEG(data, lim, fit)
	}
	return decodeStd(data, lim)
}

// decodeStd decodes with Go's image decoders.
func decodeStd(data []byte, lim Limits) (*RGB, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if errors.Is(err, image.ErrFormat) {
		return nil, fail(ErrUnsupported, "is not an image in a supported format (%s)", supported)
	}
	if err != nil {
		return nil, decodeError(format, err)
	}
	if err := checkSize(cfg.Width, cfg.Height, lim); err != nil {
		return nil, err
	}
	decode, ok := decoders[format]
	if !ok { // registered by some other package, not one we support
		return nil, fail(ErrUnsupported, "is a %s image; supported formats are %s", format, supported)
	}
	img, err := safeDecode(decode, data)
	if err != nil {
		return nil, decodeError(format, err)
	}
	b := img.Bounds()
	if err := checkSize(b.Dx(), b.Dy(), lim); err != nil {
		return nil, err
	}
	return orient(toRGB(img, format), orientation(data, format)), nil
}

func checkSize(w, h int, lim Limits) error {
	if w <= 0 || h <= 0 {
		return fail(ErrEmpty, "has no pixels (%d×%d)", w, h)
	}
	if n := int64(w) * int64(h); n > lim.maxPixels() {
		return fail(ErrTooLarge, "is %d×%d pixels (%.1f megapixels), over the limit of %.1f megapixels",
			w, h, float64(n)/1e6, float64(lim.maxPixels())/1e6)
	}
	return nil
}

// safeDecode turns a decoder panic into an error: the decoders come from
// outside this package and see untrusted bytes.
func safeDecode(decode func([]byte) (image.Image, error), data []byte) (img image.Image, err error) {
	defer func() {
		if v := recover(); v != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", v)
		}
	}()
	return decode(data)
}

func decodeError(format string, err error) *Error {
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
		tiffUnsupported tiff.UnsupportedError
	)
	if errors.As(err, &jpegUnsupported) || errors.As(err, &pngUnsupported) || errors.As(err, &tiffUnsupported) {
		return fail(ErrUnsupported, "uses a %s feature that is not supported: %v", format, err)
	}
	return fail(ErrCorrupt, "could not be decoded as %s (truncated or corrupt): %v", format, err)
}

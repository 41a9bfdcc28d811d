package imageprep

import (
	"fmt"
)

// Processor turns a decoded image into one model input: resize, centre
// crop, rescale, normalize, CHW float32. Build one with ParseHFConfig (a
// Hugging Face preprocessor_config.json) or ZooProcessor; the zero value
// does nothing useful.
type Processor struct {
	// Resample is the resize filter.
	Resample Resample
	// ShortestEdge, when set, resizes the shorter side to this many pixels
	// keeping the aspect ratio; the longer side is truncated to an integer,
	// as transformers' get_resize_output_image_size does.
	ShortestEdge int
	// Width and Height, when ShortestEdge is 0, resize to exactly this size.
	Width, Height int
	// CropWidth and CropHeight, when set, cut the centre out of the resized
	// image (offsets rounded down; zero padding where the image is smaller).
	CropWidth, CropHeight int
	// RescaleFactor multiplies the 0–255 samples when DoRescale is set.
	DoRescale     bool
	RescaleFactor float64
	// Mean and Std normalize each channel, (x - mean) / std, when
	// DoNormalize is set, on the rescaled values.
	DoNormalize bool
	Mean, Std   [3]float64
	// DCTScaling lets Decode hand libjpeg-turbo a JPEG to decode at 1/2,
	// 1/4 or 1/8 of its size when the resize target is that much smaller,
	// as Pillow's draft does (see Processor.Decode). Off by default:
	// transformers does not draft, so pixels then differ from its (by 0.2–0.5
	// levels on average), and on generated photos that was enough to change
	// the tiny synthetic ResNet-50's top-1 class once in 32 scaled images.
	DCTScaling bool
}

// ZooProcessor is the ONNX model zoo's recipe for its ResNet-50 models
// (docs/model-files.md §2.2): shorter side to 256 with bilinear filtering,
// centre crop 224, normalized on 0–255 values.
func ZooProcessor() *Processor {
	return &Processor{
		Resample:     Bilinear,
		ShortestEdge: 256,
		CropWidth:    224, CropHeight: 224,
		DoNormalize: true,
		Mean:        [3]float64{123.675, 116.28, 103.53},
		Std:         [3]float64{58.395, 57.12, 57.375},
	}
}

// OutputSize is the height and width of every tensor Prepare writes, or
// ok false when it depends on the input image (no crop, no exact resize).
func (p *Processor) OutputSize() (h, w int, ok bool) {
	switch {
	case p.CropWidth > 0 && p.CropHeight > 0:
		return p.CropHeight, p.CropWidth, true
	case p.ShortestEdge == 0 && p.Width > 0 && p.Height > 0:
		return p.Height, p.Width, true
	}
	return 0, 0, false
}

// Len is the number of float32 values Prepare writes (3 × height × width).
func (p *Processor) Len() int {
	h, w, _ := p.OutputSize()
	return 3 * h * w
}

func (p *Processor) validate() error {
	if _, ok := p.Resample.kernel(); !ok {
		return fmt.Errorf("resample %d is not supported (want 1 lanczos, 2 bilinear, 3 bicubic, 4 box or 5 hamming)", p.Resample)
	}
	if _, _, ok := p.OutputSize(); !ok {
		return fmt.Errorf("the output size depends on the image (set a crop size or an exact resize)")
	}
	for c := range 3 {
		if p.DoNormalize && p.Std[c] == 0 {
			return fmt.Errorf("image_std[%d] is 0", c)
		}
	}
	return nil
}

// resizedSize is where the image is resized to before cropping.
func (p *Processor) resizedSize(w, h int) (int, int) {
	switch {
	case p.ShortestEdge > 0:
		short, long := w, h
		if w > h {
			short, long = h, w
		}
		// Python's int(size * long / short): an exact product, a float
		// division, truncation. The same operations give the same result.
		newLong := int(float64(p.ShortestEdge*long) / float64(short))
		if w <= h {
			return p.ShortestEdge, newLong
		}
		return newLong, p.ShortestEdge
	case p.Width > 0 && p.Height > 0:
		return p.Width, p.Height
	}
	return w, h
}

// floorDiv2 is Python's n // 2.
func floorDiv2(n int) int {
	if n < 0 {
		return -((-n + 1) / 2)
	}
	return n / 2
}

// Decode decodes an image for this processor, as Decode does. With
// DCTScaling, a JPEG at least twice the resize target on both sides is
// decoded at the largest of 1/2, 1/4, 1/8 of its size that keeps it no
// smaller than the target, in a fraction of the time (Pillow's
// draft(mode, target size) followed by resize(target, box=...)). Prepare
// then resizes it to the target of the full image. Limits apply to the
// full size the file declares.
func (p *Processor) Decode(data []byte, lim Limits) (*RGB, error) {
	if !p.DCTScaling {
		return Decode(data, lim)
	}
	return decode(data, lim, p.resizedSize)
}

// Prepare writes img as model input into dst (length Len()), channels
// first: dst[c*H*W + y*W + x].
func (p *Processor) Prepare(img *RGB, dst []float32) error {
	if err := p.validate(); err != nil {
		return err
	}
	if len(dst) != p.Len() {
		return fmt.Errorf("imageprep: output buffer holds %d values, want %d", len(dst), p.Len())
	}
	w, h := img.W, img.H
	if img.draft.scale > 1 {
		w, h = img.draft.w, img.draft.h
	}
	rw, rh := p.resizedSize(w, h)
	win := window{w: rw, h: rh}
	if p.CropWidth > 0 && p.CropHeight > 0 {
		// transformers' center_crop: top = (height - crop) // 2, which is
		// also where the image lands when it is smaller and gets padded.
		win = window{x0: floorDiv2(rw - p.CropWidth), y0: floorDiv2(rh - p.CropHeight), w: p.CropWidth, h: p.CropHeight}
	}
	k, _ := p.Resample.kernel()
	px := resizeWindow(img, rw, rh, k, win)
	lut := p.levels()
	plane := px.W * px.H
	for i := range plane {
		for c := range 3 {
			dst[c*plane+i] = lut[c][px.Pix[3*i+c]]
		}
	}
	return nil
}

// levels maps each 8-bit sample to its final value per channel, with the
// float32 rounding steps of transformers' rescale (computed in float64,
// stored as float32) and normalize (float32 throughout).
func (p *Processor) levels() *[3][256]float32 {
	var lut [3][256]float32
	for c := range 3 {
		mean, std := float32(p.Mean[c]), float32(p.Std[c])
		for v := range 256 {
			x := float32(v)
			if p.DoRescale {
				x = float32(float64(v) * p.RescaleFactor)
			}
			if p.DoNormalize {
				x = (x - mean) / std
			}
			lut[c][v] = x
		}
	}
	return &lut
}

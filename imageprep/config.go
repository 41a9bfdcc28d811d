package imageprep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// hfConfig is the part of a Hugging Face preprocessor_config.json that
// edgeinfer reads. Pointers tell "absent" (take the processor's default)
// from "false" or "0".
type hfConfig struct {
	ImageProcessorType   string          `json:"image_processor_type"`
	FeatureExtractorType string          `json:"feature_extractor_type"`
	DoResize             *bool           `json:"do_resize"`
	Size                 json.RawMessage `json:"size"`
	CropPct              *float64        `json:"crop_pct"`
	Resample             *int            `json:"resample"`
	DoCenterCrop         *bool           `json:"do_center_crop"`
	CropSize             json.RawMessage `json:"crop_size"`
	DoRescale            *bool           `json:"do_rescale"`
	RescaleFactor        *float64        `json:"rescale_factor"`
	DoNormalize          *bool           `json:"do_normalize"`
	ImageMean            json.RawMessage `json:"image_mean"`
	ImageStd             json.RawMessage `json:"image_std"`
}

// size is a transformers size: an int, {"shortest_edge": n} or
// {"height": h, "width": w}.
type size struct {
	Int, ShortestEdge, Height, Width int
}

func parseSize(raw json.RawMessage) (size, error) {
	var s size
	if len(raw) == 0 || string(raw) == "null" {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s.Int); err == nil {
		return s, nil
	}
	var m struct {
		ShortestEdge int `json:"shortest_edge"`
		Height       int `json:"height"`
		Width        int `json:"width"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return s, fmt.Errorf("want an integer or an object: %w", err)
	}
	s.ShortestEdge, s.Height, s.Width = m.ShortestEdge, m.Height, m.Width
	return s, nil
}

// parseChannels reads image_mean/image_std: three numbers or one for all.
func parseChannels(raw json.RawMessage, def [3]float64) ([3]float64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	var one float64
	if err := json.Unmarshal(raw, &one); err == nil {
		return [3]float64{one, one, one}, nil
	}
	var three []float64
	if err := json.Unmarshal(raw, &three); err != nil || len(three) != 3 {
		return def, fmt.Errorf("want 3 numbers, got %s", bytes.TrimSpace(raw))
	}
	return [3]float64(three), nil
}

func orDefault[T any](v *T, def T) T {
	if v != nil {
		return *v
	}
	return def
}

// Transformers' IMAGENET_STANDARD_MEAN and _STD, the ConvNext defaults.
var imagenetStandard = [3]float64{0.5, 0.5, 0.5}

// ParseHFConfig builds a Processor from preprocessor_config.json. It reads
// the ConvNext image processor (microsoft/resnet-50's: shorter side to
// shortest_edge / crop_pct, then a centre crop of shortest_edge; at 384 and
// above a plain square resize), with ConvNextImageProcessor's defaults for
// absent keys. Other processor types are read literally: size (shortest
// edge or exact), optional centre crop, rescale and normalize, all of
// which must then be given.
func ParseHFConfig(raw []byte) (*Processor, error) {
	var c hfConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("preprocessor_config.json: %w", err)
	}
	p, err := c.processor()
	if err != nil {
		return nil, fmt.Errorf("preprocessor_config.json: %w", err)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("preprocessor_config.json: %w", err)
	}
	return p, nil
}

func (c *hfConfig) processor() (*Processor, error) {
	kind := c.ImageProcessorType
	if kind == "" {
		kind = c.FeatureExtractorType
	}
	convNext := strings.HasPrefix(kind, "ConvNext")
	sz, err := parseSize(c.Size)
	if err != nil {
		return nil, fmt.Errorf("size: %w", err)
	}
	p := &Processor{
		DoRescale:     orDefault(c.DoRescale, true),
		RescaleFactor: orDefault(c.RescaleFactor, 1.0/255),
		DoNormalize:   orDefault(c.DoNormalize, true),
	}
	if !convNext && (len(c.ImageMean) == 0 || len(c.ImageStd) == 0) && p.DoNormalize {
		return nil, fmt.Errorf("image_mean and image_std are required for %q", kind)
	}
	if p.Mean, err = parseChannels(c.ImageMean, imagenetStandard); err != nil {
		return nil, fmt.Errorf("image_mean: %w", err)
	}
	if p.Std, err = parseChannels(c.ImageStd, imagenetStandard); err != nil {
		return nil, fmt.Errorf("image_std: %w", err)
	}
	if convNext {
		p.Resample = Resample(orDefault(c.Resample, int(Bilinear)))
		if !orDefault(c.DoResize, true) {
			return nil, fmt.Errorf("do_resize false is not supported: ConvNext's output size would depend on the image")
		}
		shortest := sz.ShortestEdge
		if sz.Int > 0 { // older configs write "size": 224
			shortest = sz.Int
		}
		if len(c.Size) == 0 {
			shortest = 384
		}
		if shortest <= 0 {
			return nil, fmt.Errorf("size: want shortest_edge > 0")
		}
		if shortest >= 384 { // warped to a square, no crop
			p.Width, p.Height = shortest, shortest
			return p, nil
		}
		pct := orDefault(c.CropPct, 224.0/256)
		if pct <= 0 || pct > 1 {
			return nil, fmt.Errorf("crop_pct: %v is not in (0, 1]", pct)
		}
		p.ShortestEdge = int(float64(shortest) / pct)
		p.CropWidth, p.CropHeight = shortest, shortest
		return p, nil
	}

	if c.Resample == nil {
		return nil, fmt.Errorf("resample is required for %q", kind)
	}
	p.Resample = Resample(*c.Resample)
	if orDefault(c.DoResize, true) {
		switch {
		case sz.ShortestEdge > 0:
			p.ShortestEdge = sz.ShortestEdge
		case sz.Int > 0:
			p.Width, p.Height = sz.Int, sz.Int
		case sz.Height > 0 && sz.Width > 0:
			p.Width, p.Height = sz.Width, sz.Height
		default:
			return nil, fmt.Errorf("size: want an integer, shortest_edge, or height and width")
		}
	}
	if orDefault(c.DoCenterCrop, false) {
		crop, err := parseSize(c.CropSize)
		if err != nil {
			return nil, fmt.Errorf("crop_size: %w", err)
		}
		switch {
		case crop.Int > 0:
			p.CropWidth, p.CropHeight = crop.Int, crop.Int
		case crop.Height > 0 && crop.Width > 0:
			p.CropWidth, p.CropHeight = crop.Width, crop.Height
		default:
			return nil, fmt.Errorf("crop_size: want an integer, or height and width")
		}
	}
	return p, nil
}

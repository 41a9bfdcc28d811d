package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
)

// ImageInput is a validated image-classification request: the encoded image
// bytes, whichever way they arrived (raw body, number array or base64).
type ImageInput struct {
	Image []byte
}

// Classification is one label of an image-classification result.
type Classification struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Classifier is implemented by image-classification backends. The result is
// sorted by descending score (Workers AI returns the top 5).
type Classifier interface {
	Classify(ctx context.Context, in *ImageInput) ([]Classification, error)
}

func decodeImageJSON(raw []byte) (*ImageInput, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	if !f.has("image") {
		return nil, BadInput("image", "is required (send the image bytes as the body, an array of 0-255 integers, or a base64 string)")
	}
	switch jsonKind(f.m["image"]) {
	case "a string":
		s, _, err := f.str("image")
		if err != nil {
			return nil, err
		}
		b, err := decodeBase64(s)
		if err != nil {
			return nil, BadInput("image", "is not valid base64: %v", err)
		}
		return checkImageBytes(b)
	case "an array":
		var nums []json.Number
		if err := json.Unmarshal(f.m["image"], &nums); err != nil {
			return nil, BadInput("image", "must be an array of integers 0-255")
		}
		b := make([]byte, len(nums))
		for i, n := range nums {
			v, err := n.Float64()
			if err != nil || v != math.Trunc(v) || v < 0 || v > 255 {
				return nil, BadInput(indexPath("image", i), "must be an integer 0-255, got %s", n.String())
			}
			b[i] = byte(v)
		}
		return checkImageBytes(b)
	default:
		return nil, BadInput("image", "must be an array of integers 0-255 or a base64 string, got %s", jsonKind(f.m["image"]))
	}
}

// decodeBase64 accepts standard or URL alphabets, padded or not, and an
// optional data: URL prefix.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasPrefix(s, "data:") {
		if i := strings.Index(s, ","); i >= 0 {
			s = s[i+1:]
		}
	}
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func checkImageBytes(b []byte) (*ImageInput, error) {
	if len(b) == 0 {
		return nil, BadInput("image", "must not be empty")
	}
	return &ImageInput{Image: b}, nil
}

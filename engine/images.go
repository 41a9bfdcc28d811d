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
	b, err := requiredImage(f)
	if err != nil {
		return nil, err
	}
	return checkImageBytes(b)
}

// requiredImage reads the request's image field, which must be there.
func requiredImage(f *fields) ([]byte, error) {
	if !f.has("image") {
		return nil, BadInput("image", "is required (send the image bytes as the body, an array of 0-255 integers, or a base64 string)")
	}
	return decodeImageValue("image", f.m["image"])
}

// decodeImageValue reads image bytes sent in JSON: a base64 string (or a
// data: URL) or an array of integers 0-255. Errors name path.
func decodeImageValue(path string, raw json.RawMessage) ([]byte, error) {
	switch jsonKind(raw) {
	case "a string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, BadInput(path, "must be a string")
		}
		b, err := decodeBase64(s)
		if err != nil {
			return nil, BadInput(path, "is not valid base64: %v", err)
		}
		return b, nil
	case "an array":
		var nums []json.Number
		if err := json.Unmarshal(raw, &nums); err != nil {
			return nil, BadInput(path, "must be an array of integers 0-255")
		}
		b := make([]byte, len(nums))
		for i, n := range nums {
			v, err := n.Float64()
			if err != nil || v != math.Trunc(v) || v < 0 || v > 255 {
				return nil, BadInput(indexPath(path, i), "must be an integer 0-255, got %s", n.String())
			}
			b[i] = byte(v)
		}
		return b, nil
	default:
		return nil, BadInput(path, "must be an array of integers 0-255 or a base64 string, got %s", jsonKind(raw))
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

package faults

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"testing"
)

// pngJSON is a small PNG as the JSON byte array the image models take.
func pngJSON(t *testing.T) string {
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 13)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	ints := make([]int, buf.Len())
	for i, b := range buf.Bytes() {
		ints[i] = int(b)
	}
	raw, _ := json.Marshal(ints)
	return string(raw)
}

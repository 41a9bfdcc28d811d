package imageprep

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"testing"

	"github.com/edgeinfer/edgeinfer/imageprep/imagetest"
)

// BenchmarkDecodeAndPrepare measures bytes in → CHW tensor out for the
// HF ResNet-50 preprocessing at three photo sizes.
func BenchmarkDecodeAndPrepare(b *testing.B) {
	p, err := ParseHFConfig([]byte(`{"crop_pct":0.875,"do_normalize":true,"do_rescale":true,"do_resize":true,
		"image_processor_type":"ConvNextImageProcessor","image_mean":[0.485,0.456,0.406],"image_std":[0.229,0.224,0.225],"resample":3,
		"rescale_factor":0.00392156862745098,"size":{"shortest_edge":224}}`))
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range [][2]int{{320, 240}, {1024, 768}, {1920, 1080}} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, imagetest.Photo(size[0], size[1], 1), &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
		dst := make([]float32, p.Len())
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				img, err := Decode(buf.Bytes(), Limits{})
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Prepare(img, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPrepare1080p measures resize + crop + normalize alone for a
// decoded 1920×1080 photo with the HF ResNet-50 recipe (bicubic, shorter
// side 256, centre crop 224).
func BenchmarkPrepare1080p(b *testing.B) {
	p, err := ParseHFConfig([]byte(resnetConfig))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, imagetest.Photo(1920, 1080, 1), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	img, err := Decode(buf.Bytes(), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, p.Len())
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Prepare(img, dst); err != nil {
			b.Fatal(err)
		}
	}
}

package imageprep

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseHFConfig(t *testing.T) {
	imagenetMean, imagenetStd := [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}
	resnet := Processor{Resample: Bicubic, ShortestEdge: 256, CropWidth: 224, CropHeight: 224,
		DoRescale: true, RescaleFactor: 0.00392156862745098, DoNormalize: true, Mean: imagenetMean, Std: imagenetStd}
	cases := []struct {
		name, json string
		want       Processor
	}{
		{"microsoft/resnet-50 (Xenova)", resnetConfig, resnet},
		{"older form: size as an int, rescale keys absent, feature extractor",
			`{"crop_pct": 0.875, "do_normalize": true, "do_resize": true, "feature_extractor_type": "ConvNextFeatureExtractor",
			  "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "resample": 3, "size": 224}`,
			Processor{Resample: Bicubic, ShortestEdge: 256, CropWidth: 224, CropHeight: 224,
				DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true, Mean: imagenetMean, Std: imagenetStd}},
		{"ConvNext defaults", `{"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 224}}`,
			Processor{Resample: Bilinear, ShortestEdge: 256, CropWidth: 224, CropHeight: 224,
				DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true, Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.5, 0.5, 0.5}}},
		{"ConvNext at 384 warps to a square", `{"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 384}, "resample": 3}`,
			Processor{Resample: Bicubic, Width: 384, Height: 384,
				DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true, Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.5, 0.5, 0.5}}},
		{"crop_pct 0.95", `{"image_processor_type": "ConvNextImageProcessor", "size": 224, "crop_pct": 0.95}`,
			Processor{Resample: Bilinear, ShortestEdge: 235, CropWidth: 224, CropHeight: 224,
				DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true, Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.5, 0.5, 0.5}}},
		{"ViT: exact size, scalar mean", `{"image_processor_type": "ViTImageProcessor", "size": {"height": 224, "width": 224},
			"resample": 2, "do_rescale": true, "rescale_factor": 0.00392156862745098, "image_mean": 0.5, "image_std": [0.5, 0.5, 0.5]}`,
			Processor{Resample: Bilinear, Width: 224, Height: 224,
				DoRescale: true, RescaleFactor: 0.00392156862745098, DoNormalize: true, Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.5, 0.5, 0.5}}},
		{"CLIP-style: shortest edge then crop", `{"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 224},
			"do_center_crop": true, "crop_size": 224, "resample": 3, "image_mean": [0.48, 0.45, 0.4], "image_std": [0.26, 0.26, 0.27]}`,
			Processor{Resample: Bicubic, ShortestEdge: 224, CropWidth: 224, CropHeight: 224,
				DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true, Mean: [3]float64{0.48, 0.45, 0.4}, Std: [3]float64{0.26, 0.26, 0.27}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseHFConfig([]byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", *got, c.want)
			}
		})
	}
}

func TestParseHFConfigErrors(t *testing.T) {
	cases := []struct{ name, json, msg string }{
		{"not JSON", `{"size":`, "unexpected end"},
		{"nearest", `{"image_processor_type": "ConvNextImageProcessor", "size": 224, "resample": 0}`, "resample 0 is not supported"},
		{"two means", `{"image_processor_type": "ConvNextImageProcessor", "size": 224, "image_mean": [0.5, 0.5]}`, "image_mean: want 3 numbers"},
		{"zero std", `{"image_processor_type": "ConvNextImageProcessor", "size": 224, "image_std": [0.5, 0, 0.5]}`, "image_std[1] is 0"},
		{"crop_pct 0", `{"image_processor_type": "ConvNextImageProcessor", "size": 224, "crop_pct": 0}`, "crop_pct"},
		{"bad size", `{"image_processor_type": "ConvNextImageProcessor", "size": "big"}`, "size"},
		{"ConvNext without resize", `{"image_processor_type": "ConvNextImageProcessor", "size": 224, "do_resize": false}`, "do_resize"},
		{"variable output", `{"image_processor_type": "X", "size": {"shortest_edge": 224}, "resample": 2, "image_mean": 0.5, "image_std": 0.5}`, "depends on the image"},
		{"missing resample", `{"image_processor_type": "X", "size": 224, "image_mean": 0.5, "image_std": 0.5}`, "resample is required"},
		{"missing mean", `{"image_processor_type": "X", "size": 224, "resample": 2}`, "image_mean and image_std are required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseHFConfig([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.HasPrefix(err.Error(), "preprocessor_config.json: ") {
				t.Fatalf("got %v, want an error about %q", err, c.msg)
			}
		})
	}
}

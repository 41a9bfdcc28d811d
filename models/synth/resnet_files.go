package synth

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// imagenetSynset lists the 1,000 ImageNet-1k classes in index order, one
// "wnid label" per line; see assets/README.md.
//
//go:embed assets/imagenet-synset.txt
var imagenetSynset string

// ImageNetLabels returns the 1,000 ImageNet-1k class labels in class-index
// order, as Hugging Face's id2label and the zoo's synset.txt name them.
func ImageNetLabels() []string {
	lines := strings.Split(strings.TrimSuffix(imagenetSynset, "\n"), "\n")
	labels := make([]string, len(lines))
	for i, line := range lines {
		_, labels[i], _ = strings.Cut(line, " ")
	}
	return labels
}

// id2label marshals as {"0": …, "1": …} in numeric order, the way
// transformers writes it (encoding/json would sort the keys as strings).
type id2label []string

func (l id2label) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		v, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		b.WriteString(strconv.Quote(strconv.Itoa(i)) + ":")
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// label2id marshals the inverse map in first-appearance order. ImageNet
// names two classes "crane" (134, the bird; 517, the machine); like the
// Python dict inversion transformers uses, the later id wins.
type label2id []string

func (l label2id) MarshalJSON() ([]byte, error) {
	last := map[string]int{}
	for i, name := range l {
		last[name] = i
	}
	var b bytes.Buffer
	b.WriteByte('{')
	seen := map[string]bool{}
	for _, name := range l {
		if seen[name] {
			continue
		}
		seen[name] = true
		if len(seen) > 1 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteString(":" + strconv.Itoa(last[name]))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// resnetConfig is config.json of ResNetForImageClassification
// (docs/model-files.md §2.1).
type resnetConfig struct {
	Architectures          []string `json:"architectures"`
	Depths                 []int    `json:"depths"`
	DownsampleInFirstStage bool     `json:"downsample_in_first_stage"`
	EmbeddingSize          int      `json:"embedding_size"`
	HiddenAct              string   `json:"hidden_act"`
	HiddenSizes            []int    `json:"hidden_sizes"`
	ID2Label               id2label `json:"id2label"`
	Label2ID               label2id `json:"label2id"`
	LayerType              string   `json:"layer_type"`
	ModelType              string   `json:"model_type"`
	NumChannels            int      `json:"num_channels"`
	TorchDtype             string   `json:"torch_dtype"`
	TransformersVersion    string   `json:"transformers_version"`
	Synthetic              bool     `json:"edgeinfer_synthetic"`
}

func writeResNetCompanions(dir string, d ResNetDims) error {
	labels := ImageNetLabels()
	cfg := resnetConfig{
		Architectures: []string{"ResNetForImageClassification"}, Depths: d.Depths,
		EmbeddingSize: d.EmbeddingSize, HiddenAct: "relu", HiddenSizes: d.HiddenSizes,
		ID2Label: labels, Label2ID: labels, LayerType: "bottleneck", ModelType: "resnet",
		NumChannels: 3, TorchDtype: "float32", TransformersVersion: "4.18.0.dev0", Synthetic: true,
	}
	if err := writeJSONFile(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	// The ConvNext image processor settings microsoft/resnet-50 uses:
	// shorter side to 224/0.875 = 256 (bicubic), centre crop 224, 1/255,
	// ImageNet mean and std.
	return writeJSONFile(filepath.Join(dir, "preprocessor_config.json"), map[string]any{
		"crop_pct": 0.875, "do_normalize": true, "do_rescale": true, "do_resize": true,
		"image_mean": []float64{0.485, 0.456, 0.406}, "image_std": []float64{0.229, 0.224, 0.225},
		"image_processor_type": "ConvNextImageProcessor", "resample": 3,
		"rescale_factor": 1.0 / 255, "size": map[string]int{"shortest_edge": 224},
	})
}

func writeZooSynset(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(imagenetSynset), 0o644)
}

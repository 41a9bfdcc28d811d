package synth

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// ResNetModelID is the Workers AI image classification model.
const ResNetModelID = "@cf/microsoft/resnet-50"

// ResNet file names: the Hugging Face export (onnx/model.onnx beside
// config.json) and the ONNX model zoo fixture (a bare model + synset.txt).
const (
	ResNetModelFile        = "onnx/model.onnx"
	ResNetFloat16ModelFile = "onnx/model_fp16.onnx"
	ResNetZooModelFile     = "resnet50-v1-7.onnx"
	ResNetZooSynset        = "synset.txt"
)

// ResNetDims are the dimensions of a bottleneck ResNet.
type ResNetDims struct {
	// EmbeddingSize is the width of the 7×7 stem convolution.
	EmbeddingSize int
	// HiddenSizes are the output widths of the four stages; each bottleneck
	// narrows to a quarter of its stage's width.
	HiddenSizes []int
	// Depths are the bottleneck blocks per stage.
	Depths    []int
	NumLabels int
}

// ResNetPresetDims returns ResNet-50's dimensions for Full, and the same
// topology with one block per stage and narrow widths for Tiny; both keep
// the 1,000 ImageNet classes.
func ResNetPresetDims(p Preset) ResNetDims {
	if p == Full {
		return ResNetDims{EmbeddingSize: 64, HiddenSizes: []int{256, 512, 1024, 2048}, Depths: []int{3, 4, 6, 3}, NumLabels: 1000}
	}
	return ResNetDims{EmbeddingSize: 8, HiddenSizes: []int{16, 32, 64, 128}, Depths: []int{1, 1, 1, 1}, NumLabels: 1000}
}

// resnetFlavor is what differs between the two exports of ResNet-50.
type resnetFlavor struct {
	input, output string
	inputDims     []onnxgraph.Dim
	outputDims    []onnxgraph.Dim
	// strideOn3x3 is ResNet v1.5 (torchvision, microsoft/resnet-50); v1
	// (the zoo's gluon export) strides on the first 1×1 convolution.
	strideOn3x3 bool
}

var (
	resnetHF = resnetFlavor{
		input: "pixel_values", output: "logits", strideOn3x3: true,
		inputDims: []onnxgraph.Dim{onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("num_channels"),
			onnxgraph.Dynamic("height"), onnxgraph.Dynamic("width")},
		outputDims: []onnxgraph.Dim{onnxgraph.Dynamic("batch_size"), onnxgraph.Fixed(1000)},
	}
	resnetZoo = resnetFlavor{
		input: "data", output: "resnetv17_dense0_fwd", strideOn3x3: false,
		inputDims:  []onnxgraph.Dim{onnxgraph.Dynamic("N"), onnxgraph.Fixed(3), onnxgraph.Fixed(224), onnxgraph.Fixed(224)},
		outputDims: []onnxgraph.Dim{onnxgraph.Dynamic("N"), onnxgraph.Fixed(1000)},
	}
)

func init() {
	register(Generator{Model: ResNetModelID, Generate: generateResNet})
}

func generateResNet(ctx context.Context, dir string, o Options) error {
	d := ResNetPresetDims(o.Preset)
	g := buildResNet(d, resnetHF, newWeightSource(o.Seed, ResNetModelID))
	if err := ctx.Err(); err != nil {
		return err
	}
	m := onnxgraph.NewModel(g)
	m.Metadata = map[string]string{MarkerKey: "true", "upstream": "microsoft/resnet-50"}
	if err := m.Save(filepath.Join(dir, filepath.FromSlash(ResNetModelFile))); err != nil {
		return err
	}
	if o.Float16 {
		g.ToFloat16() // the same weights, rounded
		if err := m.Save(filepath.Join(dir, filepath.FromSlash(ResNetFloat16ModelFile))); err != nil {
			return err
		}
	}
	return writeResNetCompanions(dir, d)
}

// GenerateResNetZoo writes the ONNX model zoo flavour of ResNet-50
// (resnet50-v1-7, docs/model-files.md §2.2) into dir: ResNetZooModelFile with
// input "data" [N, 3, 224, 224] and output "resnetv17_dense0_fwd" [N, 1000],
// and the labels as ResNetZooSynset. It is a test fixture for the engine's
// name mapping, not a catalog model, so it is not registered.
func GenerateResNetZoo(ctx context.Context, dir string, o Options) error {
	d := ResNetPresetDims(o.Preset)
	g := buildResNet(d, resnetZoo, newWeightSource(o.Seed, "onnx-model-zoo/resnet50-v1-7"))
	if err := ctx.Err(); err != nil {
		return err
	}
	m := onnxgraph.NewModel(g)
	m.Metadata = map[string]string{MarkerKey: "true", "upstream": "onnx/models resnet50-v1-7"}
	if err := m.Save(filepath.Join(dir, ResNetZooModelFile)); err != nil {
		return err
	}
	return writeZooSynset(filepath.Join(dir, ResNetZooSynset))
}

// resnetBuilder emits a ResNet with batch norm folded into each
// convolution's bias, as exporters do for inference.
type resnetBuilder struct {
	g  *onnxgraph.Graph
	ws weightSource
}

// buildResNet: 7×7/2 stem, 3×3/2 max pool, four stages of bottlenecks,
// global average pool, and a fully connected layer to the logits.
func buildResNet(d ResNetDims, f resnetFlavor, ws weightSource) *onnxgraph.Graph {
	g := onnxgraph.NewGraph("resnet")
	b := &resnetBuilder{g: g, ws: ws}
	x := g.Input(f.input, onnxgraph.Float, f.inputDims...)

	x = b.conv(x, "resnet.embedder.embedder.convolution", 3, d.EmbeddingSize, 7, 2, heGain)
	x = g.Op("Relu", []string{x})
	x = g.Op("MaxPool", []string{x}, onnxgraph.AttrInts("kernel_shape", 3, 3),
		onnxgraph.AttrInts("strides", 2, 2), onnxgraph.AttrInts("pads", 1, 1, 1, 1))

	in := d.EmbeddingSize
	for s, out := range d.HiddenSizes {
		for l := range d.Depths[s] {
			stride := 1
			if l == 0 && s > 0 {
				stride = 2 // downsample_in_first_stage is false
			}
			x = b.bottleneck(x, fmt.Sprintf("resnet.encoder.stages.%d.layers.%d", s, l), in, out, stride, f.strideOn3x3)
			in = out
		}
	}

	x = g.Op("Flatten", []string{g.Op("GlobalAveragePool", []string{x})}, onnxgraph.AttrInt("axis", 1))
	wName, bName := "classifier.1.weight", "classifier.1.bias"
	w := g.Float32(wName, []int64{int64(d.NumLabels), int64(in)}, ws.uniform(wName, d.NumLabels*in, 0, 1/math.Sqrt(float64(in))))
	bias := g.Float32(bName, []int64{int64(d.NumLabels)}, ws.uniform(bName, d.NumLabels, 0, 0.1))
	g.Node("Gemm", []string{x, w, bias}, []string{f.output}, onnxgraph.AttrInt("transB", 1))
	g.Output(f.output, onnxgraph.Float, f.outputDims...)
	return g
}

// Weight gains, as multiples of 1/√fan_in. heGain keeps the variance of a
// convolution followed by ReLU constant; the last convolution of each
// residual branch is scaled down so that adding it to the shortcut grows
// the variance by ~6% per block rather than doubling it, and a deep net's
// logits stay in a sensible range.
const (
	heGain       = math.Sqrt2
	branchGain   = 0.25 * math.Sqrt2
	shortcutGain = 1.0
)

func (b *resnetBuilder) bottleneck(x, prefix string, in, out, stride int, strideOn3x3 bool) string {
	g := b.g
	mid := out / 4
	shortcut := x
	if in != out || stride != 1 {
		shortcut = b.conv(x, prefix+".shortcut.convolution", in, out, 1, stride, shortcutGain)
	}
	s1, s3 := stride, 1
	if strideOn3x3 {
		s1, s3 = 1, stride
	}
	h := g.Op("Relu", []string{b.conv(x, prefix+".layer.0.convolution", in, mid, 1, s1, heGain)})
	h = g.Op("Relu", []string{b.conv(h, prefix+".layer.1.convolution", mid, mid, 3, s3, heGain)})
	h = b.conv(h, prefix+".layer.2.convolution", mid, out, 1, 1, branchGain)
	return g.Op("Relu", []string{g.Op("Add", []string{h, shortcut})})
}

// conv is a k×k convolution with "same" padding for odd k and a bias (the
// folded batch norm). Weights are [out, in, k, k].
func (b *resnetBuilder) conv(x, prefix string, in, out, k, stride int, gain float64) string {
	fanIn := in * k * k
	wName, bName := prefix+".weight", prefix+".bias"
	w := b.g.Float32(wName, []int64{int64(out), int64(in), int64(k), int64(k)},
		b.ws.uniform(wName, out*fanIn, 0, gain/math.Sqrt(float64(fanIn))))
	bias := b.g.Float32(bName, []int64{int64(out)}, b.ws.uniform(bName, out, 0, 0.05))
	p := int64(k / 2)
	return b.g.Op("Conv", []string{x, w, bias},
		onnxgraph.AttrInts("kernel_shape", int64(k), int64(k)),
		onnxgraph.AttrInts("strides", int64(stride), int64(stride)),
		onnxgraph.AttrInts("pads", p, p, p, p))
}

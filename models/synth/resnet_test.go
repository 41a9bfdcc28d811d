package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// nchw is a float64 feature map.
type nchw struct {
	c, h, w int
	v       []float64
}

func (t nchw) at(c, y, x int) float64 { return t.v[(c*t.h+y)*t.w+x] }

// resnetReference is a plain-loop ResNet forward pass written from the
// architecture (torchvision / Hugging Face ResNet with folded batch norm),
// reading its weights from the generated file by name.
type resnetReference struct {
	d           ResNetDims
	w           map[string][]float32
	strideOn3x3 bool
}

// strideOn3x3 is given by the test, not read from the generator's flavor,
// so the reference stays independent of what it checks.
func loadResNetReference(t *testing.T, path string, d ResNetDims, strideOn3x3 bool) *resnetReference {
	t.Helper()
	m, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &resnetReference{d: d, w: map[string][]float32{}, strideOn3x3: strideOn3x3}
	for name, tp := range onnxfile.Initializers(m.GetGraph()) {
		if onnxgraph.DataType(tp.GetDataType()) != onnxgraph.Float {
			continue
		}
		if r.w[name], err = onnxfile.Float32Values(tp, filepath.Dir(path)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *resnetReference) weight(name string) []float32 {
	w, ok := r.w[name]
	if !ok {
		panic("reference: no weight " + name)
	}
	return w
}

// conv is a direct convolution with zero padding k/2.
func (r *resnetReference) conv(x nchw, prefix string, out, k, stride int) nchw {
	w, b := r.weight(prefix+".weight"), r.weight(prefix+".bias")
	pad := k / 2
	oh, ow := (x.h+2*pad-k)/stride+1, (x.w+2*pad-k)/stride+1
	y := nchw{c: out, h: oh, w: ow, v: make([]float64, out*oh*ow)}
	for o := range out {
		for oy := range oh {
			for ox := range ow {
				acc := float64(b[o])
				for c := range x.c {
					for ky := range k {
						iy := oy*stride + ky - pad
						if iy < 0 || iy >= x.h {
							continue
						}
						for kx := range k {
							ix := ox*stride + kx - pad
							if ix < 0 || ix >= x.w {
								continue
							}
							acc += x.at(c, iy, ix) * float64(w[((o*x.c+c)*k+ky)*k+kx])
						}
					}
				}
				y.v[(o*oh+oy)*ow+ox] = acc
			}
		}
	}
	return y
}

func relu(x nchw) nchw {
	for i, v := range x.v {
		x.v[i] = max(v, 0)
	}
	return x
}

// maxPool is 3×3, stride 2, padding 1; padding never wins the max.
func maxPool(x nchw) nchw {
	oh, ow := (x.h+2-3)/2+1, (x.w+2-3)/2+1
	y := nchw{c: x.c, h: oh, w: ow, v: make([]float64, x.c*oh*ow)}
	for c := range x.c {
		for oy := range oh {
			for ox := range ow {
				best := math.Inf(-1)
				for ky := range 3 {
					for kx := range 3 {
						iy, ix := oy*2+ky-1, ox*2+kx-1
						if iy >= 0 && iy < x.h && ix >= 0 && ix < x.w {
							best = max(best, x.at(c, iy, ix))
						}
					}
				}
				y.v[(c*oh+oy)*ow+ox] = best
			}
		}
	}
	return y
}

func (r *resnetReference) forward(img nchw) []float64 {
	x := maxPool(relu(r.conv(img, "resnet.embedder.embedder.convolution", r.d.EmbeddingSize, 7, 2)))
	in := r.d.EmbeddingSize
	for s, out := range r.d.HiddenSizes {
		for l := range r.d.Depths[s] {
			stride := 1
			if l == 0 && s > 0 {
				stride = 2
			}
			p := fmt.Sprintf("resnet.encoder.stages.%d.layers.%d", s, l)
			shortcut := x
			if in != out || stride != 1 {
				shortcut = r.conv(x, p+".shortcut.convolution", out, 1, stride)
			}
			s1, s3 := stride, 1
			if r.strideOn3x3 {
				s1, s3 = 1, stride
			}
			h := relu(r.conv(x, p+".layer.0.convolution", out/4, 1, s1))
			h = relu(r.conv(h, p+".layer.1.convolution", out/4, 3, s3))
			h = r.conv(h, p+".layer.2.convolution", out, 1, 1)
			for i := range h.v {
				h.v[i] += shortcut.v[i]
			}
			x = relu(h)
			in = out
		}
	}
	pooled := make([]float64, x.c)
	for c := range x.c {
		for i := range x.h * x.w {
			pooled[c] += x.v[c*x.h*x.w+i]
		}
		pooled[c] /= float64(x.h * x.w)
	}
	w, b := r.weight("classifier.1.weight"), r.weight("classifier.1.bias")
	logits := make([]float64, r.d.NumLabels)
	for o := range logits {
		logits[o] = float64(b[o])
		for c, v := range pooled {
			logits[o] += v * float64(w[o*len(pooled)+c])
		}
	}
	return logits
}

// randomImages returns n normalized-looking images (about N(0,1)).
func randomImages(seed uint64, n, h, w int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	px := make([]float32, n*3*h*w)
	for i := range px {
		px[i] = float32(r.NormFloat64())
	}
	return px
}

func runResNet(t *testing.T, path string, f resnetFlavor, pixels []float32, n, h, w int) []float32 {
	t.Helper()
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, err := onnx.NewTensor(onnx.NewShape(int64(n), 3, int64(h), int64(w)), pixels)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Destroy()
	in, err := s.BindInputs(map[string]onnx.Value{f.input: x})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]onnx.Value, len(s.Outputs()))
	if err := s.Run(in, out); err != nil {
		t.Fatal(err)
	}
	y := out[s.OutputIndex(f.output)].(*onnx.Tensor[float32])
	defer y.Destroy()
	if got := []int64(y.GetShape()); !slices.Equal(got, []int64{int64(n), 1000}) {
		t.Fatalf("%s shape %v, want [%d 1000]", f.output, got, n)
	}
	return slices.Clone(y.GetData())
}

func TestTinyResNetMatchesReference(t *testing.T) {
	orttest.Require(t)
	d := ResNetPresetDims(Tiny)
	hfPath := filepath.Join(generateTiny(t, 0, ResNetModelID), filepath.FromSlash(ResNetModelID), filepath.FromSlash(ResNetModelFile))
	zooDir := t.TempDir()
	if err := GenerateResNetZoo(context.Background(), zooDir, Options{Preset: Tiny}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		path        string
		flavor      resnetFlavor
		strideOn3x3 bool // v1.5 for microsoft/resnet-50, v1 for the zoo's gluon export
		n, h, w     int
	}{
		// A non-square size catches height and width swapped anywhere.
		{"hf", hfPath, resnetHF, true, 2, 96, 80},
		{"zoo", filepath.Join(zooDir, ResNetZooModelFile), resnetZoo, false, 1, 224, 224},
	} {
		pixels := randomImages(3, tc.n, tc.h, tc.w)
		got := runResNet(t, tc.path, tc.flavor, pixels, tc.n, tc.h, tc.w)
		ref := loadResNetReference(t, tc.path, d, tc.strideOn3x3)
		var worst, spread float64
		for i := range tc.n {
			size := 3 * tc.h * tc.w
			img := nchw{c: 3, h: tc.h, w: tc.w, v: make([]float64, size)}
			for j, v := range pixels[i*size : (i+1)*size] {
				img.v[j] = float64(v)
			}
			for o, want := range ref.forward(img) {
				g := float64(got[i*1000+o])
				if math.IsNaN(g) || math.IsInf(g, 0) {
					t.Fatalf("%s: logit %d is %v", tc.name, o, g)
				}
				worst = max(worst, math.Abs(g-want))
				spread = max(spread, math.Abs(want))
			}
		}
		if worst > 1e-4 {
			t.Errorf("%s: ONNX Runtime and the reference ResNet differ by up to %g (limit 1e-4)", tc.name, worst)
		}
		t.Logf("%s: max |ORT - reference| = %.2g, max |logit| = %.3g", tc.name, worst, spread)
	}
}

func TestTinyResNetOutputsDependOnInputs(t *testing.T) {
	orttest.Require(t)
	path := filepath.Join(generateTiny(t, 0, ResNetModelID), filepath.FromSlash(ResNetModelID), filepath.FromSlash(ResNetModelFile))
	logits := runResNet(t, path, resnetHF, randomImages(5, 2, 224, 224), 2, 224, 224)
	a, b := logits[:1000], logits[1000:]
	var diff, norm float64
	for i := range a {
		diff += math.Abs(float64(a[i] - b[i]))
		norm += math.Abs(float64(a[i]))
	}
	if diff < 0.01*norm {
		t.Errorf("two different images give logits within %.3g%% of each other; weights look degenerate", 100*diff/norm)
	}
}

func TestResNetContract(t *testing.T) {
	orttest.Require(t)
	hfPath := filepath.Join(generateTiny(t, 0, ResNetModelID), filepath.FromSlash(ResNetModelID), filepath.FromSlash(ResNetModelFile))
	zooDir := t.TempDir()
	if err := GenerateResNetZoo(context.Background(), zooDir, Options{Preset: Tiny}); err != nil {
		t.Fatal(err)
	}
	same := func(a, b onnxfile.Value) bool {
		return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Dims, b.Dims)
	}
	for _, tc := range []struct {
		path            string
		flavor          resnetFlavor
		ortIn, ortOut   []int64
		wantIn, wantOut onnxfile.Value
	}{
		{hfPath, resnetHF, []int64{-1, -1, -1, -1}, []int64{-1, 1000},
			onnxfile.Value{Name: "pixel_values", Type: onnxgraph.Float, Dims: []onnxgraph.Dim{
				onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("num_channels"), onnxgraph.Dynamic("height"), onnxgraph.Dynamic("width")}},
			onnxfile.Value{Name: "logits", Type: onnxgraph.Float, Dims: []onnxgraph.Dim{onnxgraph.Dynamic("batch_size"), onnxgraph.Fixed(1000)}}},
		{filepath.Join(zooDir, ResNetZooModelFile), resnetZoo, []int64{-1, 3, 224, 224}, []int64{-1, 1000},
			onnxfile.Value{Name: "data", Type: onnxgraph.Float, Dims: []onnxgraph.Dim{
				onnxgraph.Dynamic("N"), onnxgraph.Fixed(3), onnxgraph.Fixed(224), onnxgraph.Fixed(224)}},
			onnxfile.Value{Name: "resnetv17_dense0_fwd", Type: onnxgraph.Float, Dims: []onnxgraph.Dim{onnxgraph.Dynamic("N"), onnxgraph.Fixed(1000)}}},
	} {
		ins, outs, err := onnxfile.ReadInterface(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if len(ins) != 1 || len(outs) != 1 || !same(ins[0], tc.wantIn) || !same(outs[0], tc.wantOut) {
			t.Errorf("%s declares %v -> %v, want %v -> %v", tc.path, ins, outs, tc.wantIn, tc.wantOut)
		}
		s, err := ort.Open(tc.path, ort.Options{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		in, out := s.Inputs()[0], s.Outputs()[0]
		if in.Name != tc.wantIn.Name || in.Type != onnx.TensorElementDataTypeFloat || !slices.Equal(in.Shape, tc.ortIn) ||
			out.Name != tc.wantOut.Name || out.Type != onnx.TensorElementDataTypeFloat || !slices.Equal(out.Shape, tc.ortOut) {
			t.Errorf("%s: ORT sees %v -> %v", tc.path, in, out)
		}
		s.Close()
	}

	synset, err := os.ReadFile(filepath.Join(zooDir, ResNetZooSynset))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(synset), "\n"), "\n")
	if len(lines) != 1000 || lines[0] != "n01440764 tench, Tinca tinca" || lines[999] != "n15075141 toilet tissue, toilet paper, bathroom tissue" {
		t.Errorf("synset.txt: %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
}

func TestResNetCompanionFiles(t *testing.T) {
	dir := filepath.Join(generateTiny(t, 0, ResNetModelID), filepath.FromSlash(ResNetModelID))
	var cfg struct {
		Architectures          []string          `json:"architectures"`
		ModelType              string            `json:"model_type"`
		LayerType              string            `json:"layer_type"`
		Depths                 []int             `json:"depths"`
		HiddenSizes            []int             `json:"hidden_sizes"`
		EmbeddingSize          int               `json:"embedding_size"`
		DownsampleInFirstStage *bool             `json:"downsample_in_first_stage"`
		NumChannels            int               `json:"num_channels"`
		ID2Label               map[string]string `json:"id2label"`
		Label2ID               map[string]int    `json:"label2id"`
		Synthetic              bool              `json:"edgeinfer_synthetic"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	d := ResNetPresetDims(Tiny)
	if !cfg.Synthetic || cfg.ModelType != "resnet" || cfg.LayerType != "bottleneck" ||
		!slices.Equal(cfg.Architectures, []string{"ResNetForImageClassification"}) ||
		!slices.Equal(cfg.Depths, d.Depths) || !slices.Equal(cfg.HiddenSizes, d.HiddenSizes) ||
		cfg.EmbeddingSize != d.EmbeddingSize || cfg.DownsampleInFirstStage == nil || *cfg.DownsampleInFirstStage || cfg.NumChannels != 3 {
		t.Errorf("config.json = %s", raw[:min(len(raw), 400)])
	}
	if len(cfg.ID2Label) != 1000 {
		t.Fatalf("id2label has %d entries", len(cfg.ID2Label))
	}
	for id, want := range map[string]string{"0": "tench, Tinca tinca", "1": "goldfish, Carassius auratus",
		"134": "crane", "517": "crane", "999": "toilet tissue, toilet paper, bathroom tissue"} {
		if cfg.ID2Label[id] != want {
			t.Errorf("id2label[%s] = %q, want %q", id, cfg.ID2Label[id], want)
		}
	}
	if len(cfg.Label2ID) != 999 || cfg.Label2ID["crane"] != 517 || cfg.Label2ID["goldfish, Carassius auratus"] != 1 {
		t.Errorf("label2id: %d entries, crane=%d, goldfish=%d", len(cfg.Label2ID), cfg.Label2ID["crane"], cfg.Label2ID["goldfish, Carassius auratus"])
	}
	var order struct {
		ID2Label json.RawMessage `json:"id2label"`
	}
	if err := json.Unmarshal(raw, &order); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(order.ID2Label)))
	dec.Token() // {
	for i := 0; dec.More(); i++ {
		key, _ := dec.Token()
		if key != strconv.Itoa(i) {
			t.Fatalf("id2label key %d is %v: not in numeric order", i, key)
		}
		dec.Token() // the label
	}

	var pre map[string]any
	raw, err = os.ReadFile(filepath.Join(dir, "preprocessor_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &pre); err != nil {
		t.Fatal(err)
	}
	size, _ := pre["size"].(map[string]any)
	if pre["crop_pct"] != 0.875 || pre["resample"] != 3.0 || size["shortest_edge"] != 224.0 ||
		pre["rescale_factor"] != 1.0/255 || pre["do_resize"] != true || pre["do_normalize"] != true ||
		fmt.Sprint(pre["image_mean"]) != "[0.485 0.456 0.406]" || fmt.Sprint(pre["image_std"]) != "[0.229 0.224 0.225]" {
		t.Errorf("preprocessor_config.json = %s", raw)
	}
}

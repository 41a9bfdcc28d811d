package resnet

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/imageprep"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

const resnet50 = "@cf/microsoft/resnet-50"

// zooModel is a custom model ID for the ONNX model zoo fixture.
const zooModel = "@cf/test/resnet50-zoo"

var modelsDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "resnet-test-")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	o := synth.Options{Preset: synth.Tiny, OutDir: dir, Float16: true}
	if err := synth.Generate(ctx, o, []string{resnet50}, os.Stderr); err != nil {
		panic(err)
	}
	if err := synth.GenerateResNetZoo(ctx, filepath.Join(dir, "zoo"), o); err != nil {
		panic(err)
	}
	modelsDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newEngine serves the tiny synthetic ResNet-50 (and the zoo fixture as a
// custom model) through the real backend.
func newEngine(t *testing.T, mc engine.ModelConfig) *engine.Engine {
	t.Helper()
	orttest.Require(t)
	mc.Dir = filepath.Join(modelsDir, resnet50)
	return enginetest.New(t, map[string]engine.ModelConfig{
		resnet50: mc,
		zooModel: {Task: engine.TaskImageClassification, Backend: Kind, Dir: filepath.Join(modelsDir, "zoo")},
	}, map[string]engine.Backend{Kind: Backend{}}, nil)
}

func classify(t *testing.T, eng *engine.Engine, model string, in engine.Input) []engine.Classification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := eng.Run(ctx, model, in)
	if err != nil {
		t.Fatal(err)
	}
	return out.([]engine.Classification)
}

// photo is a deterministic test picture of the given size.
func photo(w, h, seed int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x*7 + seed*40), uint8(y*5 + x*x/(w+1)), uint8((x ^ y) + seed*13), 255})
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// reference classifies one image without the backend: imageprep, a
// session run of batch 1, softmax in the test. It is what every request
// must get, however it was batched.
func reference(t *testing.T, dir, modelFile string, proc *imageprep.Processor, labels []string, data []byte) []engine.Classification {
	t.Helper()
	img, err := imageprep.Decode(data, imageprep.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	px := make([]float32, proc.Len())
	if err := proc.Prepare(img, px); err != nil {
		t.Fatal(err)
	}
	sess, err := ort.Open(filepath.Join(dir, modelFile), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	in, err := onnx.NewTensor(onnx.NewShape(1, 3, 224, 224), px)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outputs := make([]onnx.Value, 1)
	if err := sess.Run([]onnx.Value{in}, outputs); err != nil {
		t.Fatal(err)
	}
	defer outputs[0].Destroy()
	logits := outputs[0].(*onnx.Tensor[float32]).GetData()
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l))
	}
	best := make([]int, 0, 5)
	for len(best) < 5 {
		pick := -1
		for i := range logits {
			if !contains(best, i) && (pick < 0 || logits[i] > logits[pick]) {
				pick = i
			}
		}
		best = append(best, pick)
	}
	out := make([]engine.Classification, 5)
	for i, idx := range best {
		out[i] = engine.Classification{Label: labels[idx], Score: float32(math.Exp(float64(logits[idx])) / sum)}
	}
	return out
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sameResults(a, b []engine.Classification) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d results vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Label != b[i].Label || math.Abs(float64(a[i].Score-b[i].Score)) > 1e-5 {
			return fmt.Errorf("result %d: %+v vs %+v", i, a[i], b[i])
		}
	}
	return nil
}

func hfLabels(t *testing.T) []string {
	t.Helper()
	var cfg struct {
		ID2Label map[string]string `json:"id2label"`
	}
	if err := onnxdir.ReadJSON(filepath.Join(modelsDir, resnet50), "config.json", &cfg); err != nil {
		t.Fatal(err)
	}
	labels := make([]string, len(cfg.ID2Label))
	for i := range labels {
		name, _, _ := strings.Cut(cfg.ID2Label[fmt.Sprint(i)], ",")
		labels[i] = strings.ToUpper(name)
	}
	return labels
}

func hfProcessor(t *testing.T) *imageprep.Processor {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(modelsDir, resnet50, "preprocessor_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := imageprep.ParseHFConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Every input form (raw body, number array, base64) gives the Workers AI
// answer: five labels, most probable first, equal to the reference.
func TestClassifyMatchesReference(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	data := encodeJPEG(t, photo(320, 240, 1))
	want := reference(t, filepath.Join(modelsDir, resnet50), synth.ResNetModelFile, hfProcessor(t), hfLabels(t), data)

	nums := make([]int, len(data))
	for i, b := range data {
		nums[i] = int(b)
	}
	array, _ := json.Marshal(map[string]any{"image": nums})
	b64, _ := json.Marshal(map[string]any{"image": base64.StdEncoding.EncodeToString(data)})
	for name, in := range map[string]engine.Input{"binary": {Binary: data}, "array": {JSON: array}, "base64": {JSON: b64}} {
		got := classify(t, eng, resnet50, in)
		if err := sameResults(got, want); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for i, c := range got {
			if c.Label != strings.ToUpper(c.Label) || strings.Contains(c.Label, ",") || (i > 0 && c.Score > got[i-1].Score) {
				t.Errorf("%s: result %d %+v is not an upper-case first name in descending order", name, i, c)
			}
		}
	}
}

// TestFloat16Variant classifies with the half-precision export, whose
// pixel_values and logits are float16, on the CPU: the same labels as the
// float32 model, with scores within 1 % of theirs (a score moves by about
// the logit's error, and half precision rounds logits of a few units to
// ~0.002: ONNX Runtime 1.30's CPU casts give 0.05 %, 1.29's 0.2 %). Two images
// in one batch check that each row is converted.
func TestFloat16Variant(t *testing.T) {
	fp32 := newEngine(t, engine.ModelConfig{})
	fp16 := newEngine(t, engine.ModelConfig{Variant: "fp16", MaxBatchSize: 2, MaxQueueDelay: engine.Duration(time.Second)})
	for seed := range 2 {
		data := encodePNG(t, photo(256, 256, seed))
		want := classify(t, fp32, resnet50, engine.Input{Binary: data})
		var batch [2][]engine.Classification // the same image twice, one batch
		var wg sync.WaitGroup
		for i := range batch {
			wg.Go(func() { batch[i] = classify(t, fp16, resnet50, engine.Input{Binary: data}) })
		}
		wg.Wait()
		if err := sameResults(batch[0], batch[1]); err != nil {
			t.Fatalf("image %d: the two rows of one batch differ: %v", seed, err)
		}
		got := batch[0]
		scores := map[string]float32{}
		for _, c := range want {
			scores[c.Label] = c.Score
		}
		shared := 0
		for _, c := range got {
			if s, ok := scores[c.Label]; ok {
				shared++
				if d := math.Abs(float64(s-c.Score)) / float64(s); d > 1e-2 || math.IsNaN(float64(c.Score)) {
					t.Errorf("image %d, %s: fp16 score %v, fp32 %v", seed, c.Label, c.Score, s)
				}
			}
		}
		if shared < 4 {
			t.Errorf("image %d: fp16 top 5 %v shares %d labels with fp32 %v", seed, got, shared, want)
		}
	}
}

// Concurrent requests are batched together, and each still gets its own
// image's answer. The queue delay is long enough that a batch only runs
// when max_batch_size images wait, so 8 requests make 2 batches of 4.
func TestBatchedRequestsGetTheirOwnAnswers(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{MaxQueueDelay: engine.Duration(30 * time.Second), MaxBatchSize: 4})
	proc, labels := hfProcessor(t), hfLabels(t)
	const n = 8
	images := make([][]byte, n)
	want := make([][]engine.Classification, n)
	for i := range n {
		images[i] = encodePNG(t, photo(200+17*i, 150+9*i, i))
		want[i] = reference(t, filepath.Join(modelsDir, resnet50), synth.ResNetModelFile, proc, labels, images[i])
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sameResults(classify(t, eng, resnet50, engine.Input{Binary: images[i]}), want[i]); err != nil {
				t.Errorf("image %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	var batches, ran float64
	if mf, err := eng.Metrics().Registry.Gather(); err == nil {
		for _, f := range mf {
			if f.GetName() == "edgeinfer_batch_size" {
				for _, m := range f.GetMetric() {
					batches += float64(m.GetHistogram().GetSampleCount())
					ran += m.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	if ran != n || batches != 2 {
		t.Errorf("%v images ran in %v batches, want 8 in 2", ran, batches)
	}
}

// The zoo layout: input "data", output "resnetv17_dense0_fwd", labels
// from synset.txt, the zoo's bilinear recipe.
func TestZooLayout(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	data := encodePNG(t, photo(300, 200, 3))
	raw, err := os.ReadFile(filepath.Join(modelsDir, "zoo", synth.ResNetZooSynset))
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		_, name, _ := strings.Cut(line, " ")
		first, _, _ := strings.Cut(name, ",")
		labels = append(labels, strings.ToUpper(first))
	}
	want := reference(t, filepath.Join(modelsDir, "zoo"), synth.ResNetZooModelFile, imageprep.ZooProcessor(), labels, data)
	if err := sameResults(classify(t, eng, zooModel, engine.Input{Binary: data}), want); err != nil {
		t.Fatal(err)
	}
}

func TestBadImages(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	good := encodeJPEG(t, photo(64, 48, 0))
	cases := []struct {
		name   string
		in     engine.Input
		status int
		code   int
		msg    string
	}{
		{"not an image", engine.Input{Binary: []byte("GIF? no, plain text")}, 400, 5006, "'image': is not an image in a supported format"},
		{"truncated", engine.Input{Binary: good[:len(good)/3]}, 400, 5006, "'image': could not be decoded as jpeg"},
		{"bomb", engine.Input{Binary: bombPNG()}, 413, 3006, "over the limit of 40.0 megapixels"},
		{"value over 255", engine.Input{JSON: []byte(`{"image":[137,80,256]}`)}, 400, 5006, "must be an integer 0-255"},
		{"non-integer", engine.Input{JSON: []byte(`{"image":[137,80.5]}`)}, 400, 5006, "must be an integer 0-255"},
		{"bad base64", engine.Input{JSON: []byte(`{"image":"!!!"}`)}, 400, 5006, "not valid base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := eng.Run(context.Background(), resnet50, c.in)
			d := engine.Describe(err)
			if d.Status != c.status || d.Code != c.code || !strings.Contains(d.Message, c.msg) {
				t.Fatalf("got %d %d %q, want %d %d mentioning %q", d.Status, d.Code, d.Message, c.status, c.code, c.msg)
			}
		})
	}
}

// bombPNG declares 10,000 × 10,000 pixels in a few dozen bytes.
func bombPNG() []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// IHDR's width and height follow the signature (8), length (4) and
	// type (4); its CRC covers type and data and follows them.
	copy(b[16:24], []byte{0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10})
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// A request beyond max_concurrent_requests is refused before its image is
// decoded: a slot-holding admission makes even garbage bytes a 429.
func TestAdmissionComesBeforeDecoding(t *testing.T) {
	orttest.Require(t)
	spec := engine.ModelSpec{Entry: &engine.Entry{ID: resnet50}, Config: engine.ModelConfig{Dir: filepath.Join(modelsDir, resnet50), MaxConcurrentRequests: 1}}
	loaded, err := Backend{}.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	m := loaded.(*Model)
	defer m.Close()
	held, err := m.sched.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Classify(context.Background(), &engine.ImageInput{Image: []byte("not an image")})
	if d := engine.Describe(err); d.Status != 429 || d.Code != 3040 {
		t.Fatalf("got %+v, want 429/3040", d)
	}
	held.Release()
	_, err = m.Classify(context.Background(), &engine.ImageInput{Image: []byte("not an image")})
	if d := engine.Describe(err); d.Status != 400 {
		t.Fatalf("after release: %+v, want 400", d)
	}
}

func TestConfiguredPixelLimit(t *testing.T) {
	orttest.Require(t)
	// No calibration: it is not what this test is about, and with no home
	// in the spec it would write its table under the package folder.
	off := false
	spec := engine.ModelSpec{Entry: &engine.Entry{ID: resnet50}, Config: engine.ModelConfig{Dir: filepath.Join(modelsDir, resnet50), Calibrate: &off}}
	loaded, err := Backend{MaxImagePixels: 64 * 48}.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	m := loaded.(*Model)
	if _, err := m.Classify(context.Background(), &engine.ImageInput{Image: encodePNG(t, photo(64, 48, 0))}); err != nil {
		t.Fatalf("image at the limit: %v", err)
	}
	_, err = m.Classify(context.Background(), &engine.ImageInput{Image: encodePNG(t, photo(65, 48, 0))})
	if d := engine.Describe(err); d.Status != 413 {
		t.Fatalf("image over the limit: %+v", d)
	}
}

func TestCancelledRequestReturnsItsError(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	classify(t, eng, resnet50, engine.Input{Binary: encodePNG(t, photo(30, 30, 0))}) // loaded
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eng.Run(ctx, resnet50, engine.Input{Binary: encodePNG(t, photo(30, 30, 0))}); err == nil {
		t.Fatal("a cancelled request succeeded")
	}
}

func TestTop(t *testing.T) {
	labels := []string{"A", "B", "C", "D", "E", "F", "G"}
	got := top([]float32{1, 3, 2, 3, 0, -1, 1000}, labels, 5)
	if got[0].Label != "G" || math.Abs(float64(got[0].Score)-1) > 1e-6 {
		t.Fatalf("a dominant logit: %+v", got)
	}
	got = top([]float32{0, 2, 1, 2, float32(math.Log(0.5)), -50, 0}, labels, 5)
	want := []string{"B", "D", "C", "A", "G"} // ties keep label order
	var sum float64
	for _, l := range []float32{0, 2, 1, 2, float32(math.Log(0.5)), -50, 0} {
		sum += math.Exp(float64(l))
	}
	for i, c := range got {
		if c.Label != want[i] {
			t.Fatalf("order %+v, want %v", got, want)
		}
	}
	if p := math.Exp(2) / sum; math.Abs(float64(got[0].Score)-p) > 1e-6 {
		t.Fatalf("score %v, want %v", got[0].Score, p)
	}
}

func TestLabels(t *testing.T) {
	for in, want := range map[string]string{"Persian cat": "PERSIAN CAT", "tench, Tinca tinca": "TENCH", " crane ": "CRANE"} {
		if got := workersLabel(in); got != want {
			t.Errorf("workersLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// Asked for CUDA, the listing shows the provider the model runs on, and on
// a machine without a usable GPU why it fell back to the CPU.
func TestPlacementIsListed(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{Device: "cuda"})
	classify(t, eng, resnet50, engine.Input{Binary: encodePNG(t, photo(64, 64, 1))})
	for _, m := range eng.Models() {
		if m.Model != resnet50 {
			continue
		}
		onGPU := m.ExecutionProvider == "CUDAExecutionProvider" && m.Fallback == ""
		onCPU := m.ExecutionProvider == "CPUExecutionProvider" && m.Fallback != ""
		if m.Device != "cuda" || !(onGPU || onCPU) {
			t.Fatalf("listing: %+v", m)
		}
		return
	}
	t.Fatal("resnet-50 is not listed")
}

// One single-threaded batch instance per core by default; intra_op_threads
// N gives NumCPU/N instances (at least one) of N threads.
func TestInstancesFollowThreads(t *testing.T) {
	cpus := runtime.NumCPU()
	for _, c := range []struct{ threads, wantThreads, wantInstances int }{
		{0, 1, cpus}, {1, 1, cpus}, {2, 2, max(1, cpus/2)}, {cpus * 4, cpus * 4, 1},
	} {
		spec := engine.ModelSpec{Entry: &engine.Entry{ID: resnet50}, Config: engine.ModelConfig{IntraOpThreads: c.threads}}
		if got := intraOpThreads(spec); got != c.wantThreads {
			t.Errorf("intra_op_threads %d: %d threads per batch, want %d", c.threads, got, c.wantThreads)
		}
		if got := schedulerConfig(spec, false).Instances; got != c.wantInstances {
			t.Errorf("intra_op_threads %d: %d instances, want %d", c.threads, got, c.wantInstances)
		}
	}
}

// On a GPU the batches grow, two run at once whatever the CPU threads, and
// the model config still has the last word.
func TestGPUSchedulerDefaults(t *testing.T) {
	spec := engine.ModelSpec{Entry: &engine.Entry{ID: resnet50}, Config: engine.ModelConfig{IntraOpThreads: 1}}
	c := schedulerConfig(spec, true)
	if c.MaxBatchSize != gpuMaxBatchSize || c.MaxConcurrentRequests != gpuMaxConcurrentRequests || c.Instances != batch.GPUInstances {
		t.Fatalf("GPU config %+v", c)
	}
	if gpuMaxBatchSize <= defaultMaxBatchSize || c.MaxConcurrentRequests < c.Instances*c.MaxBatchSize {
		t.Fatal("GPU batches must be larger than the CPU ones, with room for each instance's batch to queue")
	}
	spec.Config.MaxBatchSize = 16
	if got := schedulerConfig(spec, true).MaxBatchSize; got != 16 {
		t.Fatalf("max_batch_size 16 on a GPU gave %d", got)
	}
}

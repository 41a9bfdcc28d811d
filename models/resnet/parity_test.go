package resnet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/imageprep/imagetest"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// The peers' preprocessing: transformers.js (node) and Hugging Face's
// Python recipe on Pillow.
const (
	parityProject = "../../compat/imageprep-parity"
	pillowScript  = "testdata/pillow_pixels.py"
	jpegFixtures  = "../../imageprep/testdata/images"
)

// parityImage is one JPEG classified by edgeinfer and by a peer; resized
// says whether preprocessing resamples it (a shorter side other than 256).
type parityImage struct {
	name    string
	data    []byte
	resized bool
}

// parityImages are imageprep's JPEG fixtures (every chroma layout, CMYK,
// greyscale, progressive, restart markers, all EXIF orientations) and
// photo-like JPEGs at real sizes, two of them with a shorter side of 256,
// where nothing is resampled.
func parityImages(t *testing.T) []parityImage {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(jpegFixtures, "*.jpg"))
	if err != nil || len(files) < 20 {
		t.Fatalf("imageprep's JPEG fixtures are missing from %s (%d found, %v)", jpegFixtures, len(files), err)
	}
	var images []parityImage
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, parityImage{name: filepath.Base(f), data: data, resized: true})
	}
	for i, s := range [][3]int{{300, 256, 0}, {256, 341, 0}, {640, 480, 1}, {1280, 720, 1}, {1920, 1080, 1}, {4032, 3024, 1}} {
		data := encodeJPEG(t, imagetest.Photo(s[0], s[1], uint64(40+i)))
		images = append(images, parityImage{name: fmt.Sprintf("photo%dx%d.jpg", s[0], s[1]), data: data, resized: s[2] == 1})
	}
	return images
}

// peerTensors runs a peer's preprocessing script on the images, written to
// dir, and returns each image's pixel_values by name. The script prints
// one JSON line per image: {"file", "dims", "out"} with out a raw
// little-endian float32 CHW file.
func peerTensors(t *testing.T, cmd *exec.Cmd, images []parityImage, dir string) map[string][]float32 {
	t.Helper()
	for _, im := range images {
		path := filepath.Join(dir, im.name)
		if err := os.WriteFile(path, im.data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd.Args = append(cmd.Args, path)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", cmd.Path, err, stderr.String())
	}
	out := map[string][]float32{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var line struct {
			File string
			Dims []int
			Out  string
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s printed %q: %v", cmd.Path, sc.Text(), err)
		}
		if fmt.Sprint(line.Dims) != "[3 224 224]" {
			t.Fatalf("%s: %s made a %v tensor", line.File, cmd.Path, line.Dims)
		}
		raw, err := os.ReadFile(line.Out)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, len(raw)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		out[filepath.Base(line.File)] = v
	}
	return out
}

// pillowCommand finds a python3 with Pillow and numpy, or fails saying how
// to install them.
func pillowCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import PIL, numpy").Run() == nil {
			return exec.Command(py, append([]string{pillowScript}, args...)...)
		}
	}
	t.Fatal("no python3 with Pillow and numpy: the Pillow parity test needs them (Debian: apt-get install python3-pil python3-numpy)")
	return nil
}

// transformersJSCommand runs compat/imageprep-parity/preprocess.mjs, or
// fails saying how to install node and transformers.js.
func transformersJSCommand(t *testing.T, modelDir, outDir string) *exec.Cmd {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH; the transformers.js parity test needs node 20+: run `make setup`")
	}
	if _, err := os.Stat(filepath.Join(parityProject, "node_modules/@huggingface/transformers/package.json")); err != nil {
		t.Fatal("transformers.js is not installed in compat/imageprep-parity: run `make setup` (it runs `npm ci --ignore-scripts` there)")
	}
	abs, err := filepath.Abs(filepath.Join(parityProject, "preprocess.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, abs, modelDir, outDir)
	cmd.Dir = parityProject
	return cmd
}

// scoreRounding is how far two scores from the same pixels may be apart:
// the tiny model's scores are near 1/1000, and its logits from the same
// tensor differ by float rounding only (1e-10 seen), whatever the batch.
const scoreRounding = 1e-7

// ranked is a classification with its logit, for explaining differences.
type ranked struct {
	index int
	score float64
}

// topFive ranks logits by softmax, computed here in float64, independently
// of the backend's.
func topFive(logits []float32) []ranked {
	peak := math.Inf(-1)
	for _, l := range logits {
		peak = math.Max(peak, float64(l))
	}
	var sum float64
	all := make([]ranked, len(logits))
	for i, l := range logits {
		all[i] = ranked{i, math.Exp(float64(l) - peak)}
		sum += all[i].score
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })
	for i := range all[:5] {
		all[i].score /= sum
	}
	return all[:5]
}

// sessionLogits runs one CHW tensor through the session at batch 1.
func sessionLogits(t *testing.T, sess *ort.Session, px []float32) []float32 {
	t.Helper()
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
	return append([]float32(nil), outputs[0].(*onnx.Tensor[float32]).GetData()...)
}

// topFiveDiff says how edgeinfer's answer differs from the peer's top five
// (labels in order, scores within tol), or "" when it does not.
func topFiveDiff(got []engine.Classification, want []ranked, labels []string, tol float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Label != labels[w.index] || math.Abs(float64(got[i].Score)-w.score) > tol {
			return fmt.Sprintf("result %d is %s %.8f, the peer's %s %.8f", i, got[i].Label, got[i].Score, labels[w.index], w.score)
		}
	}
	return ""
}

// TestTop5MatchesPillow classifies every JPEG through edgeinfer's whole
// path (bytes → libjpeg-turbo → orientation → resize → crop → normalize →
// ONNX Runtime → top 5) and through Hugging Face's Python preprocessing on
// Pillow (testdata/pillow_pixels.py) fed to the same model file: the labels
// must be the same, in the same order, with scores within scoreRounding.
// imageprep reproduces Pillow's pixels exactly, so only float rounding may
// differ.
func TestTop5MatchesPillow(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	dir := filepath.Join(modelsDir, resnet50)
	images := parityImages(t)
	work, out := t.TempDir(), t.TempDir()
	theirs := peerTensors(t, pillowCommand(t, filepath.Join(dir, "preprocessor_config.json"), out), images, work)
	sess, err := ort.Open(filepath.Join(dir, synth.ResNetModelFile), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	labels := hfLabels(t)
	for _, im := range images {
		px, ok := theirs[im.name]
		if !ok {
			t.Errorf("%s: Pillow returned nothing", im.name)
			continue
		}
		got := classify(t, eng, resnet50, engine.Input{Binary: im.data})
		if d := topFiveDiff(got, topFive(sessionLogits(t, sess, px)), labels, scoreRounding); d != "" {
			t.Errorf("%s: %s", im.name, d)
		}
	}
}

// TestTop5AgainstTransformersJS classifies every JPEG through edgeinfer's
// whole path and through transformers.js's image-classification
// preprocessing (AutoImageProcessor on RawImage, in node) fed to the same
// model file.
//
// Where neither resizes (a shorter side of 256), the answers must be the
// same to float rounding: both decode with libjpeg-turbo, orient, crop and
// normalize alike. Where they resize they differ by design, and the test
// reports by how much: transformers.js in node resamples with sharp
// (corner-aligned Catmull-Rom, not widened when shrinking), edgeinfer with
// Pillow's kernel as Hugging Face's Python processors do (see imageprep's
// TestParityWithTransformersJS for the pixel-level bound), and sharp
// converts CMYK through an ICC profile where Pillow uses its plain formula.
// The tiny model's 1000 scores are all near 1/1000, so such pixel changes
// reorder its top five easily: on the fixtures (37×23 pictures upscaled
// elevenfold, 251×189 ones by 1.35) and photos from 640×480 to 4032×3024,
// about half keep the same five labels in the same order. (On the
// full-size synthetic model, in one run with TestMain's preset changed,
// 20 of 32 did and the top-1 label was the same for every image.)
func TestTop5AgainstTransformersJS(t *testing.T) {
	eng := newEngine(t, engine.ModelConfig{})
	dir := filepath.Join(modelsDir, resnet50)
	images := parityImages(t)
	work, out := t.TempDir(), t.TempDir()
	theirs := peerTensors(t, transformersJSCommand(t, dir, out), images, work)
	sess, err := ort.Open(filepath.Join(dir, synth.ResNetModelFile), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	labels := hfLabels(t)
	same, resized := 0, 0
	for _, im := range images {
		px, ok := theirs[im.name]
		if !ok {
			t.Errorf("%s: transformers.js returned nothing", im.name)
			continue
		}
		got := classify(t, eng, resnet50, engine.Input{Binary: im.data})
		want := topFive(sessionLogits(t, sess, px))
		if !im.resized {
			if d := topFiveDiff(got, want, labels, scoreRounding); d != "" {
				t.Errorf("%s (not resized): %s", im.name, d)
			}
			continue
		}
		resized++
		var maxd float64
		for i := range got {
			maxd = math.Max(maxd, math.Abs(float64(got[i].Score)-want[i].score)/want[i].score)
		}
		d := topFiveDiff(got, want, labels, 1)
		if d == "" {
			same++
			d = "same labels and order"
		}
		t.Logf("%-24s resized: %s; scores up to %.1f%% apart", im.name, d, 100*maxd)
	}
	t.Logf("resized images: %d of %d have transformers.js's top five in its order", same, resized)
}

// Package resnet serves image classification with ResNet-style ONNX models:
// microsoft/resnet-50 as optimum exports it (pixel_values → logits, labels
// and preprocessing in config.json and preprocessor_config.json) or the
// ONNX model zoo's resnet50 (data → resnetv17_dense0_fwd, labels in
// synset.txt, bilinear preprocessing). Images are decoded and preprocessed
// by imageprep on the request goroutines, at most one per core at a time
// under the bound tokenizing shares (batch.Prepare), while a batch scheduler runs batches on the session, by default one batch
// per core at a time on one thread each; results are the softmax top 5.
package resnet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/imageprep"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Kind is the catalog backend name.
const Kind = "onnx-resnet"

// Scheduler defaults for CPU. ResNet-50 gains ~20% from batching on two
// cores (measured on a 2-core AVX-512 Xeon: 42 images/s at batch 1, 50 at
// batch 8); larger
// batches only add latency. Admission is bounded so a burst is refused
// with 429 instead of queueing decoded images without limit.
//
// Each batch runs on one ONNX Runtime thread, with as many batches in
// flight as there are cores (batch.Config.Instances). Decoding shares the
// cores with inference; a two-thread session stalls whenever a decoder
// takes one of its threads' cores, and its spinning threads take time from
// the decoders. On two pinned cores of a Xeon, edgeinfer over HTTP made 25
// images/s this way against 17 with one two-thread session
// (benchmarks/resnet). intra_op_threads: N gives NumCPU/N instances of N
// threads instead, for lower latency when the load is light.
const (
	defaultMaxBatchSize          = 8
	defaultMaxConcurrentRequests = 64
	defaultIntraOpThreads        = 1
)

// Scheduler defaults on a GPU: batches big enough to fill the device, two in
// flight so the host stacks the next while one runs, and admission room
// for a full batch to queue behind each. Decoding stays on the CPU's prep
// workers and overlaps both.
const (
	gpuMaxBatchSize          = 64
	gpuMaxConcurrentRequests = 4 * gpuMaxBatchSize
)

// fallbackVariants are the file names of the optimum/Xenova layout.
var fallbackVariants = map[string][]string{
	"fp32": {"onnx/model.onnx"}, "int8": {"onnx/model_quantized.onnx"}, "fp16": {"onnx/model_fp16.onnx"},
}

// zooSynset marks the ONNX model zoo layout: a bare .onnx file beside it.
const zooSynset = "synset.txt"

// Backend loads ResNet classifiers.
type Backend struct {
	// MaxImagePixels bounds the pixels of an input image, as its header
	// declares them; 0 means imageprep.DefaultMaxPixels (40 megapixels).
	MaxImagePixels int64
}

// Backend is registered as an engine.Backend; the build fails if a method
// goes missing.
var _ engine.Backend = Backend{}

// layout is what a model directory holds.
type layout struct {
	zoo   bool
	model string   // the ONNX file, relative to the directory
	files []string // every file Load needs
}

// findLayout tells the two layouts apart. A directory with synset.txt and
// no config.json is the zoo's: it must hold exactly one .onnx file.
// Anything else is read as the Hugging Face layout, whose weight file
// follows the configured variant.
func findLayout(spec engine.ModelSpec) (layout, error) {
	dir := spec.Dir()
	if exists(filepath.Join(dir, zooSynset)) && !exists(filepath.Join(dir, "config.json")) {
		models, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
		if len(models) != 1 {
			return layout{}, &engine.Error{Kind: engine.KindNotInstalled, Message: fmt.Sprintf(
				"Model %s has a %s, so it is read as an ONNX model zoo directory, which needs exactly one .onnx file beside it (found %d)",
				spec.Entry.ID, zooSynset, len(models))}
		}
		name := filepath.Base(models[0])
		return layout{zoo: true, model: name, files: []string{zooSynset, name}}, nil
	}
	weights, err := onnxdir.VariantFiles(spec, fallbackVariants)
	if err != nil {
		return layout{}, err
	}
	return layout{model: weights[len(weights)-1], files: append([]string{"config.json", "preprocessor_config.json"}, weights...)}, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Check implements engine.Backend.
func (Backend) Check(_ context.Context, spec engine.ModelSpec) (engine.Installation, error) {
	l, err := findLayout(spec)
	if err != nil {
		return engine.Installation{}, err
	}
	return onnxdir.Inspect(spec, l.files)
}

// Load implements engine.Backend.
func (b Backend) Load(_ context.Context, spec engine.ModelSpec) (engine.Model, error) {
	l, err := findLayout(spec)
	if err != nil {
		return nil, err
	}
	dir := spec.Dir()
	labels, proc, err := readCompanions(dir, l.zoo)
	if err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	spec = calibrated(spec, filepath.Join(dir, filepath.FromSlash(l.model)), proc, labels)
	opts := onnxdir.SessionOptions(spec.Config)
	opts.IntraOpThreads = intraOpThreads(spec)
	sess, err := ort.Open(filepath.Join(dir, filepath.FromSlash(l.model)), opts)
	if err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	m, err := newModel(spec, sess, proc, labels, imageprep.Limits{MaxPixels: b.MaxImagePixels})
	if err != nil {
		sess.Close()
		return nil, onnxdir.LoadError(spec, err)
	}
	return m, nil
}

// readCompanions reads the labels and the preprocessing: from config.json
// and preprocessor_config.json, or for the zoo from synset.txt and the
// zoo's recipe (unless a preprocessor_config.json says otherwise).
func readCompanions(dir string, zoo bool) ([]string, *imageprep.Processor, error) {
	var labels []string
	var err error
	if zoo {
		labels, err = readSynset(filepath.Join(dir, zooSynset))
	} else {
		labels, err = readID2Label(dir)
	}
	if err != nil {
		return nil, nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "preprocessor_config.json"))
	if zoo && errors.Is(err, fs.ErrNotExist) {
		return labels, imageprep.ZooProcessor(), nil
	}
	if err != nil {
		return nil, nil, err
	}
	proc, err := imageprep.ParseHFConfig(raw)
	if err != nil {
		return nil, nil, err
	}
	return labels, proc, nil
}

// readID2Label reads config.json's id2label ({"0": "tench, Tinca tinca", …})
// into a slice, which must cover 0 … n-1.
func readID2Label(dir string) ([]string, error) {
	var cfg struct {
		ID2Label map[string]string `json:"id2label"`
	}
	if err := onnxdir.ReadJSON(dir, "config.json", &cfg); err != nil {
		return nil, err
	}
	if len(cfg.ID2Label) == 0 {
		return nil, errors.New("config.json has no id2label")
	}
	labels := make([]string, len(cfg.ID2Label))
	for k, v := range cfg.ID2Label {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(labels) || labels[i] != "" {
			return nil, fmt.Errorf("config.json: id2label key %q is not one of 0…%d", k, len(labels)-1)
		}
		labels[i] = workersLabel(v)
	}
	return labels, nil
}

// readSynset reads the zoo's labels, one "n01440764 tench, Tinca tinca"
// line per class in index order.
func readSynset(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var labels []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if id, rest, ok := strings.Cut(line, " "); ok && len(id) == 9 && id[0] == 'n' {
			line = rest // drop the WordNet ID
		}
		labels = append(labels, workersLabel(line))
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("%s lists no labels", zooSynset)
	}
	return labels, sc.Err()
}

// workersLabel is how Workers AI shows an ImageNet class: its first name,
// upper case ("Persian cat" → "PERSIAN CAT").
func workersLabel(name string) string {
	first, _, _ := strings.Cut(name, ",")
	return strings.ToUpper(strings.TrimSpace(first))
}

// intraOpThreads is the configured ONNX Runtime threads per batch, else 1.
func intraOpThreads(spec engine.ModelSpec) int {
	if spec.Config.IntraOpThreads > 0 {
		return spec.Config.IntraOpThreads
	}
	return defaultIntraOpThreads
}

// schedulerConfig applies the model config over the defaults for the
// device the session runs on. Items are images of one size, so the token
// budget is unused and each costs 1. On the CPU one batch instance runs per
// intra_op_threads cores.
func schedulerConfig(spec engine.ModelSpec, onGPU bool) batch.Config {
	cfg := batch.Config{
		Limits:                batch.Limits{MaxBatchSize: defaultMaxBatchSize},
		MaxConcurrentRequests: defaultMaxConcurrentRequests,
		Instances:             max(1, runtime.NumCPU()/intraOpThreads(spec)),
	}
	if onGPU {
		cfg.Limits.MaxBatchSize = gpuMaxBatchSize
		cfg.MaxConcurrentRequests = gpuMaxConcurrentRequests
		cfg.Instances = batch.GPUInstances
	}
	return cfg.ForModel(spec)
}

package resnet

import (
	"path/filepath"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/imageprep"
	"github.com/edgeinfer/edgeinfer/imageprep/imagetest"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// classifyTensorOf is the top five of the session on one image prepared
// by proc, which decodes it (with or without DCT scaling).
func classifyTensorOf(t *testing.T, proc *imageprep.Processor, data []byte) []ranked {
	t.Helper()
	img, err := proc.Decode(data, imageprep.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	px := make([]float32, proc.Len())
	if err := proc.Prepare(img, px); err != nil {
		t.Fatal(err)
	}
	sess, err := ort.Open(filepath.Join(modelsDir, resnet50, synth.ResNetModelFile), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	return topFive(sessionLogits(t, sess, px))
}

// jpeg_dct_scaling: true decodes a 1920×1080 JPEG at a quarter of its size
// before the resize, as imageprep's Processor.DCTScaling does; the default
// decodes it whole. The two answers differ (the pixels do), so each
// configuration is told apart from the other.
func TestJPEGDCTScalingKnob(t *testing.T) {
	data := encodeJPEG(t, imagetest.Photo(1920, 1080, 7))
	labels := hfLabels(t)
	full := hfProcessor(t)
	scaled := hfProcessor(t)
	scaled.DCTScaling = true
	wantFull, wantScaled := classifyTensorOf(t, full, data), classifyTensorOf(t, scaled, data)
	if topFiveDiff(toClassifications(wantFull, labels), wantScaled, labels, scoreRounding) == "" {
		t.Fatal("the DCT-scaled decode gives the same answer as the full one: the test cannot tell them apart")
	}
	for _, c := range []struct {
		on   bool
		want []ranked
	}{{false, wantFull}, {true, wantScaled}} {
		eng := newEngine(t, engine.ModelConfig{JPEGDCTScaling: c.on})
		got := classify(t, eng, resnet50, engine.Input{Binary: data})
		if d := topFiveDiff(got, c.want, labels, scoreRounding); d != "" {
			t.Errorf("jpeg_dct_scaling %v: %s", c.on, d)
		}
	}
}

func toClassifications(r []ranked, labels []string) []engine.Classification {
	out := make([]engine.Classification, len(r))
	for i, x := range r {
		out[i] = engine.Classification{Label: labels[x.index], Score: float32(x.score)}
	}
	return out
}

package vad

import (
	"context"
	"fmt"
	"path/filepath"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// ModelFile is the Silero VAD export a model directory holds.
const ModelFile = "silero_vad.onnx"

const (
	contextSamples = 64 // v5 prepends the previous window's last 64 samples
	stateSize      = 2 * 128
	// checkEvery is how many windows run between looks at the context.
	checkEvery = 64
)

// Model is Silero VAD v5 (input [batch, 64+512], state [2, batch, 128],
// sr → output [batch, 1], stateN) in an ONNX Runtime session. Its methods
// are safe for concurrent use: each call streams its own state.
type Model struct {
	sess *ort.Session
}

var _ Prober = (*Model)(nil)

// Load opens dir/silero_vad.onnx and checks it has Silero VAD v5's
// inputs and outputs. One intra-op thread suits it: each window is tiny.
func Load(dir string, o ort.Options) (*Model, error) {
	sess, err := ort.Open(filepath.Join(dir, ModelFile), o)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"input", "state", "sr"} {
		if sess.InputIndex(name) < 0 {
			sess.Close()
			return nil, fmt.Errorf("vad: %s has no input %q; want Silero VAD v5 (input, state, sr)", sess.Path(), name)
		}
	}
	for _, name := range []string{"output", "stateN"} {
		if sess.OutputIndex(name) < 0 {
			sess.Close()
			return nil, fmt.Errorf("vad: %s has no output %q; want Silero VAD v5 (output, stateN)", sess.Path(), name)
		}
	}
	return &Model{sess: sess}, nil
}

// Close releases the session.
func (m *Model) Close() error { return m.sess.Close() }

// Speech returns the speech chunks of 16 kHz samples under o.
func (m *Model) Speech(ctx context.Context, samples []float32, o Options) ([]Chunk, error) {
	return Speech(ctx, m, samples, o)
}

// stream is one call's tensors: the window with its context, the LSTM
// state in and out, and the probability.
type stream struct {
	input, state, stateN, out *onnx.Tensor[float32]
	sr                        *onnx.Scalar[int64]
}

func (s *stream) destroy() {
	for _, t := range []interface{ Destroy() error }{s.input, s.state, s.stateN, s.out, s.sr} {
		if t != nil {
			t.Destroy()
		}
	}
}

func newStream() (*stream, error) {
	s := &stream{}
	var err error
	if s.input, err = onnx.NewEmptyTensor[float32](onnx.NewShape(1, contextSamples+WindowSamples)); err != nil {
		return nil, err
	}
	if s.state, err = onnx.NewEmptyTensor[float32](onnx.NewShape(2, 1, 128)); err != nil {
		s.destroy()
		return nil, err
	}
	if s.stateN, err = onnx.NewEmptyTensor[float32](onnx.NewShape(2, 1, 128)); err != nil {
		s.destroy()
		return nil, err
	}
	if s.out, err = onnx.NewEmptyTensor[float32](onnx.NewShape(1, 1)); err != nil {
		s.destroy()
		return nil, err
	}
	if s.sr, err = onnx.NewScalar[int64](SampleRate); err != nil {
		s.destroy()
		return nil, err
	}
	return s, nil
}

// SpeechProbabilities runs the windows of the zero-padded audio in order,
// each with the previous one's last 64 samples (zeros first) and LSTM
// state, as Silero's OnnxWrapper streams them.
func (m *Model) SpeechProbabilities(ctx context.Context, samples []float32) ([]float32, error) {
	s, err := newStream()
	if err != nil {
		return nil, err
	}
	defer s.destroy()
	inputs, err := m.sess.BindInputs(map[string]onnx.Value{"input": s.input, "state": s.state, "sr": s.sr})
	if err != nil {
		return nil, err
	}
	outputs := make([]onnx.Value, len(m.sess.Outputs()))
	outputs[m.sess.OutputIndex("output")] = s.out
	outputs[m.sess.OutputIndex("stateN")] = s.stateN

	in, state := s.input.GetData(), s.state.GetData()
	probs := make([]float32, Windows(len(samples)))
	for i := range probs {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		copy(in, in[WindowSamples:]) // the last 64 samples become the context
		window := in[contextSamples:]
		n := copy(window, samples[min(i*WindowSamples, len(samples)):])
		clear(window[n:])
		if err := m.sess.Run(inputs, outputs); err != nil {
			return nil, err
		}
		probs[i] = s.out.GetData()[0]
		copy(state, s.stateN.GetData())
	}
	return probs, nil
}

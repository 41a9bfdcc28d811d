// Package whisper serves Whisper speech recognition (@cf/openai/whisper,
// whisper-tiny-en, whisper-large-v3-turbo) on ONNX Runtime from the hub's
// exports: audio decoded and turned into log-mel windows by
// models/audioprep, the encoder batched across concurrent requests'
// windows, the decoder stepped through models/seq2seq cohorts under an
// engine/batch Stepper, and openai-whisper's transcribe loop around it
// (30 s windows with seeking, timestamp rules, temperature fallback,
// language detection, prompts).
package whisper

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/audioprep"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
	"github.com/edgeinfer/edgeinfer/models/vad"
)

// Model is a loaded Whisper. Its methods are safe for concurrent use; the
// sessions are driven by one scheduler goroutine.
type Model struct {
	id, variant string
	enc         *ort.Session
	dec         *seq2seq.Decoder
	vocab       *specialTokens
	gen         generationConfig
	codec       textCodec
	extractor   *audioprep.WhisperExtractor
	recompute   bool

	// mels × frames is one window's features; positions its encoder
	// states; maxTarget the decoder's positions (448).
	mels, frames, positions, maxTarget int
	// maxSample caps the tokens sampled per window (the model config's
	// max_length; 0: Whisper's half of the decoder's positions).
	maxSample, maxBeams int
	alignmentHeads      []seq2seq.Head

	// vadDir holds silero_vad.onnx, loaded by the first vad_filter request.
	vadDir string
	vadMu  sync.Mutex
	vad    *vad.Model

	sched *batch.Stepper[*windowJob, windowResult]
	ws    seq2seq.Workspace // used by the scheduler goroutine only
	stats seq2seq.Stats
	// encoded counts the windows the encoder ran over.
	encoded atomic.Int64
}

// The engine reaches a loaded model through these interfaces; the build
// fails if a method goes missing.
var (
	_ engine.Model  = (*Model)(nil)
	_ engine.Placed = (*Model)(nil)
)

// Stats returns the model's counters.
func (m *Model) Stats() *seq2seq.Stats { return &m.stats }

// EncodedWindows is how many 30 s windows the encoder ran over since the
// model loaded (a window's fallback temperatures and alignment pass reuse
// its first encoding).
func (m *Model) EncodedWindows() int64 { return m.encoded.Load() }

// Variant is the weight variant the model loaded (fp32 or int8).
func (m *Model) Variant() string { return m.variant }

// Placement implements engine.Placed.
func (m *Model) Placement() engine.Placement {
	return onnxdir.Placement(append([]*ort.Session{m.enc}, m.dec.Sessions()...)...)
}

// Close stops the scheduler and releases the sessions.
func (m *Model) Close() error {
	if m.sched != nil {
		m.sched.Close()
	}
	if m.vad != nil {
		m.vad.Close()
	}
	m.dec.Close()
	return m.enc.Close()
}

// speechModel loads the VAD model on first use; a missing one is a
// not-installed error that says how to get it.
func (m *Model) speechModel() (*vad.Model, error) {
	m.vadMu.Lock()
	defer m.vadMu.Unlock()
	if m.vad != nil {
		return m.vad, nil
	}
	if _, ok := vad.ModelPath(m.vadDir); !ok {
		return nil, &engine.Error{Kind: engine.KindNotInstalled,
			Message: fmt.Sprintf("vad_filter needs Silero VAD (%s): run `edgeinfer pull %s` for the real one or `edgeinfer models synth --only %s` for a synthetic one", VADModelID, VADModelID, VADModelID)}
	}
	v, err := vad.Load(m.vadDir, ort.Options{IntraOpThreads: 1})
	if err != nil {
		return nil, engine.Internal(err)
	}
	m.vad = v
	return v, nil
}

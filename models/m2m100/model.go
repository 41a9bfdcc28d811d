package m2m100

import (
	"cmp"
	"context"
	"slices"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
)

// Model is a loaded M2M100. Translate is safe for concurrent use; the
// sessions are driven by one scheduler goroutine.
type Model struct {
	id        string
	variant   string // the weight variant loaded: fp32 or int8
	tok       *tokenizer
	enc       *ort.Session
	dec       *seq2seq.Decoder
	search    seq2seq.SearchConfig
	recompute bool

	decoderStart, pad int64
	// maxInputTokens bounds the encoder input, language token and </s>
	// included.
	maxInputTokens int

	sched *batch.Stepper[job, seq2seq.Hypothesis]
	ws    seq2seq.Workspace // used by the scheduler goroutine only
	stats seq2seq.Stats
}

// The engine reaches a loaded model through these interfaces; the build
// fails if a method goes missing.
var (
	_ engine.Model      = (*Model)(nil)
	_ engine.Translator = (*Model)(nil)
	_ engine.Placed     = (*Model)(nil)
)

// Stats returns the model's counters.
func (m *Model) Stats() *seq2seq.Stats { return &m.stats }

// Placement implements engine.Placed.
func (m *Model) Placement() engine.Placement {
	return onnxdir.Placement(append([]*ort.Session{m.enc}, m.dec.Sessions()...)...)
}

// Variant is the weight variant the model loaded (fp32 or int8): the
// configured one, else the device's default (see Backend.Load).
func (m *Model) Variant() string { return m.variant }

// Close stops the scheduler and releases the sessions.
func (m *Model) Close() error {
	m.sched.Close()
	m.dec.Close()
	return m.enc.Close()
}

// Translation is a translation with the tokens behind it.
type Translation struct {
	Text string
	// Tokens are the generated ids after the decoder start token: the
	// target language first, without the closing </s>.
	Tokens []int64
	// Generated counts the tokens the decoder produced: Tokens, plus the
	// closing </s> when the search ended on one.
	Generated int
	// Score is the search's score: the summed log-probability for greedy
	// search, length-normalized for beam search.
	Score float64
}

// Translate implements engine.Translator.
func (m *Model) Translate(ctx context.Context, in *engine.TranslationInput) (*engine.TranslationOutput, error) {
	t, err := m.TranslateTokens(ctx, in)
	if err != nil {
		return nil, err
	}
	return &engine.TranslationOutput{TranslatedText: t.Text}, nil
}

// TranslateTokens translates and also returns the generated tokens.
func (m *Model) TranslateTokens(ctx context.Context, in *engine.TranslationInput) (*Translation, error) {
	source := in.SourceLang
	if source == "" {
		source = "en" // the Workers AI schema's default
	}
	src, err := resolveLanguage("source_lang", source)
	if err != nil {
		return nil, err
	}
	tgt, err := resolveLanguage("target_lang", in.TargetLang)
	if err != nil {
		return nil, err
	}
	if in.Text == "" {
		return nil, engine.BadInput("text", "must not be empty")
	}
	ids := m.tok.encode(in.Text, src)
	if len(ids) > m.maxInputTokens {
		return nil, engine.TooLarge("text", "%d tokens is over the model's limit of %d", len(ids), m.maxInputTokens)
	}
	if m.search.MaxLength <= 2 {
		// Decoder start and the forced language token already fill it.
		return &Translation{Tokens: []int64{m.tok.langID(tgt)}, Generated: 1}, nil
	}
	h, err := m.sched.Submit(ctx, job{src: ids, tgt: m.tok.langID(tgt)})
	if err != nil {
		return nil, err
	}
	generated := len(h.Tokens)
	if h.EOS {
		generated++
	}
	return &Translation{Text: m.tok.decode(h.Tokens), Tokens: h.Tokens, Generated: generated, Score: h.Score}, nil
}

// FirstStepLogits returns the logits the first token of in's translation
// is chosen from: the next-token scores after the decoder start and the
// forced target language token, over the whole vocabulary. It runs outside
// the scheduler, one request alone, for harnesses that compare weight
// variants of one model.
func (m *Model) FirstStepLogits(in *engine.TranslationInput) ([]float32, error) {
	src, err := resolveLanguage("source_lang", cmp.Or(in.SourceLang, "en"))
	if err != nil {
		return nil, err
	}
	tgt, err := resolveLanguage("target_lang", in.TargetLang)
	if err != nil {
		return nil, err
	}
	enc, err := m.encode([]job{{src: m.tok.encode(in.Text, src)}})
	if err != nil {
		return nil, err
	}
	logits, err := seq2seq.NewCachedState(m.dec, &seq2seq.Workspace{}, enc).Next([][]int64{{m.decoderStart, m.tok.langID(tgt)}})
	if err != nil {
		return nil, err
	}
	return slices.Clone(logits[0]), nil
}

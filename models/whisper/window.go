package whisper

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/edgeinfer/edgeinfer/models/seq2seq"
)

// audioWindow is one 30 s window of a request as the encoder sees it: its
// log-mel features until the first job over it is encoded, then the
// encoder's output, which the window's later jobs (each fallback
// temperature, the word-alignment pass) decode from instead of encoding
// the window again, as faster-whisper keeps encoder_output across
// generate_with_fallback. Only the scheduler goroutine writes it; a request
// submits one job at a time, each after the last one's result.
type audioWindow struct {
	features []float32 // n_mels × 3000; nil once encoded
	states   []float32 // encoder positions × d_model; nil until encoded
}

// windowJob is one decoding of one 30 s window: what the Stepper queues.
// Requests submit a job per window and per temperature they try, so the
// windows of concurrent requests share encoder batches and decoder steps.
type windowJob struct {
	window *audioWindow
	// prompt is the decoder prefix: [<|startofprev|> previous text…]
	// <|startoftranscript|> [<|lang|> <|task|>] [<|notimestamps|>] [prefix…].
	prompt []int64
	// langPos is the index of the language token in prompt; with detect
	// the starter fills it in from the first step's language logits.
	langPos int
	detect  bool
	// sotIndex is the index of <|startoftranscript|> in prompt: no_speech
	// is read from the logits after it.
	sotIndex int
	// sampleLen bounds the tokens sampled after the prompt.
	sampleLen   int
	beams       int
	temperature float64
	seed        uint64 // the sampling source's seed (temperature > 0)
	rules       logitRules
	// align asks for the alignment heads' cross-attention over prompt
	// (a forced pass: nothing is sampled).
	align bool
}

// windowResult is a finished job.
type windowResult struct {
	tokens       []int64 // sampled, without <|endoftext|>
	sumLogprob   float64
	avgLogprob   float64
	noSpeechProb float64
	// language and languageProb are set when the job detected them.
	language     string
	languageProb float64
	// attention is the forced pass's cross-attention per prompt position,
	// each [alignment heads × encoder positions].
	attention [][]float32
	// nextProbs[p] is the forced pass's probability of prompt[p+1] after
	// prompt[:p+1], softmax'd over the text tokens (ids below
	// <|endoftext|>) as find_alignment takes its token probabilities.
	nextProbs []float64
}

// windowSearch is a job's search as a seq2seq cohort member: the greedy,
// sampling or beam search over its rows, with Whisper's logit rules.
type windowSearch struct {
	job   *windowJob
	inner seq2seq.Searcher
	res   windowResult
}

func newWindowSearch(job *windowJob, eot int64) *windowSearch {
	cfg := seq2seq.SearchConfig{NumBeams: max(job.beams, 1), MaxLength: len(job.prompt) + job.sampleLen,
		LengthPenalty: 1, EOS: eot, ForcedEOS: -1, Early: seq2seq.EarlyStopTrue}
	w := &windowSearch{job: job}
	switch {
	case job.temperature > 0 || cfg.NumBeams == 1:
		g := seq2seq.NewGreedy(cfg, job.prompt)
		if job.temperature > 0 {
			g.Sample(job.temperature, rand.New(rand.NewPCG(job.seed, 0x5157)))
		}
		w.inner = g
	default:
		w.inner = seq2seq.NewBeamSearch(cfg, job.prompt)
	}
	return w
}

// Sequences implements seq2seq.Member.
func (w *windowSearch) Sequences() [][]int64 { return w.inner.Sequences() }

// Candidates implements seq2seq.Member.
func (w *windowSearch) Candidates() int { return w.inner.Candidates() }

// ProcessLogits implements seq2seq.LogitsProcessor.
func (w *windowSearch) ProcessLogits(logits [][]float32) {
	seqs := w.inner.Sequences()
	for i, row := range logits {
		w.job.rules.apply(seqs[i], row)
	}
}

// Advance implements seq2seq.Member.
func (w *windowSearch) Advance(logits [][]float32, sums []seq2seq.RowSummary) ([]int, bool) {
	return w.inner.Advance(logits, sums)
}

// Result implements seq2seq.Member: the sampled tokens and their summed
// log-probability (the beam search's score is length-normalized over the
// tokens after the decoder start; undone here).
func (w *windowSearch) Result() windowResult {
	h := w.inner.Result()
	res := w.res
	res.tokens = slices.Clone(h.Tokens[min(len(w.job.prompt)-1, len(h.Tokens)):])
	res.sumLogprob = h.Score
	if _, beam := w.inner.(*seq2seq.BeamSearch); beam {
		generated := len(h.Tokens)
		if h.EOS {
			generated++
		}
		res.sumLogprob = h.Score * float64(generated)
	}
	res.avgLogprob = res.sumLogprob / float64(len(res.tokens)+1)
	return res
}

// noSpeechState reads each member's no_speech probability from the first
// step's logits after <|startoftranscript|>, before any rule edits them.
type noSpeechState struct {
	seq2seq.State
	members  []*windowSearch
	noSpeech int64
	done     bool
}

// noSpeechState is a Joiner when its state is; the build fails if a
// method goes missing.
var _ seq2seq.Joiner = (*noSpeechState)(nil)

// Len implements seq2seq.Joiner: -1 over a state that is none.
func (s *noSpeechState) Len() int {
	if j, ok := s.State.(seq2seq.Joiner); ok {
		return j.Len()
	}
	return -1
}

// Join implements seq2seq.Joiner, once both have read their no_speech
// probabilities.
func (s *noSpeechState) Join(other seq2seq.State) bool {
	o, ok := other.(*noSpeechState)
	if !ok || !s.done || !o.done {
		return false
	}
	if j, ok := s.State.(seq2seq.Joiner); !ok || !j.Join(o.State) {
		return false
	}
	s.members = append(s.members, o.members...)
	return true
}

func (s *noSpeechState) Next(seqs [][]int64) ([][]float32, error) {
	logits, err := s.State.Next(seqs)
	if err != nil || s.done {
		return logits, err
	}
	s.done = true
	for i, m := range s.members {
		if row := s.Logits(i, m.job.sotIndex); row != nil {
			m.res.noSpeechProb = softmaxAt(row, s.noSpeech)
		}
	}
	return logits, nil
}

// softmaxAt is softmax(row)[i], in float64.
func softmaxAt(row []float32, i int64) float64 {
	if i < 0 || int(i) >= len(row) {
		return 0
	}
	return math.Exp(float64(row[i]) - logSumExp(row))
}

// alignPass is a forced pass as a cohort member: one step over the whole
// prompt, whose cross-attention and next-token probabilities it keeps.
type alignPass struct {
	job   *windowJob
	state seq2seq.State
	row   int
	eot   int64 // the first id that is not a text token
	res   windowResult
}

func (a *alignPass) Sequences() [][]int64 { return [][]int64{a.job.prompt} }
func (a *alignPass) Candidates() int      { return 1 }
func (a *alignPass) Advance([][]float32, []seq2seq.RowSummary) ([]int, bool) {
	a.res.attention = a.state.CrossAttention(a.row)
	prompt := a.job.prompt
	a.res.nextProbs = make([]float64, max(len(prompt)-1, 0))
	for p := range a.res.nextProbs {
		row := a.state.Logits(a.row, p)
		if next := prompt[p+1]; next < a.eot && int(a.eot) <= len(row) {
			a.res.nextProbs[p] = softmaxAt(row[:a.eot], next)
		}
	}
	return nil, true
}
func (a *alignPass) Result() windowResult { return a.res }

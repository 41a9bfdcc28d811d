package seq2seq

import (
	"math"
	"math/rand/v2"
	"slices"
)

// EarlyStopping is generation_config's early_stopping: true stops a beam
// search once num_beams hypotheses are finished; false stops when the best
// running beam can no longer beat them at the current length; never, at
// any length.
type EarlyStopping int

const (
	EarlyStopTrue EarlyStopping = iota
	EarlyStopFalse
	EarlyStopNever
)

// SearchConfig is what decides the tokens, from generation_config.json and
// the model config.
type SearchConfig struct {
	NumBeams      int
	MaxLength     int // counts the decoder start token, as Hugging Face's max_length does
	Early         EarlyStopping
	LengthPenalty float64
	EOS           int64
	ForcedEOS     int64 // forced_eos_token_id, or -1
}

// Hypothesis is a finished search: the tokens after the decoder start
// token (the target language first, without the closing </s>) and the
// search's score for them.
type Hypothesis struct {
	Tokens []int64
	// Score is the greedy path's summed log-probability, or the beam
	// search's length-normalized one: sum / generated_len^length_penalty.
	Score float64
	// EOS reports that the search ended on </s> rather than at max_length.
	EOS bool
}

// Searcher is one request's search as a cohort member: it reads the
// next-token logits of its decoder rows and picks the tokens the rows
// continue with; its result is the finished Hypothesis.
type Searcher = Member[Hypothesis]

// NewSearcher starts a search from the decoder prefix [decoder start,
// __tgt__]: Hugging Face forces the target language as the first generated
// token, which adds nothing to the score, so the prefix is decoded at once.
func NewSearcher(cfg SearchConfig, prefix []int64) Searcher {
	if cfg.NumBeams <= 1 {
		return NewGreedy(cfg, prefix)
	}
	return NewBeamSearch(cfg, prefix)
}

// NewBeamSearch starts from one beam. Hugging Face starts num_beams copies
// of the prefix, all but the first at -1e9, so the first expansion takes
// its 2·num_beams candidates from the first alone: the same as one beam.
func NewBeamSearch(cfg SearchConfig, prefix []int64) *BeamSearch {
	return &BeamSearch{cfg: cfg, running: []beam{{tokens: slices.Clone(prefix)}}, improvable: true}
}

// candidates is how many best tokens per row a search looks at: the
// argmax, or Hugging Face's 2·num_beams continuations.
func (c SearchConfig) Candidates() int {
	if c.NumBeams <= 1 {
		return 1
	}
	return 2 * c.NumBeams // max(2, 1 + number of eos tokens) · num_beams
}

// forcedEOSNow reports whether Hugging Face's ForcedEOSTokenLogitsProcessor
// applies at this length: only </s> may come next.
func (c SearchConfig) forcedEOSNow(curLen int) bool {
	return c.ForcedEOS >= 0 && curLen == c.MaxLength-1
}

// NewGreedy starts a greedy search from the decoder prefix.
func NewGreedy(cfg SearchConfig, prefix []int64) *Greedy {
	return &Greedy{cfg: cfg, seq: slices.Clone(prefix)}
}

// Greedy is num_beams 1: the most likely token each step.
type Greedy struct {
	cfg   SearchConfig
	seq   []int64
	score float64
	res   Hypothesis
	// temperature > 0 samples each token from softmax(logits/temperature)
	// with rng instead of taking the argmax.
	temperature float64
	rng         *rand.Rand
}

// Sample makes the search draw each token from softmax(logits /
// temperature) with rng (Whisper's temperature fallback); the score still
// sums the tokens' untempered log-probabilities. Temperature 0 keeps the
// argmax.
func (g *Greedy) Sample(temperature float64, rng *rand.Rand) {
	g.temperature, g.rng = temperature, rng
}

// Sequences implements Member.
func (g *Greedy) Sequences() [][]int64 { return [][]int64{g.seq} }

// Candidates implements Member.
func (g *Greedy) Candidates() int { return g.cfg.Candidates() }

// Advance implements Member.
func (g *Greedy) Advance(logits [][]float32, sums []RowSummary) ([]int, bool) {
	next := int64(sums[0].Top[0]) // the first of equal maxima, as argmax
	if g.temperature > 0 {
		next = sample(logits[0], sums[0], g.temperature, g.rng)
	}
	if g.cfg.forcedEOSNow(len(g.seq)) {
		next = g.cfg.ForcedEOS
	} else {
		g.score += float64(logits[0][next]) - sums[0].Norm
	}
	g.seq = append(g.seq, next)
	if next == g.cfg.EOS || len(g.seq) >= g.cfg.MaxLength {
		tokens := g.seq[1:]
		if next == g.cfg.EOS {
			tokens = tokens[:len(tokens)-1]
		}
		g.res = Hypothesis{Tokens: tokens, Score: g.score, EOS: next == g.cfg.EOS}
		return nil, true
	}
	return []int{0}, false
}

// Result implements Member.
func (g *Greedy) Result() Hypothesis { return g.res }

// beam is a running beam: its tokens (decoder start first) and summed
// log-probability.
type beam struct {
	tokens []int64
	score  float64
}

// BeamSearch is Hugging Face's beam search (transformers 4.57
// _beam_search): each step keeps the 2·num_beams best continuations of all
// beams; those among the first num_beams that end (</s> or max_length)
// become finished hypotheses scored sum/generated_len^length_penalty, the
// best num_beams that do not end run on.
type BeamSearch struct {
	cfg     SearchConfig
	running []beam
	// finished holds at most num_beams hypotheses, best first.
	finished []Hypothesis
	// improvable is Hugging Face's is_early_stop_heuristic_unsatisfied.
	improvable bool
	res        Hypothesis
}

// Sequences implements Member.
func (b *BeamSearch) Sequences() [][]int64 {
	seqs := make([][]int64, len(b.running))
	for i, r := range b.running {
		seqs[i] = r.tokens
	}
	return seqs
}

// candidate is a continuation: a beam (row) extended by a token.
type candidate struct {
	row   int
	token int64
	score float64
}

// Candidates implements Member.
func (b *BeamSearch) Candidates() int { return b.cfg.Candidates() }

// Advance implements Member.
func (b *BeamSearch) Advance(logits [][]float32, sums []RowSummary) ([]int, bool) {
	n := b.cfg.NumBeams
	keep := b.cfg.Candidates()
	curLen := len(b.running[0].tokens)
	cands := make([]candidate, 0, keep*len(logits))
	for r, row := range logits {
		if b.cfg.forcedEOSNow(curLen) {
			cands = append(cands, candidate{row: r, token: b.cfg.EOS, score: b.running[r].score})
			continue
		}
		for _, tok := range sums[r].Top {
			cands = append(cands, candidate{row: r, token: int64(tok), score: b.running[r].score + float64(row[tok]) - sums[r].Norm})
		}
	}
	// Best first; ties go to the lower flat index (row, then token).
	slices.SortStableFunc(cands, func(x, y candidate) int {
		switch {
		case x.score > y.score:
			return -1
		case x.score < y.score:
			return 1
		}
		return 0
	})
	if len(cands) > keep {
		cands = cands[:keep]
	}

	atMax := curLen+1 >= b.cfg.MaxLength
	genLen := float64(curLen) // tokens generated after the decoder start, the new one included
	full := b.cfg.Early == EarlyStopTrue && len(b.finished) == n
	var parents []int
	var next []beam
	for rank, c := range cands {
		ends := c.token == b.cfg.EOS || atMax
		if ends {
			if rank < n && !full && b.improvable {
				b.addFinished(c, genLen)
			}
			continue
		}
		if len(next) < n {
			parent := b.running[c.row].tokens
			seq := append(slices.Clone(parent), c.token)
			next = append(next, beam{tokens: seq, score: c.score})
			parents = append(parents, c.row)
		}
	}

	// The early-stopping heuristic, at the length the next step starts from.
	if len(next) > 0 && len(b.finished) == n {
		bestLen := genLen
		if b.cfg.Early == EarlyStopNever && b.cfg.LengthPenalty > 0 {
			bestLen = float64(b.cfg.MaxLength - 1)
		}
		best := next[0].score / math.Pow(bestLen, b.cfg.LengthPenalty)
		b.improvable = b.improvable && best > b.finished[len(b.finished)-1].Score
	}
	allFinished := len(b.finished) == n
	if len(next) == 0 || !b.improvable || (allFinished && b.cfg.Early == EarlyStopTrue) {
		b.res = b.finished[0]
		return nil, true
	}
	b.running = next
	return parents, false
}

// addFinished records an ending continuation, keeping the best num_beams
// (earlier ones first on equal scores).
func (b *BeamSearch) addFinished(c candidate, genLen float64) {
	tokens := slices.Clone(b.running[c.row].tokens[1:])
	if c.token != b.cfg.EOS {
		tokens = append(tokens, c.token) // cut by max_length: the last token is text
	}
	h := Hypothesis{Tokens: tokens, Score: c.score / math.Pow(genLen, b.cfg.LengthPenalty), EOS: c.token == b.cfg.EOS}
	i, _ := slices.BinarySearchFunc(b.finished, h, func(x, y Hypothesis) int {
		if x.Score >= y.Score {
			return -1
		}
		return 1
	})
	b.finished = slices.Insert(b.finished, i, h)
	if len(b.finished) > b.cfg.NumBeams {
		b.finished = b.finished[:b.cfg.NumBeams]
	}
}

// Result implements Member.
func (b *BeamSearch) Result() Hypothesis { return b.res }

// sample draws a token from softmax(row / temperature): the inverse of
// the cumulative distribution at one uniform draw, in float64. Tokens
// more than 40 nats below the best (after the temperature) weigh
// nothing, as in Summarize; the weights are computed twice rather than
// kept, since a vocabulary-sized buffer per row and step cost more.
func sample(row []float32, sum RowSummary, temperature float64, rng *rand.Rand) int64 {
	if len(sum.Top) == 0 {
		return 0
	}
	if math.IsInf(sum.Norm, -1) {
		return int64(sum.Top[0])
	}
	m, inv := float64(row[sum.Top[0]]), 1/temperature
	weight := func(v float32) float64 {
		if d := (float64(v) - m) * inv; d > -40 {
			return expNonPositive(d)
		}
		return 0
	}
	total := 0.0
	for _, v := range row {
		total += weight(v)
	}
	u := rng.Float64() * total
	for i, v := range row {
		w := weight(v)
		if u < w {
			return int64(i)
		}
		u -= w
	}
	return int64(sum.Top[0]) // rounding left u past the end
}

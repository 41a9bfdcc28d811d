package m2m100

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// earlyStopping is generation_config's early_stopping: true stops a beam
// search once num_beams hypotheses are finished; false stops when the best
// running beam can no longer beat them at the current length; never, at
// any length.
type earlyStopping int

const (
	earlyStopTrue earlyStopping = iota
	earlyStopFalse
	earlyStopNever
)

// searchConfig is what decides the tokens, from generation_config.json and
// the model config.
type searchConfig struct {
	numBeams      int
	maxLength     int // counts the decoder start token, as Hugging Face's max_length does
	early         earlyStopping
	lengthPenalty float64
	eos           int64
	forcedEOS     int64 // forced_eos_token_id, or -1
}

// hypothesis is a finished search: the tokens after the decoder start
// token (the target language first, without the closing </s>) and the
// search's score for them.
type hypothesis struct {
	tokens []int64
	// score is the greedy path's summed log-probability, or the beam
	// search's length-normalized one: sum / generated_len^length_penalty.
	score float64
	// eos reports that the search ended on </s> rather than at max_length.
	eos bool
}

// searcher is one request's search: it reads the next-token logits of its
// decoder rows and picks the tokens the rows continue with.
type searcher interface {
	// sequences are the rows' token sequences so far, decoder start first.
	sequences() [][]int64
	// advance reads one vocabulary-sized row of logits per row, with its
	// summary (summarize(row, cfg.candidates())), and picks the next rows:
	// row i continues row parents[i], one token longer. It reports done
	// when the search has finished; then the result is set.
	advance(logits [][]float32, sums []rowSummary) (parents []int, done bool)
	result() hypothesis
}

// newSearcher starts a search from the decoder prefix [decoder start,
// __tgt__]: Hugging Face forces the target language as the first generated
// token, which adds nothing to the score, so the prefix is decoded at once.
func newSearcher(cfg searchConfig, prefix []int64) searcher {
	if cfg.numBeams <= 1 {
		return &greedy{cfg: cfg, seq: slices.Clone(prefix)}
	}
	return newBeamSearch(cfg, prefix)
}

// newBeamSearch starts from one beam. Hugging Face starts num_beams copies
// of the prefix, all but the first at -1e9, so the first expansion takes
// its 2·num_beams candidates from the first alone: the same as one beam.
func newBeamSearch(cfg searchConfig, prefix []int64) *beamSearch {
	return &beamSearch{cfg: cfg, running: []beam{{tokens: slices.Clone(prefix)}}, improvable: true}
}

// candidates is how many best tokens per row a search looks at: the
// argmax, or Hugging Face's 2·num_beams continuations.
func (c searchConfig) candidates() int {
	if c.numBeams <= 1 {
		return 1
	}
	return 2 * c.numBeams // max(2, 1 + number of eos tokens) · num_beams
}

// rowSummary is what a search reads from a row of logits besides single
// values: log Σ exp(row), so a token's log-probability is row[token] minus
// it, and the best tokens, best first.
type rowSummary struct {
	norm float64
	top  []int
}

// summarize scans one row: its k best tokens and its log-normalizer. The
// sum runs in float64 over the row alone, so a row's values do not depend
// on its neighbours in a batch.
func summarize(row []float32, k int) rowSummary {
	top := topTokens(row, k)
	if len(top) == 0 || math.IsInf(float64(row[top[0]]), -1) {
		return rowSummary{norm: math.Inf(-1), top: top}
	}
	m := float64(row[top[0]])
	var sum float64
	for _, v := range row {
		// exp(-40) adds under 1e-17 per token: below float64's resolution
		// of the sum even over a whole vocabulary, and trained models put
		// most tokens there.
		if d := float64(v) - m; d > -40 {
			sum += expNonPositive(d)
		}
	}
	return rowSummary{norm: m + math.Log(sum), top: top}
}

// summarizeRows summarizes rows in parallel: at a 128k vocabulary a row is
// a few milliseconds of exponentials, and a step of 8 requests × 5 beams
// has 40 of them while the cores are otherwise idle between ORT runs.
func summarizeRows(rows [][]float32, k int) []rowSummary {
	sums := make([]rowSummary, len(rows))
	workers := min(len(rows), runtime.GOMAXPROCS(0))
	if workers <= 1 || len(rows)*len(rows[0]) < 1<<16 {
		for i, row := range rows {
			sums[i] = summarize(row, k)
		}
		return sums
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(rows); i = int(next.Add(1) - 1) {
				sums[i] = summarize(rows[i], k)
			}
		})
	}
	wg.Wait()
	return sums
}

// expNonPositive is exp(x) for -40 < x ≤ 0, to about 1e-9 relative error,
// faster than math.Exp: exp(x) = 2^k · exp(r) with k = round(x / ln 2) and
// |r| ≤ ln2/2, exp(r) by its Taylor series to r^8.
func expNonPositive(x float64) float64 {
	k := float64(int64(x*math.Log2E - 0.5)) // round half away from zero, x ≤ 0
	r := x - k*0.6931471805599453
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040+r*(1.0/40320))))))))
	return p * math.Float64frombits(uint64(int64(k)+1023)<<52)
}

// forcedEOSNow reports whether Hugging Face's ForcedEOSTokenLogitsProcessor
// applies at this length: only </s> may come next.
func (c searchConfig) forcedEOSNow(curLen int) bool {
	return c.forcedEOS >= 0 && curLen == c.maxLength-1
}

// greedy is num_beams 1: the most likely token each step.
type greedy struct {
	cfg   searchConfig
	seq   []int64
	score float64
	res   hypothesis
}

func (g *greedy) sequences() [][]int64 { return [][]int64{g.seq} }

func (g *greedy) advance(logits [][]float32, sums []rowSummary) ([]int, bool) {
	next := int64(sums[0].top[0]) // the first of equal maxima, as argmax
	if g.cfg.forcedEOSNow(len(g.seq)) {
		next = g.cfg.forcedEOS
	} else {
		g.score += float64(logits[0][next]) - sums[0].norm
	}
	g.seq = append(g.seq, next)
	if next == g.cfg.eos || len(g.seq) >= g.cfg.maxLength {
		tokens := g.seq[1:]
		if next == g.cfg.eos {
			tokens = tokens[:len(tokens)-1]
		}
		g.res = hypothesis{tokens: tokens, score: g.score, eos: next == g.cfg.eos}
		return nil, true
	}
	return []int{0}, false
}

func (g *greedy) result() hypothesis { return g.res }

// beam is a running beam: its tokens (decoder start first) and summed
// log-probability.
type beam struct {
	tokens []int64
	score  float64
}

// beamSearch is Hugging Face's beam search (transformers 4.57
// _beam_search): each step keeps the 2·num_beams best continuations of all
// beams; those among the first num_beams that end (</s> or max_length)
// become finished hypotheses scored sum/generated_len^length_penalty, the
// best num_beams that do not end run on.
type beamSearch struct {
	cfg     searchConfig
	running []beam
	// finished holds at most num_beams hypotheses, best first.
	finished []hypothesis
	// improvable is Hugging Face's is_early_stop_heuristic_unsatisfied.
	improvable bool
	res        hypothesis
}

func (b *beamSearch) sequences() [][]int64 {
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

func (b *beamSearch) advance(logits [][]float32, sums []rowSummary) ([]int, bool) {
	n := b.cfg.numBeams
	keep := b.cfg.candidates()
	curLen := len(b.running[0].tokens)
	cands := make([]candidate, 0, keep*len(logits))
	for r, row := range logits {
		if b.cfg.forcedEOSNow(curLen) {
			cands = append(cands, candidate{row: r, token: b.cfg.eos, score: b.running[r].score})
			continue
		}
		for _, tok := range sums[r].top {
			cands = append(cands, candidate{row: r, token: int64(tok), score: b.running[r].score + float64(row[tok]) - sums[r].norm})
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

	atMax := curLen+1 >= b.cfg.maxLength
	genLen := float64(curLen) // tokens generated after the decoder start, the new one included
	full := b.cfg.early == earlyStopTrue && len(b.finished) == n
	var parents []int
	var next []beam
	for rank, c := range cands {
		ends := c.token == b.cfg.eos || atMax
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
		if b.cfg.early == earlyStopNever && b.cfg.lengthPenalty > 0 {
			bestLen = float64(b.cfg.maxLength - 1)
		}
		best := next[0].score / math.Pow(bestLen, b.cfg.lengthPenalty)
		b.improvable = b.improvable && best > b.finished[len(b.finished)-1].score
	}
	allFinished := len(b.finished) == n
	if len(next) == 0 || !b.improvable || (allFinished && b.cfg.early == earlyStopTrue) {
		b.res = b.finished[0]
		return nil, true
	}
	b.running = next
	return parents, false
}

// addFinished records an ending continuation, keeping the best num_beams
// (earlier ones first on equal scores).
func (b *beamSearch) addFinished(c candidate, genLen float64) {
	tokens := slices.Clone(b.running[c.row].tokens[1:])
	if c.token != b.cfg.eos {
		tokens = append(tokens, c.token) // cut by max_length: the last token is text
	}
	h := hypothesis{tokens: tokens, score: c.score / math.Pow(genLen, b.cfg.lengthPenalty), eos: c.token == b.cfg.eos}
	i, _ := slices.BinarySearchFunc(b.finished, h, func(x, y hypothesis) int {
		if x.score >= y.score {
			return -1
		}
		return 1
	})
	b.finished = slices.Insert(b.finished, i, h)
	if len(b.finished) > b.cfg.numBeams {
		b.finished = b.finished[:b.cfg.numBeams]
	}
}

func (b *beamSearch) result() hypothesis { return b.res }

// topTokens returns the indices of the k largest values of row, largest
// first, the lower index first among equals.
func topTokens(row []float32, k int) []int {
	k = min(k, len(row))
	top := make([]int, 0, k+1)
	less := func(a, b int) bool { // a ranks below b
		return row[a] < row[b] || (row[a] == row[b] && a > b)
	}
	for i := range row {
		if len(top) == k && !less(top[k-1], i) {
			continue
		}
		j := len(top)
		if j == k {
			j--
		} else {
			top = append(top, 0)
		}
		for j > 0 && less(top[j-1], i) {
			top[j] = top[j-1]
			j--
		}
		top[j] = i
	}
	return top
}

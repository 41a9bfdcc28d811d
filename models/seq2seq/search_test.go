package seq2seq

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// probs turns probabilities into a logits row whose log-normalizer is 0,
// so each logit is the token's log-probability.
func probs(p ...float64) []float32 {
	row := make([]float32, len(p))
	for i, v := range p {
		row[i] = float32(math.Log(v))
	}
	return row
}

const testEOS = 2

// advance feeds rows of logits to a search with their summaries.
func advance(s Searcher, cfg SearchConfig, rows ...[]float32) ([]int, bool) {
	sums := make([]RowSummary, len(rows))
	for i, row := range rows {
		sums[i] = Summarize(row, cfg.Candidates())
	}
	return s.Advance(rows, sums)
}

// TestBeamSearchFinishesAsHuggingFace walks a 2-beam search over a
// 6-token vocabulary through two steps, with the expected values worked
// out by hand from transformers' _beam_search.
func TestBeamSearchFinishesAsHuggingFace(t *testing.T) {
	cfg := SearchConfig{NumBeams: 2, MaxLength: 10, LengthPenalty: 1, EOS: testEOS, ForcedEOS: -1, Early: EarlyStopTrue}
	s := NewSearcher(cfg, []int64{2, 99})

	// Step 1 (one running beam [2, 99]): candidates 3 (.5), </s> (.3),
	// 4 (.15), 5 (.05). </s> is ranked 2nd < num_beams, so it finishes,
	// scored log(.3) over 2 generated tokens (99 and </s>); 3 and 4 run on.
	parents, done := advance(s, cfg, probs(1e-30, 1e-30, .3, .5, .15, .05))
	if done || !slices.Equal(parents, []int{0, 0}) {
		t.Fatalf("step 1: parents %v, done %v", parents, done)
	}
	if got := s.Sequences(); !slices.Equal(got[0], []int64{2, 99, 3}) || !slices.Equal(got[1], []int64{2, 99, 4}) {
		t.Fatalf("step 1: running %v", got)
	}
	b := s.(*BeamSearch)
	if len(b.finished) != 1 || math.Abs(b.finished[0].Score-math.Log(.3)/2) > 1e-6 {
		t.Fatalf("step 1: finished %+v", b.finished)
	}

	// Step 2: beam [..3] ends with p .9, beam [..4] ends or continues with
	// .5 each. Both endings rank in the top 2 and finish over 3 tokens; the
	// better two of the three finished stay, so the slots fill and early
	// stopping ends the search with [99, 3].
	_, done = advance(s, cfg, probs(1e-30, 1e-30, .9, 1e-30, 1e-30, .1), probs(1e-30, 1e-30, .5, .5, 1e-30, 1e-30))
	if !done {
		t.Fatal("step 2: the search should be done")
	}
	res := s.Result()
	wantScore := (math.Log(.5) + math.Log(.9)) / 3
	if !slices.Equal(res.Tokens, []int64{99, 3}) || !res.EOS || math.Abs(res.Score-wantScore) > 1e-6 {
		t.Errorf("result %+v, want tokens [99 3] ending on </s> with score %v", res, wantScore)
	}
	if len(b.finished) != 2 || math.Abs(b.finished[1].Score-math.Log(.3)/2) > 1e-6 {
		t.Errorf("kept hypotheses %+v, want the step-1 one second", b.finished)
	}
}

func TestBeamSearchIgnoresEndingsOutsideTheTopBeams(t *testing.T) {
	cfg := SearchConfig{NumBeams: 2, MaxLength: 10, LengthPenalty: 1, EOS: testEOS, ForcedEOS: -1, Early: EarlyStopTrue}
	s := NewSearcher(cfg, []int64{2, 99})
	// </s> ranks third: Hugging Face does not finish it.
	advance(s, cfg, probs(1e-30, 1e-30, .2, .4, .35, .05))
	if b := s.(*BeamSearch); len(b.finished) != 0 {
		t.Errorf("finished %+v; an ending ranked below num_beams must not count", b.finished)
	}
}

func TestBeamSearchLengthPenaltyAndMaxLength(t *testing.T) {
	// max_length 4: the second step's candidates all end by length; the
	// top num_beams of them finish, normalized by 3 generated tokens to
	// the power 2.
	cfg := SearchConfig{NumBeams: 2, MaxLength: 4, LengthPenalty: 2, EOS: testEOS, ForcedEOS: -1, Early: EarlyStopTrue}
	s := NewSearcher(cfg, []int64{2, 99})
	advance(s, cfg, probs(1e-30, 1e-30, 1e-30, .6, .4, 1e-30))
	_, done := advance(s, cfg, probs(1e-30, 1e-30, 1e-30, .7, .3, 1e-30), probs(1e-30, 1e-30, 1e-30, .2, .8, 1e-30))
	if !done {
		t.Fatal("max_length reached: the search should be done")
	}
	res := s.Result()
	want := (math.Log(.6) + math.Log(.7)) / 9
	if !slices.Equal(res.Tokens, []int64{99, 3, 3}) || res.EOS || math.Abs(res.Score-want) > 1e-6 {
		t.Errorf("result %+v, want [99 3 3] cut by max_length, score %v", res, want)
	}
}

func TestGreedyPicksTheFirstMaximumAndStops(t *testing.T) {
	cfg := SearchConfig{NumBeams: 1, MaxLength: 5, LengthPenalty: 1, EOS: testEOS, ForcedEOS: -1}
	s := NewSearcher(cfg, []int64{2, 99})
	if _, done := advance(s, cfg, []float32{0, 1, 0, 3, 3}); done {
		t.Fatal("greedy stopped early")
	}
	if got := s.Sequences()[0]; !slices.Equal(got, []int64{2, 99, 3}) {
		t.Fatalf("sequence %v: argmax takes the first of equal maxima", got)
	}
	if _, done := advance(s, cfg, []float32{0, 1, 5, 3, 3}); !done {
		t.Fatal("</s> should end the search")
	}
	if res := s.Result(); !slices.Equal(res.Tokens, []int64{99, 3}) || !res.EOS {
		t.Errorf("result %+v", res)
	}

	s = NewSearcher(cfg, []int64{2, 99})
	for range 3 {
		if _, done := advance(s, cfg, []float32{0, 1, 0, 0, 9}); done && len(s.Sequences()[0]) < 5 {
			t.Fatal("stopped before max_length")
		}
	}
	if res := s.Result(); !slices.Equal(res.Tokens, []int64{99, 4, 4, 4}) || res.EOS {
		t.Errorf("result %+v, want 4 tokens cut by max_length 5", res)
	}
}

func TestForcedEOSAtTheLastPosition(t *testing.T) {
	for _, beams := range []int{1, 2} {
		cfg := SearchConfig{NumBeams: beams, MaxLength: 4, LengthPenalty: 1, EOS: testEOS, ForcedEOS: testEOS, Early: EarlyStopTrue}
		s := NewSearcher(cfg, []int64{2, 99})
		advance(s, cfg, probs(1e-30, 1e-30, 1e-30, .6, .4, 1e-30))
		rows := make([][]float32, len(s.Sequences()))
		for i := range rows {
			rows[i] = probs(1e-30, 1e-30, 1e-30, .9, .1, 1e-30)
		}
		if _, done := advance(s, cfg, rows...); !done {
			t.Fatalf("%d beams: not done at max_length", beams)
		}
		if res := s.Result(); !res.EOS || !slices.Equal(res.Tokens, []int64{99, 3}) {
			t.Errorf("%d beams: result %+v, want </s> forced after [99 3]", beams, res)
		}
	}
}

func TestTopTokens(t *testing.T) {
	row := []float32{1, 5, 3, 5, -2, 4}
	if got := TopTokens(row, 3); !slices.Equal(got, []int{1, 3, 5}) {
		t.Errorf("topTokens = %v, want [1 3 5]", got)
	}
	if got := TopTokens(row, 10); len(got) != len(row) || got[len(got)-1] != 4 {
		t.Errorf("topTokens beyond the row = %v", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	big := make([]float32, 5000)
	for i := range big {
		big[i] = float32(r.NormFloat64())
	}
	idx := make([]int, len(big))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case big[a] > big[b]:
			return -1
		case big[a] < big[b]:
			return 1
		}
		return 0
	})
	if got := TopTokens(big, 10); !slices.Equal(got, idx[:10]) {
		t.Errorf("topTokens = %v, want %v", got, idx[:10])
	}
}

func TestExpNonPositiveAndTheNormalizer(t *testing.T) {
	for _, x := range []float64{0, -1e-9, -0.3465, -0.3467, -0.5, -1, -2.5, -10, -39.9} {
		want := math.Exp(x)
		if got := expNonPositive(x); math.Abs(got-want) > 1e-9*want {
			t.Errorf("expNonPositive(%v) = %v, want %v", x, got, want)
		}
	}
	row := []float32{1, 2, 3, -4, -60}
	want := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3) + math.Exp(-4) + math.Exp(-60))
	sum := Summarize(row, 2)
	if math.Abs(sum.Norm-want) > 1e-9 || !slices.Equal(sum.Top, []int{2, 1}) {
		t.Errorf("summarize = %+v, want norm %v and top [2 1]", sum, want)
	}
	// In parallel or not, every row gets its own summary.
	rows := make([][]float32, 9)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range rows {
		rows[i] = make([]float32, 20000)
		for j := range rows[i] {
			rows[i][j] = float32(r.NormFloat64())
		}
	}
	for i, got := range SummarizeRows(rows, 3) {
		if w := Summarize(rows[i], 3); got.Norm != w.Norm || !slices.Equal(got.Top, w.Top) {
			t.Errorf("row %d: %+v, alone %+v", i, got, w)
		}
	}
}

// Sampling at temperature T draws tokens with probability ∝ p^(1/T), and
// scores them with their untempered log-probabilities.
func TestGreedySamplesAtTheTemperature(t *testing.T) {
	cfg := SearchConfig{NumBeams: 1, MaxLength: 3, LengthPenalty: 1, EOS: testEOS, ForcedEOS: -1}
	row := probs(.1, .2, 1e-9, .3, .4-1e-9)
	for _, temp := range []float64{0.5, 1, 2} {
		rng := rand.New(rand.NewPCG(1, 2))
		counts := make([]int, len(row))
		const n = 20000
		for range n {
			g := NewGreedy(cfg, []int64{0})
			g.Sample(temp, rng)
			if _, done := advance(g, cfg, row); done {
				t.Fatal("one token of three should not finish the search")
			}
			tok := g.Sequences()[0][1]
			counts[tok]++
			if want := float64(row[tok]); math.Abs(g.score-want) > 1e-6 {
				t.Fatalf("token %d scored %v, want its log-probability %v", tok, g.score, want)
			}
		}
		var z float64
		for _, v := range row {
			z += math.Pow(math.Exp(float64(v)), 1/temp)
		}
		for tok, c := range counts {
			want := math.Pow(math.Exp(float64(row[tok])), 1/temp) / z
			if got := float64(c) / n; math.Abs(got-want) > 0.015 {
				t.Errorf("T=%v token %d: frequency %.4f, want %.4f", temp, tok, got, want)
			}
		}
	}
}

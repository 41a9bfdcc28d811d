package whisper

import (
	"math"
	"testing"
)

// A 16-token vocabulary: text 0–4, <|endoftext|> 5, specials 6–8
// (<|notimestamps|> 8), timestamps 9–15 (0.00 s … 0.12 s).
func testRules() logitRules {
	return logitRules{sampleBegin: 2, suppress: []int64{6, 7}, beginSuppress: []int64{1, 5}, timestamps: true,
		eot: 5, noTimestamps: 8, timestampBegin: 9, maxInitialTimestamp: 2}
}

// allowed lists which tokens a filtered row still permits.
func allowed(row []float32) []bool {
	out := make([]bool, len(row))
	for i, v := range row {
		out[i] = !math.IsInf(float64(v), -1)
	}
	return out
}

func flat(v float32) []float32 {
	row := make([]float32, 16)
	for i := range row {
		row[i] = v
	}
	return row
}

func TestTimestampRules(t *testing.T) {
	r := testRules()
	const X, o = false, true
	for _, c := range []struct {
		name    string
		sampled []int64
		row     []float32
		want    []bool
	}{
		// The first token is a timestamp no later than index 2 (tokens 9–11).
		{"first token", nil, flat(0), []bool{X, X, X, X, X, X, X, X, X, o, o, o, X, X, X, X}},
		// One timestamp opened a segment: text or end next (a row that
		// favours text, so the probability rule keeps it).
		{"after an opening timestamp", []int64{10}, textFavoured(), []bool{o, o, o, o, o, o, X, X, X, X, X, X, X, X, X, X}},
		// Text then a timestamp: the pair must close (a timestamp ≥ 12) or end.
		{"open pair", []int64{9, 3, 12}, eotFavoured(), []bool{X, X, X, X, X, o, X, X, X, X, X, X, o, o, o, o}},
		// A closed pair: no timestamp may follow.
		{"closed pair", []int64{9, 3, 12, 12}, textFavoured(), []bool{o, o, o, o, o, o, X, X, X, X, X, X, X, X, X, X}},
		// After text, timestamps must not go back before the last one (12) and must grow.
		{"monotonic", []int64{9, 3, 12, 12, 4}, flat(0), []bool{X, X, X, X, X, X, X, X, X, X, X, X, X, o, o, o}},
	} {
		row := append([]float32(nil), c.row...)
		r.apply(append([]int64{100, 101}, c.sampled...), row)
		got := allowed(row)
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: allowed %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

// eotFavoured makes end of text likelier than the timestamps together.
func eotFavoured() []float32 {
	row := flat(0)
	row[5] = 5
	return row
}

// textFavoured makes text tokens far likelier than all timestamps
// together, so the probability rule leaves text allowed.
func textFavoured() []float32 {
	row := flat(-10)
	for i := range 6 {
		row[i] = 5
	}
	return row
}

// The rule that forbids text when the timestamps together are likelier
// than the best text token, computed here from the probabilities.
func TestTimestampProbabilityRule(t *testing.T) {
	r := testRules()
	for _, c := range []struct {
		text     float64 // the best text token's logit; 7 timestamps sit at 0
		wantText bool
	}{
		{2, true},                  // e^2 = 7.39 > 7·e^0
		{math.Log(7) + 0.01, true}, // just above the timestamps' total
		{math.Log(7) - 0.01, false},
		{1.5, false}, // e^1.5 = 4.48 < 7
	} {
		row := flat(0)
		for i := range 5 {
			row[i] = -30
		}
		row[0] = float32(c.text)
		row[5] = -30
		r.apply([]int64{100, 101, 3}, row) // after text: every rule but this one allows text and timestamps
		if gotText := !math.IsInf(float64(row[0]), -1); gotText != c.wantText {
			t.Errorf("text logit %v vs 7 timestamps at 0: text allowed %v, want %v", c.text, gotText, c.wantText)
		}
	}
}

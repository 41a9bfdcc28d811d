package whisper

import (
	"math"
	"slices"
)

// logitRules are the filters openai-whisper's DecodingTask applies to a
// row's logits before a token is chosen, in its order: SuppressBlank,
// SuppressTokens, ApplyTimestampRules. They edit the logits in place
// (−∞ for a forbidden token), so the searches' log-probabilities are those
// of the filtered distribution, as Whisper's are.
type logitRules struct {
	// sampleBegin is the length of the decoder prefix: rows' tokens from
	// there on were sampled.
	sampleBegin int
	// suppress is always forbidden: generation_config's suppress_tokens
	// and the special tokens other than end of text and timestamps.
	suppress []int64
	// beginSuppress is forbidden as the first sampled token (a blank and
	// end of text: SuppressBlank).
	beginSuppress []int64
	// timestamps turns ApplyTimestampRules on (without <|notimestamps|>).
	timestamps                        bool
	eot, noTimestamps, timestampBegin int64
	// maxInitialTimestamp is the last timestamp index the first sampled
	// token may take (1.0 s / 0.02 s = 50), or -1 for none.
	maxInitialTimestamp int
}

var negInf = float32(math.Inf(-1))

// apply filters row, the next-token logits after seq.
func (r *logitRules) apply(seq []int64, row []float32) {
	sampled := seq[min(r.sampleBegin, len(seq)):]
	if len(sampled) == 0 {
		forbid(row, r.beginSuppress)
	}
	forbid(row, r.suppress)
	if r.timestamps {
		r.applyTimestampRules(sampled, row)
	}
}

// applyTimestampRules is openai-whisper's ApplyTimestampRules for one row.
func (r *logitRules) applyTimestampRules(sampled []int64, row []float32) {
	tb := int(r.timestampBegin)
	if tb >= len(row) {
		return
	}
	if r.noTimestamps >= 0 && int(r.noTimestamps) < len(row) {
		row[r.noTimestamps] = negInf
	}
	// Timestamps come in pairs, except directly before end of text.
	n := len(sampled)
	lastTS := n >= 1 && sampled[n-1] >= r.timestampBegin
	penultimateTS := n < 2 || sampled[n-2] >= r.timestampBegin
	if lastTS {
		if penultimateTS {
			fill(row[tb:]) // a pair just closed (or the first token was one): text next
		} else {
			fill(row[:min(int(r.eot), len(row))]) // close the pair or end
		}
	}
	// Timestamps never decrease, and a segment has a non-zero length.
	for i := n - 1; i >= 0; i-- {
		if sampled[i] < r.timestampBegin {
			continue
		}
		last := int(sampled[i])
		if !lastTS || penultimateTS {
			last++
		}
		fill(row[tb:min(last, len(row))])
		break
	}
	if n == 0 {
		fill(row[:tb]) // the first token is a timestamp
		if r.maxInitialTimestamp >= 0 {
			fill(row[min(tb+r.maxInitialTimestamp+1, len(row)):])
		}
	}
	// Text is forbidden when all timestamps together are likelier than
	// the likeliest text token.
	if logSumExp(row[tb:]) > float64(slices.Max(row[:tb])) {
		fill(row[:tb])
	}
}

// forbid sets the tokens' logits to −∞ (ids outside the row are ignored).
func forbid(row []float32, tokens []int64) {
	for _, t := range tokens {
		if t >= 0 && int(t) < len(row) {
			row[t] = negInf
		}
	}
}

func fill(s []float32) {
	for i := range s {
		s[i] = negInf
	}
}

// logSumExp is log Σ exp(v) in float64; −∞ for an empty or all −∞ slice.
func logSumExp(v []float32) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, float64(x))
	}
	if math.IsInf(m, -1) {
		return m
	}
	var sum float64
	for _, x := range v {
		sum += math.Exp(float64(x) - m)
	}
	return m + math.Log(sum)
}

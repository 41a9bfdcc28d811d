package seq2seq

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// RowSummary is what a search reads from a row of logits besides single
// values: log Σ exp(row), so a token's log-probability is row[token] minus
// it, and the best tokens, best first.
type RowSummary struct {
	Norm float64
	Top  []int
}

// summarize scans one row: its k best tokens and its log-normalizer. The
// sum runs in float64 over the row alone, so a row's values do not depend
// on its neighbours in a batch.
func Summarize(row []float32, k int) RowSummary {
	top := TopTokens(row, k)
	if len(top) == 0 || math.IsInf(float64(row[top[0]]), -1) {
		return RowSummary{Norm: math.Inf(-1), Top: top}
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
	return RowSummary{Norm: m + math.Log(sum), Top: top}
}

// SummarizeRows summarizes rows in parallel: at a 128k vocabulary a row is
// a few milliseconds of exponentials, and a step of 8 requests × 5 beams
// has 40 of them while the cores are otherwise idle between ORT runs.
func SummarizeRows(rows [][]float32, k int) []RowSummary {
	sums := make([]RowSummary, len(rows))
	workers := min(len(rows), runtime.GOMAXPROCS(0))
	if workers <= 1 || len(rows)*len(rows[0]) < 1<<16 {
		for i, row := range rows {
			sums[i] = Summarize(row, k)
		}
		return sums
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(rows); i = int(next.Add(1) - 1) {
				sums[i] = Summarize(rows[i], k)
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

// TopTokens returns the indices of the k largest values of row, largest
// first, the lower index first among equals.
func TopTokens(row []float32, k int) []int {
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

package bench

import "fmt"

// Interleave measures phases in turn, each once per round, for rounds
// rounds, and returns each phase's rates by round: rates[phase][round].
//
// A ratio of two phases measured minutes apart mixes the host's drift into
// the comparison: on a 2-vCPU cloud machine the same raw measurement moved
// by ±15 % within five minutes (benchmarks/results/2026-12-07-cpu.md).
// Alternating short rounds keeps both sides of a ratio in one stretch of
// time, and the spread of the per-round ratios shows how far to trust it.
func Interleave(rounds int, phases ...func() float64) [][]float64 {
	rates := make([][]float64, len(phases))
	for range max(rounds, 1) {
		for i, phase := range phases {
			rates[i] = append(rates[i], phase())
		}
	}
	return rates
}

// Ratio compares two phases measured in the same rounds.
type Ratio struct {
	// Pooled is the mean of the numerator's rates over the mean of the
	// denominator's (the rounds are equally long).
	Pooled float64
	// Min and Max are the lowest and highest ratio within one round.
	Min, Max float64
}

// RatioOf is num / den, pooled over rounds and round by round.
func RatioOf(num, den []float64) Ratio {
	if len(num) == 0 || len(num) != len(den) {
		return Ratio{}
	}
	r := Ratio{Min: num[0] / den[0], Max: num[0] / den[0]}
	var sn, sd float64
	for i := range num {
		sn, sd = sn+num[i], sd+den[i]
		r.Min, r.Max = min(r.Min, num[i]/den[i]), max(r.Max, num[i]/den[i])
	}
	r.Pooled = sn / sd
	return r
}

// String is the pooled ratio and, over several rounds, their range.
func (r Ratio) String() string {
	if r.Min == r.Max {
		return fmt.Sprintf("%.2f", r.Pooled)
	}
	return fmt.Sprintf("%.2f (rounds %.2f–%.2f)", r.Pooled, r.Min, r.Max)
}

// Mean is the mean of rates.
func Mean(rates []float64) float64 {
	var s float64
	for _, r := range rates {
		s += r
	}
	return s / float64(max(len(rates), 1))
}

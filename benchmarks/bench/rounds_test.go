package bench

import (
	"math"
	"testing"
)

func TestInterleaveAlternatesPhases(t *testing.T) {
	var order []string
	rates := Interleave(2,
		func() float64 { order = append(order, "a"); return 1 },
		func() float64 { order = append(order, "b"); return 2 })
	if got := len(order); got != 4 || order[0] != "a" || order[1] != "b" || order[2] != "a" || order[3] != "b" {
		t.Fatalf("phases ran in order %v, want a b a b", order)
	}
	if len(rates) != 2 || len(rates[0]) != 2 || rates[1][1] != 2 {
		t.Fatalf("rates %v", rates)
	}
}

func TestRatioOfPoolsAndSpreads(t *testing.T) {
	// A host that slows down by half between rounds: each round's ratio is
	// 0.9, though the numerator's first round beats the denominator's last.
	r := RatioOf([]float64{90, 45}, []float64{100, 50})
	if math.Abs(r.Pooled-0.9) > 1e-9 || math.Abs(r.Min-0.9) > 1e-9 || math.Abs(r.Max-0.9) > 1e-9 {
		t.Fatalf("RatioOf = %+v, want 0.9 pooled and in every round", r)
	}
	r = RatioOf([]float64{80, 100}, []float64{100, 100})
	if math.Abs(r.Pooled-0.9) > 1e-9 || r.Min != 0.8 || r.Max != 1 {
		t.Fatalf("RatioOf = %+v, want 0.9 pooled, 0.8–1", r)
	}
	if s := r.String(); s != "0.90 (rounds 0.80–1.00)" {
		t.Fatalf("String = %q", s)
	}
	if (Ratio{}) != RatioOf(nil, nil) || (Ratio{}) != RatioOf([]float64{1}, []float64{1, 2}) {
		t.Fatal("mismatched or empty rounds must give the zero Ratio")
	}
}

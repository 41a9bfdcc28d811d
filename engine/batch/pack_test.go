package batch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPack(t *testing.T) {
	tests := []struct {
		name    string
		lengths []int
		lim     Limits
		want    []int
	}{
		{"empty queue", nil, Limits{MaxBatchTokens: 100}, nil},
		{"single item", []int{7}, Limits{MaxBatchTokens: 100}, []int{0}},
		{"all fit", []int{10, 10, 10}, Limits{MaxBatchTokens: 100}, []int{0, 1, 2}},
		{"token budget cuts", []int{10, 10, 10, 10}, Limits{MaxBatchTokens: 30}, []int{0, 1, 2}},
		{"size cap cuts", []int{5, 5, 5, 5}, Limits{MaxBatchTokens: 1000, MaxBatchSize: 2}, []int{0, 1}},
		{"groups similar lengths around the oldest", []int{20, 100, 21, 19, 98}, Limits{MaxBatchTokens: 80}, []int{0, 2, 3}},
		{"long oldest takes long neighbours", []int{100, 5, 99, 6, 98}, Limits{MaxBatchTokens: 300}, []int{0, 2, 4}},
		{"oldest over budget still runs alone", []int{600, 5, 5}, Limits{MaxBatchTokens: 512}, []int{0}},
		{"longer item raises cost for all", []int{10, 10, 40}, Limits{MaxBatchTokens: 100}, []int{0, 1}},
		{"no limits takes everything", []int{3, 50, 7}, Limits{}, []int{0, 1, 2}},
		{"ties keep queue order", []int{8, 8, 8, 8}, Limits{MaxBatchTokens: 16}, []int{0, 1}},
		{"padding cap keeps ragged items out", []int{20, 10, 21, 40, 19}, Limits{MaxPaddingRatio: 0.15}, []int{0, 2, 4}},
		{"padding cap never refuses a batch of one", []int{40, 10}, Limits{MaxPaddingRatio: 0.1}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Pack(tt.lengths, tt.lim)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Pack(%v, %+v) = %v, want %v", tt.lengths, tt.lim, got, tt.want)
			}
		})
	}
}

func TestPackInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		n := 1 + r.IntN(80)
		lengths := make([]int, n)
		for i := range lengths {
			lengths[i] = 3 + r.IntN(60)
		}
		lim := Limits{MaxBatchTokens: 64 + r.IntN(2000), MaxBatchSize: 1 + r.IntN(64), MaxPaddingRatio: float64(r.IntN(3)) * 0.1}
		got := Pack(lengths, lim)
		if len(got) == 0 || got[0] != 0 {
			t.Fatalf("trial %d: batch %v does not start with the oldest item", trial, got)
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("trial %d: indices not sorted/unique: %v", trial, got)
		}
		tokens, padding := Cost(lengths, got)
		if len(got) > 1 && lim.MaxPaddingRatio > 0 && padding > lim.MaxPaddingRatio+1e-9 {
			t.Fatalf("trial %d: batch %v pads %.3f over %v", trial, got, padding, lim.MaxPaddingRatio)
		}
		if len(got) > 1 && (tokens > lim.MaxBatchTokens || len(got) > lim.MaxBatchSize) {
			t.Fatalf("trial %d: batch %v breaks limits %+v (cost %d)", trial, got, lim, tokens)
		}
	}
}

// On a mixed-length queue deeper than a batch, grouping by length keeps
// padding low; the brief's target is at most 15 %.
func TestPackPaddingOnMixedQueue(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	lengths := make([]int, 256)
	for i := range lengths {
		lengths[i] = 10 + r.IntN(33) // 8–40 word texts plus [CLS]/[SEP]
	}
	var padded, real int
	queue := slices.Clone(lengths)
	for len(queue) > 0 {
		picked := Pack(queue, Limits{MaxBatchTokens: 1024, MaxBatchSize: 64})
		tokens, _ := Cost(queue, picked)
		padded += tokens
		for _, i := range picked {
			real += queue[i]
		}
		for k := len(picked) - 1; k >= 0; k-- {
			queue = slices.Delete(queue, picked[k], picked[k]+1)
		}
	}
	if ratio := float64(padded-real) / float64(padded); ratio > 0.15 {
		t.Fatalf("padding ratio %.3f over 0.15", ratio)
	}
}

func TestCost(t *testing.T) {
	tokens, ratio := Cost([]int{4, 8, 2}, []int{0, 1})
	if tokens != 16 || ratio != 0.25 {
		t.Fatalf("Cost = %d, %v", tokens, ratio)
	}
}

// BenchmarkPack packs from a 256-item mixed-length queue, the scheduler's
// per-batch decision.
func BenchmarkPack(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	lengths := make([]int, 256)
	for i := range lengths {
		lengths[i] = 10 + r.IntN(33)
	}
	lim := Limits{MaxBatchTokens: 8192, MaxBatchSize: 64}
	b.ReportAllocs()
	for b.Loop() {
		Pack(lengths, lim)
	}
}

package batch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPackPriority(t *testing.T) {
	tests := []struct {
		name    string
		lengths []int
		low     []bool
		lim     Limits
		want    []int
	}{
		{"empty queue", nil, nil, Limits{MaxBatchTokens: 100}, nil},
		{"all interactive is plain Pack", []int{10, 100, 11}, []bool{false, false, false}, Limits{MaxBatchTokens: 40}, []int{0, 2}},
		{"all low is plain Pack", []int{10, 100, 11}, []bool{true, true, true}, Limits{MaxBatchTokens: 40}, []int{0, 2}},
		{"interactive behind older low items goes first", []int{10, 10, 10, 12}, []bool{true, true, true, false}, Limits{MaxBatchTokens: 1000}, []int{3}},
		{"low items never join an interactive batch, even with room", []int{5, 5, 5, 5}, []bool{true, false, true, false}, Limits{MaxBatchTokens: 1000}, []int{1, 3}},
		{"oldest interactive anchors the batch", []int{8, 50, 9, 49}, []bool{true, false, true, false}, Limits{MaxBatchTokens: 100}, []int{1, 3}},
		{"interactive batch respects limits", []int{5, 5, 5, 5}, []bool{false, false, false, true}, Limits{MaxBatchTokens: 1000, MaxBatchSize: 2}, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PackPriority(tt.lengths, tt.low, tt.lim)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("PackPriority(%v, %v, %+v) = %v, want %v", tt.lengths, tt.low, tt.lim, got, tt.want)
			}
		})
	}
}

func TestPackPriorityInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 2000 {
		n := 1 + r.IntN(60)
		lengths, low := make([]int, n), make([]bool, n)
		firstInteractive := -1
		for i := range lengths {
			lengths[i] = 3 + r.IntN(60)
			low[i] = r.IntN(3) == 0
			if !low[i] && firstInteractive < 0 {
				firstInteractive = i
			}
		}
		lim := Limits{MaxBatchTokens: 64 + r.IntN(2000), MaxBatchSize: 1 + r.IntN(64)}
		got := PackPriority(lengths, low, lim)
		if len(got) == 0 || !slices.IsSorted(got) {
			t.Fatalf("trial %d: batch %v empty or unsorted", trial, got)
		}
		anchor := 0
		if firstInteractive >= 0 {
			anchor = firstInteractive
		}
		if got[0] != anchor {
			t.Fatalf("trial %d: batch %v does not start with the oldest item of the class served (%d)", trial, got, anchor)
		}
		for _, i := range got {
			if firstInteractive >= 0 && low[i] {
				t.Fatalf("trial %d: low-priority item %d packed while interactive work waits", trial, i)
			}
		}
		if tokens, _ := Cost(lengths, got); len(got) > 1 && (tokens > lim.MaxBatchTokens || len(got) > lim.MaxBatchSize) {
			t.Fatalf("trial %d: batch %v breaks limits %+v", trial, got, lim)
		}
	}
}

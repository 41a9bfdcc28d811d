package seq2seq

import (
	"runtime"
	"testing"
)

// flatState gives every row the same logits over a 4-token vocabulary.
type flatState struct{}

func (flatState) Next(seqs [][]int64) ([][]float32, error) {
	out := make([][]float32, len(seqs))
	for i := range out {
		out[i] = []float32{0, 1, 2, 3}
	}
	return out, nil
}
func (flatState) Keep([]int, bool)               {}
func (flatState) Capture([]Head)                 {}
func (flatState) CrossAttention(int) [][]float32 { return nil }
func (flatState) Logits(row, pos int) []float32  { return nil }

// greedyOnce picks the best token and finishes; with panics set, its
// Advance panics.
type greedyOnce struct {
	panics bool
	got    int
}

func (g *greedyOnce) Sequences() [][]int64 { return [][]int64{{0}} }
func (g *greedyOnce) Candidates() int      { return 1 }
func (g *greedyOnce) Advance(_ [][]float32, sums []RowSummary) ([]int, bool) {
	if g.panics {
		panic("boom")
	}
	g.got = sums[0].Top[0]
	return nil, true
}
func (g *greedyOnce) Result() int { return g.got }

// Members advance on several goroutines; every result reaches its item,
// and a member's panic is raised on the stepping goroutine (where the
// Stepper's guard recovers it), not in a worker, which would end the
// process.
func TestCohortMembersAdvanceInParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	members := []Member[int]{&greedyOnce{}, &greedyOnce{}, &greedyOnce{}}
	outs, err := NewCohort(flatState{}, members, nil).Step()
	if err != nil || len(outs) != 3 || outs[0] != 3 || outs[1] != 3 || outs[2] != 3 {
		t.Fatalf("outputs %v, %v; want token 3 for each of three items", outs, err)
	}
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the member's panic", r)
		}
	}()
	NewCohort(flatState{}, []Member[int]{&greedyOnce{}, &greedyOnce{panics: true}, &greedyOnce{}}, nil).Step()
	t.Error("Step returned after a member panicked")
}

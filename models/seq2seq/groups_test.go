package seq2seq

import (
	"maps"
	"slices"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine/batch"
)

// countdown finishes item i after steps[i] steps, with output i*10+steps.
type countdown struct {
	left    []int
	dropped []int
	closed  bool
}

func (c *countdown) Step() (map[int]int, error) {
	out := map[int]int{}
	for i, n := range c.left {
		if n <= 0 {
			continue
		}
		if c.left[i]--; c.left[i] == 0 {
			out[i] = i * 10
		}
	}
	return out, nil
}

func (c *countdown) Drop(indices []int) {
	for _, i := range indices {
		c.left[i] = 0
	}
	c.dropped = append(c.dropped, indices...)
}

func (c *countdown) Close() { c.closed = true }

func TestGroupsMapItemsToTheBatch(t *testing.T) {
	a, b := &countdown{left: []int{1, 3}}, &countdown{left: []int{2}}
	g := NewGroups[int]([]batch.Cohort[int]{a, b}, [][]int{{2, 0}, {1}})
	got := map[int]int{}
	for step := 1; step <= 3; step++ {
		outs, err := g.Step()
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(got, outs)
		if step == 1 {
			g.Drop([]int{1}) // b's only item: b must not step again
		}
	}
	if want := map[int]int{2: 0, 0: 10}; !maps.Equal(got, want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
	if !slices.Equal(b.dropped, []int{0}) || b.left[0] != 0 {
		t.Errorf("b dropped %v, left %v", b.dropped, b.left)
	}
	g.Close()
	if !a.closed || !b.closed {
		t.Error("Close must close every part")
	}
}

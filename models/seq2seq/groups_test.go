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

// joinable is a countdown whose Len is its steps taken; parts of equal
// Len join (the joined one's items after its own).
type joinable struct {
	countdown
	steps  int
	joined int
}

func (j *joinable) Step() (map[int]int, error) {
	j.steps++
	return j.countdown.Step()
}

func (j *joinable) Len() int { return j.steps }

func (j *joinable) Join(other batch.Cohort[int]) bool {
	o := other.(*joinable)
	if o.steps != j.steps {
		return false
	}
	j.left = append(j.left, o.left...)
	j.joined++
	return true
}

// A newer Groups merged into a running one: its part steps alone until it
// has taken as many steps as the running part, which waits; then the two
// join and step as one, and every output reaches its renumbered item.
func TestGroupsCatchUpAndJoin(t *testing.T) {
	a := &joinable{countdown: countdown{left: []int{6}}}
	g := NewGroups[int]([]batch.Cohort[int]{a}, [][]int{{0}})
	for range 3 {
		if _, err := g.Step(); err != nil {
			t.Fatal(err)
		}
	}
	b := &joinable{countdown: countdown{left: []int{5, 1}}}
	if !g.Merge(NewGroups[int]([]batch.Cohort[int]{b}, [][]int{{1, 0}}), 1) {
		t.Fatal("Merge refused a Groups")
	}
	got := map[int]int{}
	for range 3 {
		outs, err := g.Step()
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(got, outs)
	}
	if a.steps != 3 || b.steps != 3 || a.joined != 1 || len(g.parts) != 1 {
		t.Fatalf("steps %d and %d, joins %d, %d parts: the new part should catch up while the old one waits, then join", a.steps, b.steps, a.joined, len(g.parts))
	}
	for len(g.parts) > 0 {
		outs, err := g.Step()
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(got, outs)
	}
	// b's second item (batch index 0+1) finished on b's first step; after
	// the join b's first item (batch index 1+1) finishes at its fifth step
	// and a's (batch index 0) at its sixth. Outputs are 10 × local index.
	if want := map[int]int{1: 10, 0: 0, 2: 10}; !maps.Equal(got, want) || a.steps != 6 {
		t.Errorf("outputs %v, want %v; a stepped %d times", got, want, a.steps)
	}
}

// A part waits for shorter ones at most maxWait steps in a row: newer
// parts that keep finishing before they catch up (short clips behind a
// long file) do not starve it.
func TestGroupsDoNotStarveALongPart(t *testing.T) {
	long := &joinable{countdown: countdown{left: []int{1000}}}
	g := NewGroups[int]([]batch.Cohort[int]{long}, [][]int{{0}})
	for range 10 {
		if _, err := g.Step(); err != nil {
			t.Fatal(err)
		}
	}
	items := 1
	for range 20 {
		// A short part that finishes in two steps, far behind the long one.
		if !g.Merge(NewGroups[int]([]batch.Cohort[int]{&joinable{countdown: countdown{left: []int{2}}}}, [][]int{{0}}), items) {
			t.Fatal("Merge refused a Groups")
		}
		items++
		for range 2 {
			if _, err := g.Step(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 40 steps of the Groups: at least one in every maxWait+1 (5) is the
	// long part's.
	if long.steps < 10+40/5 {
		t.Errorf("the long part took %d steps, want at least %d (maxWait %d)", long.steps, 10+40/5, maxWait)
	}
}

package seq2seq

import "github.com/edgeinfer/edgeinfer/engine/batch"

// Groups steps several cohorts as one: the requests of one encoder batch
// whose decoder prefixes differ in length (or that need different decoder
// settings) decode in separate cohorts, one decoder call each per step.
// Group g's item i is item indices[g][i] of the batch.
//
// Groups is also a batch.Merger: a newer Groups of the same model hands
// its parts over, so every cohort of a model lives in one Groups. There
// the parts that can join (joiner) step shortest first — a part that has
// decoded fewer positions steps while longer ones wait — and two parts
// that have decoded equally many positions join, so that their rows step
// in one decoder call from then on. Without a decoder attention mask that
// is the only way a window that starts while others decode can share
// their calls; the longer parts' wait costs fewer calls than stepping
// both all along (the same catch-up steps, then one call where there
// were two). A part that has waited maxWait steps in a row takes the next
// one anyway: newer parts that keep finishing before they catch up (short
// clips arriving behind a long file) must not starve it, and the gap still
// closes, at maxWait of every maxWait+1 steps.
type Groups[Out any] struct {
	parts   []batch.Cohort[Out]
	indices [][]int
	live    []bool // per part: some item still decoding
	waited  []int  // per part: steps in a row it waited for a shorter one
}

// maxWait bounds how many steps in a row a part waits for shorter ones.
const maxWait = 4

// joiner is a part that can take over another part's items: a *Cohort
// whose state is a Joiner (Len -1 otherwise).
type joiner[Out any] interface {
	batch.Cohort[Out]
	Len() int
	Join(other batch.Cohort[Out]) bool
}

// Groups merges newer Groups; the build fails if a method goes missing.
var _ batch.Merger[int] = (*Groups[int])(nil)

// NewGroups joins cohorts; indices[g] maps part g's items to batch indices.
func NewGroups[Out any](parts []batch.Cohort[Out], indices [][]int) *Groups[Out] {
	live := make([]bool, len(parts))
	for g := range live {
		live[g] = len(indices[g]) > 0
	}
	return &Groups[Out]{parts: parts, indices: indices, live: live, waited: make([]int, len(parts))}
}

// Step implements batch.Cohort: every live part takes a step, except
// joiners that have decoded more positions than the shortest live joiner
// and have waited fewer than maxWait steps; then parts of equal length
// join.
func (g *Groups[Out]) Step() (map[int]Out, error) {
	shortest := -1
	for p, part := range g.parts {
		if j, ok := part.(joiner[Out]); ok && g.live[p] && j.Len() >= 0 && (shortest < 0 || j.Len() < shortest) {
			shortest = j.Len()
		}
	}
	done := map[int]Out{}
	for p, part := range g.parts {
		if !g.live[p] {
			continue
		}
		if j, ok := part.(joiner[Out]); ok && j.Len() > shortest && shortest >= 0 && g.waited[p] < maxWait {
			g.waited[p]++
			continue
		}
		g.waited[p] = 0
		outs, err := part.Step()
		if err != nil {
			return nil, err
		}
		for i, out := range outs {
			done[g.indices[p][i]] = out
			g.indices[p][i] = -1
		}
		g.updateLive(p)
	}
	g.prune()
	g.joinEqual()
	return done, nil
}

// prune closes and forgets the parts with no item left, so a Groups that
// keeps taking newer ones over stays as long as its live parts.
func (g *Groups[Out]) prune() {
	k := 0
	for p, part := range g.parts {
		if !g.live[p] {
			part.Close()
			continue
		}
		g.parts[k], g.indices[k], g.live[k], g.waited[k] = part, g.indices[p], true, g.waited[p]
		k++
	}
	clear(g.parts[k:])
	g.parts, g.indices, g.live, g.waited = g.parts[:k], g.indices[:k], g.live[:k], g.waited[:k]
}

// joinEqual joins each live joiner into the first earlier live one of the
// same length that takes it, and forgets the parts joined.
func (g *Groups[Out]) joinEqual() {
	for q := 1; q < len(g.parts); q++ {
		jq, ok := g.parts[q].(joiner[Out])
		if !ok || !g.live[q] || jq.Len() <= 0 {
			continue
		}
		for p := range q {
			jp, ok := g.parts[p].(joiner[Out])
			if !ok || !g.live[p] || jp.Len() != jq.Len() || !jp.Join(jq) {
				continue
			}
			g.indices[p] = append(g.indices[p], g.indices[q]...)
			g.parts = append(g.parts[:q], g.parts[q+1:]...)
			g.indices = append(g.indices[:q], g.indices[q+1:]...)
			g.live = append(g.live[:q], g.live[q+1:]...)
			g.waited = append(g.waited[:q], g.waited[q+1:]...)
			q--
			break
		}
	}
}

// Merge implements batch.Merger: another Groups's parts become parts of
// g, their items renumbered from offset.
func (g *Groups[Out]) Merge(other batch.Cohort[Out], offset int) bool {
	o, ok := other.(*Groups[Out])
	if !ok || o == g {
		return false
	}
	for p, part := range o.parts {
		idx := make([]int, len(o.indices[p]))
		for i, v := range o.indices[p] {
			idx[i] = -1
			if v >= 0 {
				idx[i] = v + offset
			}
		}
		g.parts = append(g.parts, part)
		g.indices = append(g.indices, idx)
		g.live = append(g.live, o.live[p])
		g.waited = append(g.waited, 0)
	}
	o.parts, o.indices, o.live, o.waited = nil, nil, nil, nil
	return true
}

// updateLive sets whether part p has an item still decoding.
func (g *Groups[Out]) updateLive(p int) {
	g.live[p] = false
	for _, idx := range g.indices[p] {
		if idx >= 0 {
			g.live[p] = true
		}
	}
}

// Drop implements batch.Cohort.
func (g *Groups[Out]) Drop(indices []int) {
	gone := map[int]bool{}
	for _, i := range indices {
		gone[i] = true
	}
	for p, part := range g.parts {
		var local []int
		for i, idx := range g.indices[p] {
			if idx >= 0 && gone[idx] {
				local = append(local, i)
				g.indices[p][i] = -1
			}
		}
		if len(local) == 0 {
			continue
		}
		part.Drop(local)
		g.updateLive(p)
	}
	g.prune()
}

// Close implements batch.Cohort.
func (g *Groups[Out]) Close() {
	for _, part := range g.parts {
		part.Close()
	}
}

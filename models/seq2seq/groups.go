package seq2seq

import "github.com/edgeinfer/edgeinfer/engine/batch"

// Groups steps several cohorts as one: the requests of one encoder batch
// whose decoder prefixes differ in length (or that need different decoder
// settings) decode in separate cohorts, one decoder call each per step.
// Group g's item i is item indices[g][i] of the batch.
type Groups[Out any] struct {
	parts   []batch.Cohort[Out]
	indices [][]int
	live    []bool // per part: some item still decoding
}

// NewGroups joins cohorts; indices[g] maps part g's items to batch indices.
func NewGroups[Out any](parts []batch.Cohort[Out], indices [][]int) *Groups[Out] {
	live := make([]bool, len(parts))
	for g := range live {
		live[g] = len(indices[g]) > 0
	}
	return &Groups[Out]{parts: parts, indices: indices, live: live}
}

// Step implements batch.Cohort: every part with live items takes a step.
func (g *Groups[Out]) Step() (map[int]Out, error) {
	done := map[int]Out{}
	for p, part := range g.parts {
		if !g.live[p] {
			continue
		}
		outs, err := part.Step()
		if err != nil {
			return nil, err
		}
		for i, out := range outs {
			done[g.indices[p][i]] = out
			g.indices[p][i] = -1
		}
		g.live[p] = false
		for _, idx := range g.indices[p] {
			if idx >= 0 {
				g.live[p] = true
			}
		}
	}
	return done, nil
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
		g.live[p] = false
		for _, idx := range g.indices[p] {
			if idx >= 0 {
				g.live[p] = true
			}
		}
	}
}

// Close implements batch.Cohort.
func (g *Groups[Out]) Close() {
	for _, part := range g.parts {
		part.Close()
	}
}

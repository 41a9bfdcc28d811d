package calibrate

import (
	"fmt"
	"sync"
	"time"
)

// Shape is one configuration a probe measures: Rows items per batch (Cols
// tokens each, for text) run by Instances concurrent batches on sessions of
// Threads intra-op threads. Stage names the sweep it belongs to.
type Shape struct {
	Stage     string `json:"stage"`
	Rows      int    `json:"rows"`
	Cols      int    `json:"cols,omitempty"`
	Instances int    `json:"instances,omitempty"`
	Threads   int    `json:"threads,omitempty"`
}

func (s Shape) String() string {
	out := fmt.Sprintf("%s rows=%d", s.Stage, s.Rows)
	if s.Cols > 0 {
		out += fmt.Sprintf(" tokens=%d", s.Cols)
	}
	if s.Instances > 0 {
		out += fmt.Sprintf(" sessions×threads=%d×%d", s.Instances, s.Threads)
	}
	return out
}

// Row is one measured shape: its throughput in items per second, and
// whether the pick chose it.
type Row struct {
	Shape
	ItemsPerSec float64 `json:"items_per_sec"`
	Chosen      bool    `json:"chosen"`
}

// tolerance is how far below the best a smaller shape may measure and still
// be picked: the smaller batch has lower latency, and differences this
// small are noise on a shared machine.
const tolerance = 0.03

// Pick returns the index of the row to use: the first (smallest) within
// tolerance of the fastest; -1 for no rows.
func Pick(rows []Row) int {
	best := 0.0
	for _, r := range rows {
		best = max(best, r.ItemsPerSec)
	}
	for i, r := range rows {
		if r.ItemsPerSec > 0 && r.ItemsPerSec >= best*(1-tolerance) {
			return i
		}
	}
	return -1
}

// Measure measures one shape: parallel concurrent calls of run per round,
// each returning the items it processed; the result is items per second.
type Measure func(s Shape) (float64, error)

// Sweeper runs a model's sweeps within one deadline and keeps the table.
type Sweeper struct {
	deadline time.Time
	table    []Row
	log      func(msg string, args ...any)
}

// Sweep measures shapes in order (growing batches) and returns the rows it
// measured, the picked one marked; they are also added to the table. It
// stops when two shapes in a row measure slower than the best before them
// (bigger is no longer better; one dip, such as batch 2 measuring below
// batch 1 on a quantized BERT, must not end the sweep before the batch
// sizes that pay), or before a shape predicted to end after share of the
// remaining time; the first shape is always measured. An error of measure
// ends the sweep with it.
func (s *Sweeper) Sweep(shapes []Shape, share float64, measure Measure) ([]Row, error) {
	start := time.Now()
	until := start.Add(time.Duration(share * float64(s.deadline.Sub(start))))
	var rows []Row
	best := 0.0
	drops := 0             // shapes in a row slower than best
	var took time.Duration // the last shape's measurement
	for i, sh := range shapes {
		// A measurement's cost grows with the batch: one predicted to end
		// past the deadline is not started.
		if i > 0 && time.Now().Add(predict(took, shapes[i-1], sh)).After(until) {
			s.log("calibration time is up", "before", sh.String())
			break
		}
		began := time.Now()
		rate, err := measure(sh)
		if err == nil && rate < best {
			// A drop ends the sweep, so it is measured twice: one
			// round slowed by other work must not stop it.
			var again float64
			again, err = measure(sh)
			rate = max(rate, again)
		}
		if err != nil {
			return nil, fmt.Errorf("calibrating %s: %w", sh, err)
		}
		took = time.Since(began)
		rows = append(rows, Row{Shape: sh, ItemsPerSec: rate})
		s.log("calibrating", "shape", sh.String(), "items_per_sec", fmt.Sprintf("%.1f", rate))
		if rate < best {
			if drops++; drops == 2 {
				break
			}
			continue
		}
		best, drops = rate, 0
	}
	if i := Pick(rows); i >= 0 {
		rows[i].Chosen = true
	}
	s.table = append(s.table, rows...)
	return rows, nil
}

// predict is how long measuring next may take, from how long prev took:
// in proportion to the items per batch.
func predict(took time.Duration, prev, next Shape) time.Duration {
	if prev.Rows <= 0 {
		return took
	}
	return time.Duration(float64(took) * float64(next.Rows) / float64(prev.Rows))
}

// Chosen is the picked shape among rows (the zero Shape if none).
func Chosen(rows []Row) Shape {
	for _, r := range rows {
		if r.Chosen {
			return r.Shape
		}
	}
	return Shape{}
}

// Rounds of a measurement: at least minRounds, at most maxRounds, and no
// more once enough time was measured. The fastest round counts, since on a
// shared machine other work only ever slows a round down.
const (
	minRounds = 2
	maxRounds = 5
	enough    = 40 * time.Millisecond
)

// Rate runs one warm-up round and then timed rounds of parallel concurrent
// calls of run, and returns the items per second of the fastest round.
func Rate(parallel int, run func() (items int, err error)) (float64, error) {
	parallel = max(parallel, 1)
	round := func() (int, time.Duration, error) {
		items := make([]int, parallel)
		errs := make([]error, parallel)
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := range parallel {
			wg.Go(func() { items[i], errs[i] = run() })
		}
		wg.Wait()
		d := time.Since(t0)
		total := 0
		for i := range parallel {
			if errs[i] != nil {
				return 0, 0, errs[i]
			}
			total += items[i]
		}
		return total, d, nil
	}
	if _, _, err := round(); err != nil {
		return 0, err
	}
	best := 0.0
	var spent time.Duration
	for r := 0; r < maxRounds && (r < minRounds || spent < enough); r++ {
		n, d, err := round()
		if err != nil {
			return 0, err
		}
		spent += d
		best = max(best, float64(n)/max(d.Seconds(), 1e-9))
	}
	return best, nil
}

// Doubling returns lo, 2·lo, 4·lo … up to hi (hi included if it is not a
// power-of-two multiple of lo).
func Doubling(lo, hi int) []int {
	var out []int
	for n := max(lo, 1); n < hi; n *= 2 {
		out = append(out, n)
	}
	return append(out, hi)
}

package batch

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// StepperConfig configures a Stepper. Limits bound the batch a new cohort
// starts with; MaxQueueDelay, MaxConcurrentRequests and the metrics work as
// for Scheduler; Instances is ignored.
type StepperConfig struct {
	Config
	// MaxLiveItems bounds the items of all running cohorts together; a new
	// cohort starts only below it, with at most the difference. 0 means no
	// bound.
	MaxLiveItems int
}

// Stepper runs multi-step work (generation) in cohorts on one goroutine.
// Between any two steps it may start a new cohort from the queue, so new
// work does not wait for running work to finish; cohorts then take steps
// in turn. A new cohort holds interactive items only while any wait, and
// low-priority items leave a quarter of MaxLiveItems (at least one place,
// never the last) free: an interactive item that arrives while an async
// batch job holds every other place starts after the step in flight, not
// once a batch-job item finishes (interactive items beyond the reserve
// wait for a place like any other). Items leave as soon as they finish,
// and items whose callers went away are dropped before the next step. For
// rejectIfBusy the Stepper is busy while any cohort runs or an interactive
// item is queued.
type Stepper[In, Out any] struct {
	cfg    StepperConfig
	q      *queue[*stepItem[In, Out]]
	length func(In) int
	start  Starter[In, Out]

	// Owned by the loop goroutine.
	cohorts []*running[In, Out]
	live    int // items in cohorts
	turn    int
	done    chan struct{}
}

type stepItem[In, Out any] struct {
	in     In
	ctx    context.Context
	result chan stepResult[Out] // buffered: delivery never blocks the loop
}

type stepResult[Out any] struct {
	out Out
	err error
}

func (it *stepItem[In, Out]) finish(out Out, err error) {
	it.result <- stepResult[Out]{out, err}
}

func (it *stepItem[In, Out]) fail(err error) {
	var zero Out
	it.finish(zero, err)
}

// interactiveReserve is how many of maxLive places low-priority cohorts
// leave free for interactive items: a quarter, at least one, but never the
// last place, or low-priority items could never start. With maxLive 1
// there is no reserve, and an interactive item arriving while a batch-job
// item decodes waits for it to finish.
func interactiveReserve(maxLive int) int { return min(max(1, maxLive/4), maxLive-1) }

// NewStepper starts a stepper; length reports an item's cost in tokens for
// packing the batch a cohort starts with.
func NewStepper[In, Out any](cfg StepperConfig, length func(In) int, start Starter[In, Out]) *Stepper[In, Out] {
	// One batch place: the loop counts as busy while any cohort runs.
	s := &Stepper[In, Out]{cfg: cfg, q: newQueue[*stepItem[In, Out]](cfg.Config, 1, true),
		length: length, start: start, done: make(chan struct{})}
	go s.loop()
	return s
}

// Config is the configuration the stepper runs with.
func (s *Stepper[In, Out]) Config() StepperConfig { return s.cfg }

// Submit queues one item and waits for its output. It returns early with
// the context's error if ctx ends; the item is then dropped, queued or
// running.
func (s *Stepper[In, Out]) Submit(ctx context.Context, in In) (Out, error) {
	var zero Out
	opts := engine.OptionsFrom(ctx)
	release, err := s.q.admit(opts)
	if err != nil {
		return zero, err
	}
	defer release()
	it := &stepItem[In, Out]{in: in, ctx: ctx, result: make(chan stepResult[Out], 1)}
	if err := s.q.push(entry[*stepItem[In, Out]]{val: it, ctx: ctx, length: s.length(in), low: opts.LowPriority}); err != nil {
		return zero, err
	}
	select {
	case r := <-it.result:
		return r.out, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Close stops the stepper after the running step; queued and unfinished
// items fail with ErrClosed.
func (s *Stepper[In, Out]) Close() {
	s.q.close()
	<-s.done
}

// loop starts a cohort when Decide says so, steps a cohort whenever one
// runs, and sleeps only when none does.
func (s *Stepper[In, Out]) loop() {
	defer close(s.done)
	for {
		room, reserve := math.MaxInt, 0
		if s.cfg.MaxLiveItems > 0 {
			room, reserve = s.cfg.MaxLiveItems-s.live, interactiveReserve(s.cfg.MaxLiveItems)
		}
		batch, wait, open := s.q.take(room, reserve)
		switch {
		case !open:
			s.shutdown()
			return
		case batch != nil:
			s.startCohort(batch)
			s.stepOne()
		case len(s.cohorts) > 0:
			s.stepOne()
		default:
			s.q.sleep(wait)
		}
	}
}

func (s *Stepper[In, Out]) startCohort(batch []*stepItem[In, Out]) {
	ins := make([]In, len(batch))
	for i, it := range batch {
		ins[i] = it.in
	}
	began := time.Now()
	c, err := guard("batch cohort", func() (Cohort[Out], error) { return s.start(ins) })
	s.q.observeRun(began)
	if err == nil && c == nil {
		err = engine.Internal(errors.New("cohort starter returned no cohort"))
	}
	if err != nil {
		for _, it := range batch {
			it.fail(err)
		}
		s.q.finish()
		return
	}
	s.live += len(batch)
	if s.merge(c, batch) {
		s.q.finish() // the batch's place: no cohort of its own will retire
		return
	}
	s.cohorts = append(s.cohorts, &running[In, Out]{cohort: c, items: batch, live: len(batch)})
}

// merge hands a new cohort to the first running Merger that takes it. A
// panic while merging fails the new batch and the merger's items: neither
// can be trusted after it.
func (s *Stepper[In, Out]) merge(c Cohort[Out], batch []*stepItem[In, Out]) bool {
	for _, rc := range s.cohorts {
		m, ok := rc.cohort.(Merger[Out])
		if !ok || rc.live == 0 {
			continue
		}
		merged, err := guard("batch cohort", func() (bool, error) { return m.Merge(c, len(rc.items)), nil })
		if err != nil {
			for _, it := range batch {
				it.fail(err)
			}
			s.live -= len(batch) + rc.live
			rc.fail(err)
			_, _ = guard("batch cohort", func() (struct{}, error) { c.Close(); return struct{}{}, nil })
			return true
		}
		if merged {
			rc.items = append(rc.items, batch...)
			rc.live += len(batch)
			return true
		}
	}
	return false
}

// stepOne advances the cohort whose turn it is, after dropping its items
// whose callers went away, and retires it once nothing in it is live.
func (s *Stepper[In, Out]) stepOne() {
	if len(s.cohorts) == 0 {
		return
	}
	if s.turn >= len(s.cohorts) {
		s.turn = 0
	}
	rc := s.cohorts[s.turn]
	before := rc.live
	err := rc.dropEnded()
	if err == nil && rc.live > 0 {
		began := time.Now()
		var outs map[int]Out
		outs, err = guard("batch cohort", rc.cohort.Step)
		s.q.observeRun(began)
		if err == nil {
			rc.deliver(outs)
		}
	}
	if err != nil {
		rc.fail(err)
	}
	s.live += rc.live - before
	if rc.live > 0 {
		s.turn++
		return
	}
	rc.close()
	s.cohorts = append(s.cohorts[:s.turn], s.cohorts[s.turn+1:]...)
	s.q.finish()
}

// shutdown fails the running cohorts' items with ErrClosed and closes the
// cohorts; the queue failed the queued items when it closed.
func (s *Stepper[In, Out]) shutdown() {
	for _, rc := range s.cohorts {
		rc.fail(ErrClosed)
		rc.close()
		s.q.finish()
	}
	s.cohorts, s.live = nil, 0
}

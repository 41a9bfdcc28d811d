package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Cohort is a batch whose items advance together, one step at a time,
// until each finishes: the sequences of one generation batch. Only the
// Stepper's goroutine calls its methods.
type Cohort[Out any] interface {
	// Step advances every live item by one step and returns the items that
	// finished, keyed by their index in the batch the cohort started with.
	// A finished item is no longer live.
	Step() (map[int]Out, error)
	// Drop removes live items, by batch index, whose callers went away.
	Drop(indices []int)
	// Close releases the cohort: once no item is live, after an error, or
	// at shutdown.
	Close()
}

// Starter starts a cohort from a batch (for a translation model: runs the
// encoder over it).
type Starter[In, Out any] func(batch []In) (Cohort[Out], error)

// StepperConfig configures a Stepper. Limits bound the batch a new cohort
// starts with; MaxQueueDelay, MaxConcurrentRequests and the metrics work as
// for Scheduler.
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
// in turn. Items leave as soon as they finish, and items whose callers went
// away are dropped before the next step.
type Stepper[In, Out any] struct {
	cfg    StepperConfig
	length func(In) int
	start  Starter[In, Out]

	mu       sync.Mutex
	queue    []*stepItem[In, Out]
	admitted int
	live     int // items in running cohorts
	closed   bool

	// Owned by the loop goroutine.
	cohorts []*runningCohort[In, Out]
	turn    int

	wake chan struct{}
	done chan struct{}
}

type stepItem[In, Out any] struct {
	in     In
	ctx    context.Context
	queued time.Time
	result chan stepResult[Out] // buffered: delivery never blocks the loop
}

type stepResult[Out any] struct {
	out Out
	err error
}

func (it *stepItem[In, Out]) finish(out Out, err error) {
	it.result <- stepResult[Out]{out, err}
}

type runningCohort[In, Out any] struct {
	cohort Cohort[Out]
	items  []*stepItem[In, Out] // by batch index; nil once finished or dropped
	live   int
}

// NewStepper starts a stepper; length reports an item's cost in tokens for
// packing the batch a cohort starts with.
func NewStepper[In, Out any](cfg StepperConfig, length func(In) int, start Starter[In, Out]) *Stepper[In, Out] {
	s := &Stepper[In, Out]{cfg: cfg, length: length, start: start, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.loop()
	return s
}

// Submit queues one item and waits for its output. It returns early with
// the context's error if ctx ends; the item is then dropped, queued or
// running.
func (s *Stepper[In, Out]) Submit(ctx context.Context, in In) (Out, error) {
	var zero Out
	it := &stepItem[In, Out]{in: in, ctx: ctx, queued: time.Now(), result: make(chan stepResult[Out], 1)}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return zero, ErrClosed
	case s.cfg.MaxConcurrentRequests > 0 && s.admitted >= s.cfg.MaxConcurrentRequests:
		s.mu.Unlock()
		return zero, engine.Busy(time.Second)
	case engine.OptionsFrom(ctx).RejectIfBusy && (s.live > 0 || len(s.queue) > 0):
		s.mu.Unlock()
		return zero, engine.Busy(time.Second)
	}
	s.admitted++
	s.queue = append(s.queue, it)
	s.setQueueDepth()
	s.mu.Unlock()
	s.signal()
	defer func() {
		s.mu.Lock()
		s.admitted--
		s.mu.Unlock()
	}()
	select {
	case r := <-it.result:
		return r.out, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (s *Stepper[In, Out]) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops the stepper after the running step; queued and unfinished
// items fail with ErrClosed.
func (s *Stepper[In, Out]) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
	<-s.done
}

func (s *Stepper[In, Out]) loop() {
	defer close(s.done)
	for {
		batch, ok := s.next()
		if !ok {
			s.shutdown()
			return
		}
		if batch != nil {
			s.startCohort(batch)
		}
		s.stepOne()
	}
}

// next returns the batch to start a cohort with, nil when none should start
// before the next step, or false once closed. It blocks only while no
// cohort runs.
func (s *Stepper[In, Out]) next() ([]*stepItem[In, Out], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return nil, false
		}
		s.dropCancelled()
		room := len(s.queue)
		if s.cfg.MaxLiveItems > 0 {
			room = min(room, s.cfg.MaxLiveItems-s.live)
		}
		if room > 0 && !s.waitForCompany(room) {
			return s.take(room), true
		}
		if len(s.cohorts) > 0 {
			return nil, true
		}
		var wait time.Duration // 0: wait for work; else for company, until more work or the delay ends
		if len(s.queue) > 0 {
			wait = s.cfg.MaxQueueDelay - time.Since(s.queue[0].queued)
		}
		s.mu.Unlock()
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-s.wake:
			case <-timer.C:
			}
			timer.Stop()
		} else {
			<-s.wake
		}
		s.mu.Lock()
	}
}

// take removes the next batch from the queue, packed by Pack with at most
// room items, and counts it live.
func (s *Stepper[In, Out]) take(room int) []*stepItem[In, Out] {
	lengths := make([]int, len(s.queue))
	for i, it := range s.queue {
		lengths[i] = s.length(it.in)
	}
	lim := s.cfg.Limits
	if lim.MaxBatchSize <= 0 || lim.MaxBatchSize > room {
		lim.MaxBatchSize = room
	}
	picked := Pack(lengths, lim)
	batch := make([]*stepItem[In, Out], len(picked))
	for k, i := range picked {
		batch[k] = s.queue[i]
	}
	for k := len(picked) - 1; k >= 0; k-- {
		s.queue = append(s.queue[:picked[k]], s.queue[picked[k]+1:]...)
	}
	s.live += len(batch)
	s.setQueueDepth()
	if m := s.cfg.Metrics; m != nil {
		tokens, padding := Cost(lengths, picked)
		m.BatchSize.WithLabelValues(s.cfg.Model).Observe(float64(len(batch)))
		m.BatchTokens.WithLabelValues(s.cfg.Model).Observe(float64(tokens))
		m.PaddingRatio.WithLabelValues(s.cfg.Model).Observe(padding)
		for _, it := range batch {
			m.QueueSeconds.WithLabelValues(s.cfg.Model).Observe(time.Since(it.queued).Seconds())
		}
	}
	return batch
}

// waitForCompany reports whether the queue should wait longer before a
// cohort starts: only with a MaxQueueDelay, while the oldest item is
// younger than it and the queue would not fill a batch anyway. room is how
// many items may start now.
func (s *Stepper[In, Out]) waitForCompany(room int) bool {
	if s.cfg.MaxQueueDelay <= 0 || time.Since(s.queue[0].queued) >= s.cfg.MaxQueueDelay {
		return false
	}
	if s.cfg.MaxBatchSize > 0 && len(s.queue) >= s.cfg.MaxBatchSize {
		return false
	}
	if s.cfg.MaxLiveItems > 0 && len(s.queue) > room {
		return false // more are waiting than can start: company is here
	}
	if s.cfg.MaxBatchTokens > 0 {
		total := 0
		for _, it := range s.queue {
			total += s.length(it.in)
		}
		if total >= s.cfg.MaxBatchTokens {
			return false
		}
	}
	return true
}

// dropCancelled removes queued items whose callers went away.
func (s *Stepper[In, Out]) dropCancelled() {
	kept := s.queue[:0]
	for _, it := range s.queue {
		if it.ctx.Err() == nil {
			kept = append(kept, it)
		}
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	s.setQueueDepth()
}

func (s *Stepper[In, Out]) setQueueDepth() {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.QueueDepth.WithLabelValues(s.cfg.Model).Set(float64(len(s.queue)))
	}
}

func (s *Stepper[In, Out]) addLive(delta int) {
	if delta == 0 {
		return
	}
	s.mu.Lock()
	s.live += delta
	s.mu.Unlock()
}

func (s *Stepper[In, Out]) observe(start time.Time) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.InferSeconds.WithLabelValues(s.cfg.Model).Observe(time.Since(start).Seconds())
	}
}

func (s *Stepper[In, Out]) startCohort(batch []*stepItem[In, Out]) {
	ins := make([]In, len(batch))
	for i, it := range batch {
		ins[i] = it.in
	}
	began := time.Now()
	c, err := guard(func() (Cohort[Out], error) { return s.start(ins) })
	s.observe(began)
	if err == nil && c == nil {
		err = engine.Internal(errors.New("cohort starter returned no cohort"))
	}
	if err != nil {
		var zero Out
		for _, it := range batch {
			it.finish(zero, err)
		}
		s.addLive(-len(batch))
		return
	}
	s.cohorts = append(s.cohorts, &runningCohort[In, Out]{cohort: c, items: batch, live: len(batch)})
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
	var gone []int
	for i, it := range rc.items {
		if it != nil && it.ctx.Err() != nil {
			gone = append(gone, i)
			rc.items[i] = nil
			rc.live--
		}
	}
	var err error
	if len(gone) > 0 {
		_, err = guard(func() (struct{}, error) { rc.cohort.Drop(gone); return struct{}{}, nil })
	}
	if err == nil && rc.live > 0 {
		began := time.Now()
		var outs map[int]Out
		outs, err = guard(rc.cohort.Step)
		s.observe(began)
		for i, out := range outs {
			if err != nil || i < 0 || i >= len(rc.items) || rc.items[i] == nil {
				continue
			}
			rc.items[i].finish(out, nil)
			rc.items[i] = nil
			rc.live--
		}
	}
	if err != nil {
		rc.fail(err)
	}
	s.addLive(rc.live - before)
	if rc.live > 0 {
		s.turn++
		return
	}
	rc.cohort.Close()
	s.cohorts = append(s.cohorts[:s.turn], s.cohorts[s.turn+1:]...)
}

// fail ends every live item of the cohort with err.
func (rc *runningCohort[In, Out]) fail(err error) {
	var zero Out
	for i, it := range rc.items {
		if it != nil {
			it.finish(zero, err)
			rc.items[i] = nil
		}
	}
	rc.live = 0
}

func (s *Stepper[In, Out]) shutdown() {
	s.mu.Lock()
	var zero Out
	for _, it := range s.queue {
		it.finish(zero, ErrClosed)
	}
	s.queue = nil
	s.setQueueDepth()
	s.mu.Unlock()
	for _, rc := range s.cohorts {
		rc.fail(ErrClosed)
		rc.cohort.Close()
	}
	s.cohorts = nil
	s.mu.Lock()
	s.live = 0
	s.mu.Unlock()
}

// guard keeps a panicking starter or cohort from killing the stepper
// goroutine, which would hang every later request.
func guard[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = engine.Internal(fmt.Errorf("batch cohort panicked: %v", r))
		}
	}()
	return f()
}

package batch

import (
	"context"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// SlotsConfig configures Slots.
type SlotsConfig struct {
	// Slots is how many requests run at once (values below 1 mean 1).
	Slots int
	// MaxConcurrentRequests bounds the interactive requests admitted at
	// once, running and waiting; beyond it Acquire answers 429 at once.
	// 0 means no bound. Low-priority requests neither count nor are
	// refused, as with Scheduler.
	MaxConcurrentRequests int
	// Model labels the metrics; Metrics may be nil.
	Model   string
	Metrics *engine.Metrics
}

// Slots admits requests to a runtime that batches by itself and serves a
// fixed number of requests at once (Ollama's parallel slots): a request
// holds one slot while it runs, and the others wait in arrival order,
// interactive ones before low-priority ones. Keeping the wait here rather
// than in the runtime's own queue is what lets a full queue answer 429,
// rejectIfBusy refuse at once, and a caller that goes away leave at once.
type Slots struct {
	q *queue[*slotWaiter]
}

type slotWaiter struct {
	ready chan struct{} // closed once granted or failed
	err   error         // set before ready closes when the wait failed
}

func (w *slotWaiter) fail(err error) {
	w.err = err
	close(w.ready)
}

// NewSlots returns a gate with cfg.Slots free slots.
func NewSlots(cfg SlotsConfig) *Slots {
	qc := Config{MaxConcurrentRequests: cfg.MaxConcurrentRequests, Model: cfg.Model, Metrics: cfg.Metrics}
	// Each request is a batch of one; the runtime forms the real batches,
	// so the queue observes no batch metrics.
	return &Slots{q: newQueue[*slotWaiter](qc, cfg.Slots, false)}
}

// Acquire admits the request in ctx and waits for a free slot. It refuses
// with engine.Busy when MaxConcurrentRequests are already admitted, or, for
// a request with rejectIfBusy, when no slot is free or an interactive
// request already waits; it returns ctx's error if ctx ends first, and
// ErrClosed after Close. On success the caller must call release once the
// request is over; later calls do nothing.
func (s *Slots) Acquire(ctx context.Context) (release func(), err error) {
	opts := engine.OptionsFrom(ctx)
	unadmit, err := s.q.admit(opts)
	if err != nil {
		return nil, err
	}
	w := &slotWaiter{ready: make(chan struct{})}
	if err := s.q.push(entry[*slotWaiter]{val: w, ctx: ctx, length: 1, low: opts.LowPriority}); err != nil {
		unadmit()
		return nil, err
	}
	s.grant()
	select {
	case <-w.ready:
	case <-ctx.Done():
		if s.q.remove(w) {
			unadmit()
			return nil, ctx.Err()
		}
		// The slot was granted (or the wait failed) as ctx ended: give it
		// back, so it passes to the next waiter.
		<-w.ready
		if w.err == nil {
			s.releaser(unadmit)()
		} else {
			unadmit()
		}
		return nil, ctx.Err()
	}
	if w.err != nil {
		unadmit()
		return nil, w.err
	}
	return s.releaser(unadmit), nil
}

// releaser returns the release function of one granted request.
func (s *Slots) releaser(unadmit func()) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.q.finish()
			unadmit()
			s.grant()
		})
	}
}

// grant hands free slots to the waiters Decide picks one at a time: the
// oldest interactive waiter, else the oldest low-priority one.
func (s *Slots) grant() {
	q := s.q
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed && q.running < q.capacity {
		next, _ := q.takeLocked(1, 0, time.Now())
		if len(next) == 0 {
			return
		}
		close(next[0].ready)
	}
}

// Busy reports whether every slot is taken.
func (s *Slots) Busy() bool {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	return s.q.running >= s.q.capacity
}

// Close fails every waiting request with ErrClosed and refuses new ones;
// running requests finish and release as usual.
func (s *Slots) Close() { s.q.close() }

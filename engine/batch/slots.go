package batch

import (
	"context"
	"slices"
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
	cfg SlotsConfig

	mu       sync.Mutex
	running  int
	admitted int
	waiting  []*slotWaiter
	closed   bool
}

type slotWaiter struct {
	low    bool
	queued time.Time
	ready  chan struct{} // closed once granted or failed
	err    error         // set before ready closes when the wait failed
}

// NewSlots returns a gate with cfg.Slots free slots.
func NewSlots(cfg SlotsConfig) *Slots {
	cfg.Slots = max(cfg.Slots, 1)
	return &Slots{cfg: cfg}
}

// Acquire admits the request in ctx and waits for a free slot. It refuses
// with engine.Busy when MaxConcurrentRequests are already admitted, or, for
// a request with rejectIfBusy, when no slot is free; it returns ctx's error
// if ctx ends first, and ErrClosed after Close. On success the caller must
// call release once the request is over; later calls do nothing.
func (s *Slots) Acquire(ctx context.Context) (release func(), err error) {
	opts := engine.OptionsFrom(ctx)
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, ErrClosed
	case !opts.LowPriority && s.cfg.MaxConcurrentRequests > 0 && s.admitted >= s.cfg.MaxConcurrentRequests:
		s.mu.Unlock()
		return nil, engine.Busy(time.Second)
	case opts.RejectIfBusy && s.running >= s.cfg.Slots:
		s.mu.Unlock()
		return nil, engine.Busy(time.Second)
	}
	if !opts.LowPriority {
		s.admitted++
	}
	release = s.releaser(opts.LowPriority)
	if s.running < s.cfg.Slots && len(s.waiting) == 0 {
		s.running++
		s.mu.Unlock()
		s.observeWait(0)
		return release, nil
	}
	w := &slotWaiter{low: opts.LowPriority, queued: time.Now(), ready: make(chan struct{})}
	s.waiting = append(s.waiting, w)
	s.setQueueDepth()
	s.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		s.mu.Lock()
		if i := slices.Index(s.waiting, w); i >= 0 {
			s.waiting = slices.Delete(s.waiting, i, i+1)
			s.setQueueDepth()
			s.unadmit(w.low)
			s.mu.Unlock()
			return nil, ctx.Err()
		}
		s.mu.Unlock()
		// The slot was granted (or the gate closed) as ctx ended: give it
		// back, so it passes to the next waiter.
		<-w.ready
		if w.err == nil {
			release()
		}
		return nil, ctx.Err()
	}
	if w.err != nil {
		return nil, w.err
	}
	s.observeWait(time.Since(w.queued))
	return release, nil
}

// releaser returns the release function of one granted request.
func (s *Slots) releaser(low bool) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.running--
			s.unadmit(low)
			s.grantNext()
		})
	}
}

func (s *Slots) unadmit(low bool) {
	if !low {
		s.admitted--
	}
}

// grantNext hands free slots to the oldest interactive waiter, else the
// oldest low-priority one. Callers hold mu.
func (s *Slots) grantNext() {
	for s.running < s.cfg.Slots && len(s.waiting) > 0 {
		i := slices.IndexFunc(s.waiting, func(w *slotWaiter) bool { return !w.low })
		if i < 0 {
			i = 0
		}
		w := s.waiting[i]
		s.waiting = slices.Delete(s.waiting, i, i+1)
		s.running++
		close(w.ready)
	}
	s.setQueueDepth()
}

// Busy reports whether every slot is taken.
func (s *Slots) Busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running >= s.cfg.Slots
}

// Close fails every waiting request with ErrClosed and refuses new ones;
// running requests finish and release as usual.
func (s *Slots) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for _, w := range s.waiting {
		w.err = ErrClosed
		s.unadmit(w.low)
		close(w.ready)
	}
	s.waiting = nil
	s.setQueueDepth()
}

func (s *Slots) setQueueDepth() {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.QueueDepth.WithLabelValues(s.cfg.Model).Set(float64(len(s.waiting)))
	}
}

func (s *Slots) observeWait(d time.Duration) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.QueueSeconds.WithLabelValues(s.cfg.Model).Observe(d.Seconds())
	}
}

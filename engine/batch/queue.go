package batch

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// waiter is what a queue holds for one item: it can be told the item will
// not run. fail is called with the queue's lock held, at most once, and
// must not block.
type waiter interface {
	comparable
	fail(err error)
}

// entry is one queued item.
type entry[T waiter] struct {
	val    T
	ctx    context.Context // the item's request; once it ends the item is dropped
	length int             // cost in tokens, for packing
	low    bool            // engine.RunOptions.LowPriority
	queued time.Time
}

// queue is the waiting room that Scheduler, Stepper and Slots share:
// admission (MaxConcurrentRequests and rejectIfBusy, answered with
// engine.Busy), the queued items with their priority, dropping items whose
// request ended, closing, and the queue metrics. Batches leave it through
// Decide.
type queue[T waiter] struct {
	cfg Config
	// capacity is how many batches may run at once; running at capacity
	// makes the queue busy for rejectIfBusy.
	capacity int
	// batchMetrics observes size, tokens and padding of each batch taken;
	// off where a runtime forms its own batches.
	batchMetrics bool

	mu       sync.Mutex
	entries  []entry[T]
	admitted int // interactive requests admitted and not released
	running  int // batches taken and not finished
	closed   bool

	wake    chan struct{} // a push or a partial take: decide again
	closing chan struct{} // closed by close
}

func newQueue[T waiter](cfg Config, capacity int, batchMetrics bool) *queue[T] {
	return &queue[T]{cfg: cfg, capacity: max(capacity, 1), batchMetrics: batchMetrics,
		wake: make(chan struct{}, 1), closing: make(chan struct{})}
}

// admit applies admission control to a request with opts. Interactive
// requests count against MaxConcurrentRequests until release (idempotent);
// low-priority ones neither count nor are refused, since their producer
// bounds them and they must not crowd out interactive callers. With
// RejectIfBusy a request is refused while the queue is busy.
func (q *queue[T]) admit(opts engine.RunOptions) (release func(), err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return nil, ErrClosed
	case !opts.LowPriority && q.cfg.MaxConcurrentRequests > 0 && q.admitted >= q.cfg.MaxConcurrentRequests:
		return nil, engine.Busy(time.Second)
	case opts.RejectIfBusy && q.busyLocked():
		return nil, engine.Busy(time.Second)
	}
	if opts.LowPriority {
		return func() {}, nil
	}
	q.admitted++
	var once sync.Once
	return func() {
		once.Do(func() {
			q.mu.Lock()
			q.admitted--
			q.mu.Unlock()
		})
	}, nil
}

// busyLocked reports whether new interactive work would wait: an
// interactive item is queued, or every batch place is running. Queued
// low-priority items do not count: an interactive item goes before them.
func (q *queue[T]) busyLocked() bool {
	if q.running >= q.capacity {
		return true
	}
	return slices.ContainsFunc(q.entries, func(e entry[T]) bool { return !e.low })
}

// push queues entries, all stamped now; it fails with ErrClosed once the
// queue is closed.
func (q *queue[T]) push(es ...entry[T]) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	now := time.Now()
	for _, e := range es {
		e.queued = now
		q.entries = append(q.entries, e)
	}
	q.setDepth()
	q.mu.Unlock()
	q.signal()
	return nil
}

// remove takes v out of the queue and reports whether it was there.
func (q *queue[T]) remove(v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.IndexFunc(q.entries, func(e entry[T]) bool { return e.val == v })
	if i < 0 {
		return false
	}
	q.entries = slices.Delete(q.entries, i, i+1)
	q.setDepth()
	return true
}

// take drops the items whose request ended and asks Decide for a batch of
// at most room items, of which low-priority ones leave reserve free. It
// returns the batch, counted running until finish,
// or else how long to wait (0: until woken); open is false once closed.
func (q *queue[T]) take(room, reserve int) (batch []T, wait time.Duration, open bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, 0, false
	}
	batch, wait = q.takeLocked(room, reserve, time.Now())
	return batch, wait, true
}

func (q *queue[T]) takeLocked(room, reserve int, now time.Time) ([]T, time.Duration) {
	q.dropEnded()
	if len(q.entries) == 0 {
		return nil, 0
	}
	lengths, low := make([]int, len(q.entries)), make([]bool, len(q.entries))
	for i, e := range q.entries {
		lengths[i], low[i] = e.length, e.low
	}
	d := Decide(Pending{Lengths: lengths, Low: low, Oldest: q.entries[0].queued, Room: room, Reserve: reserve,
		Limits: q.cfg.Limits, MaxQueueDelay: q.cfg.MaxQueueDelay}, now)
	if len(d.Run) == 0 {
		return nil, d.Wait
	}
	batch := make([]T, len(d.Run))
	for k, i := range d.Run {
		batch[k] = q.entries[i].val
		q.observeQueued(now.Sub(q.entries[i].queued))
	}
	for k := len(d.Run) - 1; k >= 0; k-- {
		q.entries = slices.Delete(q.entries, d.Run[k], d.Run[k]+1)
	}
	q.running++
	q.setDepth()
	if q.batchMetrics {
		q.observeBatch(lengths, d.Run)
	}
	if len(q.entries) > 0 {
		q.signal() // another loop may take what is left
	}
	return batch, 0
}

// dropEnded fails the items whose request ended, so no work is spent on
// answers nobody waits for.
func (q *queue[T]) dropEnded() {
	kept := q.entries[:0]
	for _, e := range q.entries {
		if err := e.ctx.Err(); err != nil {
			e.val.fail(err)
			continue
		}
		kept = append(kept, e)
	}
	clear(q.entries[len(kept):])
	q.entries = kept
	q.setDepth()
}

// finish ends one batch that take counted running.
func (q *queue[T]) finish() {
	q.mu.Lock()
	q.running--
	q.mu.Unlock()
}

// sleep waits for a push, for wait when above 0, or for close.
func (q *queue[T]) sleep(wait time.Duration) {
	var timeout <-chan time.Time
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-q.wake:
	case <-timeout:
	case <-q.closing:
	}
}

func (q *queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close refuses new work and fails every queued item with ErrClosed; it
// reports whether this call closed the queue.
func (q *queue[T]) close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	for _, e := range q.entries {
		e.val.fail(ErrClosed)
	}
	q.entries = nil
	q.setDepth()
	close(q.closing)
	return true
}

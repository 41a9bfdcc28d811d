package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Config configures a Scheduler.
type Config struct {
	Limits
	// MaxQueueDelay is how long the first queued item may wait for company
	// before a batch runs anyway; 0 runs as soon as the runner is free
	// (batches still form from whatever queued during the previous run).
	MaxQueueDelay time.Duration
	// MaxConcurrentRequests bounds the interactive requests admitted at
	// once; beyond it Submit answers 429 at once. 0 means no bound.
	// Low-priority requests (engine.RunOptions.LowPriority, the items of
	// async batch jobs) neither count nor are refused: their producer bounds
	// them, and they must not crowd out interactive callers.
	MaxConcurrentRequests int
	// Instances is how many batches may run at once, each on its own
	// goroutine taking batches from the one queue (Triton's instance
	// count). More than one suits runtimes that run a batch on a single
	// core: one instance per core keeps every core busy while requests are
	// still being prepared. 0 means 1.
	Instances int
	// Model labels the metrics; Metrics may be nil.
	Model   string
	Metrics *engine.Metrics
}

func (c Config) instances() int { return max(c.Instances, 1) }

// GPUInstances is the instance count for a session on a GPU: with two
// batches in flight the host pads the next batch and unpacks the last
// while the device runs one, instead of the device waiting on the host.
const GPUInstances = 2

// Runner executes one batch on the goroutine that owns the model session and
// returns one output per input, in order. With Instances > 1 it is called
// from several goroutines at once.
type Runner[In, Out any] func(batch []In) ([]Out, error)

// ErrClosed is returned for work still queued when the scheduler closes.
var ErrClosed = &engine.Error{Kind: engine.KindNotInstalled, Message: "Model was unloaded while the request waited"}

// Scheduler queues items from concurrent requests and runs them in batches
// packed by PackPriority, on one goroutine per instance: low-priority items
// run only when no interactive item waits.
type Scheduler[In, Out any] struct {
	cfg    Config
	length func(In) int
	run    Runner[In, Out]

	mu       sync.Mutex
	queue    []*item[In, Out]
	admitted int
	running  int // batches running now, at most cfg.instances()
	closed   bool

	wake  chan struct{}
	loops sync.WaitGroup
}

type item[In, Out any] struct {
	in     In
	index  int
	req    *request[Out]
	queued time.Time
	low    bool
}

// request collects the outputs of one Submit call.
type request[Out any] struct {
	ctx       context.Context
	mu        sync.Mutex
	outs      []Out
	err       error
	remaining int
	done      chan struct{}
}

func (r *request[Out]) finish(index int, out Out, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.remaining == 0 {
		return
	}
	if err != nil && r.err == nil {
		r.err = err
	}
	r.outs[index] = out
	r.remaining--
	if r.remaining == 0 {
		close(r.done)
	}
}

// New starts a scheduler; length reports an item's cost in tokens.
func New[In, Out any](cfg Config, length func(In) int, run Runner[In, Out]) *Scheduler[In, Out] {
	s := &Scheduler[In, Out]{cfg: cfg, length: length, run: run, wake: make(chan struct{}, 1)}
	for range cfg.instances() {
		s.loops.Add(1)
		go s.loop()
	}
	return s
}

// Submit queues ins as one request and waits for all of their outputs, in
// order. The items may run in different batches. Submit returns early with
// the context's error if ctx ends; the items are then dropped before they run.
func (s *Scheduler[In, Out]) Submit(ctx context.Context, ins []In) ([]Out, error) {
	if len(ins) == 0 {
		return nil, nil
	}
	a, err := s.Admit(ctx)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return a.Submit(ctx, ins)
}

// Admission is a request that passed admission control and holds its slot
// of MaxConcurrentRequests until Release.
type Admission[In, Out any] struct {
	s    *Scheduler[In, Out]
	low  bool
	once sync.Once
}

// Admit applies Submit's admission control (closed, MaxConcurrentRequests,
// rejectIfBusy) without queueing anything. It is for callers whose items
// are costly to prepare (images to decode): they refuse a request with 429
// before spending the work, then Submit on the admission. The caller must
// call Release once the request is over.
func (s *Scheduler[In, Out]) Admit(ctx context.Context) (*Admission[In, Out], error) {
	opts := engine.OptionsFrom(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrClosed
	case !opts.LowPriority && s.cfg.MaxConcurrentRequests > 0 && s.admitted >= s.cfg.MaxConcurrentRequests:
		return nil, engine.Busy(time.Second)
	case opts.RejectIfBusy && (s.running >= s.cfg.instances() || s.interactiveQueued()):
		return nil, engine.Busy(time.Second)
	}
	if !opts.LowPriority {
		s.admitted++
	}
	return &Admission[In, Out]{s: s, low: opts.LowPriority}, nil
}

// Release frees the admission's slot; later calls do nothing.
func (a *Admission[In, Out]) Release() {
	a.once.Do(func() {
		if !a.low {
			a.s.mu.Lock()
			a.s.admitted--
			a.s.mu.Unlock()
		}
	})
}

// Submit queues ins under the admission and waits for their outputs, as
// Scheduler.Submit does. It does not release the admission.
func (a *Admission[In, Out]) Submit(ctx context.Context, ins []In) ([]Out, error) {
	if len(ins) == 0 {
		return nil, nil
	}
	s := a.s
	req := &request[Out]{ctx: ctx, outs: make([]Out, len(ins)), remaining: len(ins), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	now := time.Now()
	for i, in := range ins {
		s.queue = append(s.queue, &item[In, Out]{in: in, index: i, req: req, queued: now, low: a.low})
	}
	s.setQueueDepth()
	s.mu.Unlock()
	s.signal()
	select {
	case <-req.done:
		return req.outs, req.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// interactiveQueued reports whether an interactive item waits; queued
// low-priority items do not make the model busy for an interactive caller,
// who would be served before them.
func (s *Scheduler[In, Out]) interactiveQueued() bool {
	for _, it := range s.queue {
		if !it.low {
			return true
		}
	}
	return false
}

func (s *Scheduler[In, Out]) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops the scheduler after the running batches and fails queued work.
func (s *Scheduler[In, Out]) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
	s.loops.Wait()
}

func (s *Scheduler[In, Out]) loop() {
	defer s.loops.Done()
	for {
		batch, ok := s.next()
		if !ok {
			return
		}
		s.execute(batch)
	}
}

// next waits for work and takes the next batch off the queue.
func (s *Scheduler[In, Out]) next() ([]*item[In, Out], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			s.failQueued(ErrClosed)
			s.signal() // the next waiting instance stops too
			return nil, false
		}
		s.dropCancelled()
		if len(s.queue) > 0 && !s.waitForCompany() {
			break
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
	lengths, low := make([]int, len(s.queue)), make([]bool, len(s.queue))
	for i, it := range s.queue {
		lengths[i], low[i] = s.length(it.in), it.low
	}
	picked := PackPriority(lengths, low, s.cfg.Limits)
	batch := make([]*item[In, Out], len(picked))
	for k, i := range picked {
		batch[k] = s.queue[i]
	}
	for k := len(picked) - 1; k >= 0; k-- {
		s.queue = append(s.queue[:picked[k]], s.queue[picked[k]+1:]...)
	}
	s.running++
	if len(s.queue) > 0 {
		s.signal() // an idle instance may take what is left
	}
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
	return batch, true
}

// waitForCompany reports whether the queue should wait longer before a
// batch runs: only with a MaxQueueDelay, while the oldest item is younger
// than it and the queue would not fill a batch anyway.
func (s *Scheduler[In, Out]) waitForCompany() bool {
	if s.cfg.MaxQueueDelay <= 0 || time.Since(s.queue[0].queued) >= s.cfg.MaxQueueDelay {
		return false
	}
	if s.cfg.MaxBatchSize > 0 && len(s.queue) >= s.cfg.MaxBatchSize {
		return false
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

// dropCancelled removes items whose request has ended, so no work is spent
// on answers nobody waits for.
func (s *Scheduler[In, Out]) dropCancelled() {
	kept := s.queue[:0]
	for _, it := range s.queue {
		if err := it.req.ctx.Err(); err != nil {
			var zero Out
			it.req.finish(it.index, zero, err)
			continue
		}
		kept = append(kept, it)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	s.setQueueDepth()
}

func (s *Scheduler[In, Out]) failQueued(err error) {
	var zero Out
	for _, it := range s.queue {
		it.req.finish(it.index, zero, err)
	}
	s.queue = nil
	s.setQueueDepth()
}

func (s *Scheduler[In, Out]) setQueueDepth() {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.QueueDepth.WithLabelValues(s.cfg.Model).Set(float64(len(s.queue)))
	}
}

// execute runs one batch and hands each item its output.
func (s *Scheduler[In, Out]) execute(batch []*item[In, Out]) {
	ins := make([]In, len(batch))
	for i, it := range batch {
		ins[i] = it.in
	}
	start := time.Now()
	outs, err := s.safeRun(ins)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.InferSeconds.WithLabelValues(s.cfg.Model).Observe(time.Since(start).Seconds())
	}
	if err == nil && len(outs) != len(ins) {
		err = engine.Internal(errors.New("batch runner returned a wrong number of outputs"))
	}
	var zero Out
	for i, it := range batch {
		if err != nil {
			it.req.finish(it.index, zero, err)
		} else {
			it.req.finish(it.index, outs[i], nil)
		}
	}
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
}

// safeRun keeps one bad batch from killing the scheduler goroutine, which
// would hang every later request.
func (s *Scheduler[In, Out]) safeRun(ins []In) (outs []Out, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = engine.Internal(fmt.Errorf("batch runner panicked: %v", v))
		}
	}()
	return s.run(ins)
}

// ForModel returns c with a model's configured limits applied over it (a
// zero setting keeps c's default) and the model's name and metrics, so every
// backend reads max_batch_tokens, max_batch_size, max_queue_delay and
// max_concurrent_requests the same way.
func (c Config) ForModel(spec engine.ModelSpec) Config {
	m := spec.Config
	if m.MaxBatchTokens > 0 {
		c.MaxBatchTokens = m.MaxBatchTokens
	}
	if m.MaxBatchSize > 0 {
		c.MaxBatchSize = m.MaxBatchSize
	}
	if m.MaxQueueDelay > 0 {
		c.MaxQueueDelay = time.Duration(m.MaxQueueDelay)
	}
	if m.MaxConcurrentRequests > 0 {
		c.MaxConcurrentRequests = m.MaxConcurrentRequests
	}
	c.Model, c.Metrics = spec.Entry.ID, spec.Metrics
	return c
}

package batch

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// RunFunc executes one batch on the goroutine that owns the model session
// and returns one output per input, in order. With Instances > 1 it is
// called from several goroutines at once.
type RunFunc[In, Out any] func(batch []In) ([]Out, error)

// Scheduler queues items from concurrent requests and runs them in batches,
// on one goroutine per instance taking batches from one queue: low-priority
// items run only when no interactive item waits.
type Scheduler[In, Out any] struct {
	q      *queue[*item[In, Out]]
	length func(In) int
	run    RunFunc[In, Out]
	loops  sync.WaitGroup
}

// item is one input of a Submit call.
type item[In, Out any] struct {
	in    In
	index int
	req   *request[Out]
}

func (it *item[In, Out]) fail(err error) {
	var zero Out
	it.req.finish(it.index, zero, err)
}

// request collects the outputs of one Submit call.
type request[Out any] struct {
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

// New starts a scheduler with cfg.Instances loop goroutines; length
// reports an item's cost in tokens.
func New[In, Out any](cfg Config, length func(In) int, run RunFunc[In, Out]) *Scheduler[In, Out] {
	s := &Scheduler[In, Out]{q: newQueue[*item[In, Out]](cfg, cfg.instances(), true), length: length, run: run}
	for range cfg.instances() {
		s.loops.Add(1)
		go s.loop()
	}
	return s
}

// Config is the configuration the scheduler runs with.
func (s *Scheduler[In, Out]) Config() Config { return s.q.cfg }

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
	s       *Scheduler[In, Out]
	low     bool
	release func()
}

// Admit applies Submit's admission control (closed, MaxConcurrentRequests,
// rejectIfBusy: busy while an interactive item is queued or every instance
// runs) without queueing anything. It is for callers whose items are
// costly to prepare (images to decode): they refuse a request with 429
// before spending the work, then Submit on the admission. The caller must
// call Release once the request is over.
func (s *Scheduler[In, Out]) Admit(ctx context.Context) (*Admission[In, Out], error) {
	opts := engine.OptionsFrom(ctx)
	release, err := s.q.admit(opts)
	if err != nil {
		return nil, err
	}
	return &Admission[In, Out]{s: s, low: opts.LowPriority, release: release}, nil
}

// Release frees the admission's slot; later calls do nothing.
func (a *Admission[In, Out]) Release() { a.release() }

// Submit queues ins under the admission and waits for their outputs, as
// Scheduler.Submit does. It does not release the admission.
func (a *Admission[In, Out]) Submit(ctx context.Context, ins []In) ([]Out, error) {
	if len(ins) == 0 {
		return nil, nil
	}
	req := &request[Out]{outs: make([]Out, len(ins)), remaining: len(ins), done: make(chan struct{})}
	es := make([]entry[*item[In, Out]], len(ins))
	for i, in := range ins {
		es[i] = entry[*item[In, Out]]{val: &item[In, Out]{in: in, index: i, req: req}, ctx: ctx, length: a.s.length(in), low: a.low}
	}
	if err := a.s.q.push(es...); err != nil {
		return nil, err
	}
	select {
	case <-req.done:
		return req.outs, req.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the scheduler after the running batches and fails queued work.
func (s *Scheduler[In, Out]) Close() {
	s.q.close()
	s.loops.Wait()
}

// loop is one instance: it takes a batch when Decide says so, else sleeps
// as long as Decide says.
func (s *Scheduler[In, Out]) loop() {
	defer s.loops.Done()
	for {
		batch, wait, open := s.q.take(math.MaxInt, 0)
		switch {
		case !open:
			return
		case batch == nil:
			s.q.sleep(wait)
		default:
			s.execute(batch)
			s.q.finish()
		}
	}
}

// execute runs one batch and hands each item its output.
func (s *Scheduler[In, Out]) execute(batch []*item[In, Out]) {
	ins := make([]In, len(batch))
	for i, it := range batch {
		ins[i] = it.in
	}
	began := time.Now()
	outs, err := guard("batch function", func() ([]Out, error) { return s.run(ins) })
	s.q.observeRun(began)
	if err == nil && len(outs) != len(ins) {
		err = engine.Internal(errors.New("batch function returned a wrong number of outputs"))
	}
	for i, it := range batch {
		if err != nil {
			it.fail(err)
		} else {
			it.req.finish(it.index, outs[i], nil)
		}
	}
}

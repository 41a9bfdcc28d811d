package batch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// acquireAsync starts an Acquire and reports its outcome on the returned
// channel.
type acquired struct {
	release func()
	err     error
}

func acquireAsync(ctx context.Context, s *Slots) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		r, err := s.Acquire(ctx)
		ch <- acquired{r, err}
	}()
	return ch
}

// waitWaiting blocks until n requests wait for a slot.
func waitWaiting(t *testing.T, ctx context.Context, s *Slots, n int) {
	t.Helper()
	for {
		got := s.q.state().queued
		if got == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d requests wait for a slot, want %d", got, n)
		case <-time.After(time.Millisecond):
		}
	}
}

func mustAcquire(t *testing.T, ctx context.Context, s *Slots) func() {
	t.Helper()
	release, err := s.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return release
}

func TestSlotsRunUpToSlotsAndGrantInArrivalOrder(t *testing.T) {
	ctx := testCtx(t)
	s := NewSlots(SlotsConfig{Slots: 2})
	r1, r2 := mustAcquire(t, ctx, s), mustAcquire(t, ctx, s)
	if !s.Busy() {
		t.Fatal("two of two slots taken, yet not busy")
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := s.Acquire(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			release()
		}()
		waitWaiting(t, ctx, s, i+1) // fixes the arrival order
	}
	r1()
	r1() // a second release must not free another slot
	wg.Wait()
	if !slices.Equal(order, []int{0, 1, 2}) {
		t.Errorf("waiters ran in order %v, want arrival order", order)
	}
	r3 := mustAcquire(t, ctx, s) // r2 still holds one slot; one is free
	if !s.Busy() {
		t.Error("a double release freed a slot it did not hold")
	}
	r2()
	r3()
}

func TestSlotsAdmissionControl(t *testing.T) {
	ctx := testCtx(t)
	s := NewSlots(SlotsConfig{Slots: 1, MaxConcurrentRequests: 2})
	running := mustAcquire(t, ctx, s)
	waiter := acquireAsync(ctx, s)
	waitWaiting(t, ctx, s, 1)
	if _, err := s.Acquire(ctx); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("third request with two admitted: %v, want capacity", err)
	}
	var e *engine.Error
	if _, err := s.Acquire(ctx); !errors.As(err, &e) || e.RetryAfter <= 0 {
		t.Fatalf("capacity error without Retry-After: %#v", err)
	}
	// Low-priority work neither counts nor is refused.
	low := acquireAsync(engine.WithOptions(ctx, engine.RunOptions{LowPriority: true}), s)
	waitWaiting(t, ctx, s, 2)

	// rejectIfBusy refuses while every slot is taken, even with room to queue.
	running()
	w := <-waiter
	if w.err != nil {
		t.Fatal(w.err)
	}
	reject := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	if _, err := s.Acquire(reject); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("rejectIfBusy with every slot taken: %v, want capacity", err)
	}
	w.release()
	l := <-low
	if l.err != nil {
		t.Fatal(l.err)
	}
	l.release()
	r, err := s.Acquire(reject)
	if err != nil {
		t.Fatalf("rejectIfBusy with a free slot: %v", err)
	}
	r()
}

func TestSlotsInteractiveWaitersGoBeforeLowPriority(t *testing.T) {
	ctx := testCtx(t)
	s := NewSlots(SlotsConfig{Slots: 1})
	running := mustAcquire(t, ctx, s)
	low := acquireAsync(engine.WithOptions(ctx, engine.RunOptions{LowPriority: true}), s)
	waitWaiting(t, ctx, s, 1)
	interactive := acquireAsync(ctx, s)
	waitWaiting(t, ctx, s, 2)
	running()
	var first acquired
	select {
	case first = <-interactive:
	case l := <-low:
		t.Fatalf("the low-priority waiter got the slot before a later interactive one (err %v)", l.err)
	}
	if first.err != nil {
		t.Fatal(first.err)
	}
	first.release()
	if l := <-low; l.err != nil {
		t.Fatal(l.err)
	} else {
		l.release()
	}
}

func TestSlotsCancelledWaiterLeavesAndFreesItsAdmission(t *testing.T) {
	ctx := testCtx(t)
	s := NewSlots(SlotsConfig{Slots: 1, MaxConcurrentRequests: 2})
	running := mustAcquire(t, ctx, s)
	gone, cancel := context.WithCancel(ctx)
	waiter := acquireAsync(gone, s)
	waitWaiting(t, ctx, s, 1)
	cancel()
	if w := <-waiter; !errors.Is(w.err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", w.err)
	}
	waitWaiting(t, ctx, s, 0)
	next := acquireAsync(ctx, s) // admitted: the cancelled one gave its admission back
	waitWaiting(t, ctx, s, 1)
	running()
	n := <-next
	if n.err != nil {
		t.Fatal(n.err)
	}
	n.release()
	if s.Busy() {
		t.Error("slots still taken after every request released")
	}
}

func TestSlotsCloseFailsWaitersAndRefusesNewRequests(t *testing.T) {
	ctx := testCtx(t)
	s := NewSlots(SlotsConfig{Slots: 1, MaxConcurrentRequests: 2})
	running := mustAcquire(t, ctx, s)
	waiter := acquireAsync(ctx, s)
	waitWaiting(t, ctx, s, 1)
	s.Close()
	if w := <-waiter; !errors.Is(w.err, ErrClosed) {
		t.Fatalf("waiter after Close: %v", w.err)
	}
	if _, err := s.Acquire(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close: %v", err)
	}
	running() // a running request still releases cleanly
	if s.Busy() {
		t.Error("slot still taken after release")
	}
}

package batch

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

// An admission holds its slot from Admit to Release, whether or not it has
// queued anything, so costly preparation happens only for admitted work.
func TestAdmitHoldsASlotUntilRelease(t *testing.T) {
	rec := &recorder{}
	s := New(Config{MaxConcurrentRequests: 2}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)

	a1, err := s.Admit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.Admit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admit(ctx); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("third admission while two are held: %v", err)
	}
	if _, err := s.Submit(ctx, []int{1}); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("Submit while two admissions are held: %v", err)
	}
	out, err := a1.Submit(ctx, []int{1, 2})
	if err != nil || !slices.Equal(out, []int{2, 4}) {
		t.Fatalf("admitted Submit: %v %v", out, err)
	}
	// Submitting does not release: the slot is the caller's until Release.
	if _, err := s.Admit(ctx); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("admission after a Submit but before Release: %v", err)
	}
	a1.Release()
	a1.Release() // idempotent: must not free a second slot
	a3, err := s.Admit(ctx)
	if err != nil {
		t.Fatalf("admission after a Release: %v", err)
	}
	if _, err := s.Admit(ctx); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("a double Release freed two slots: %v", err)
	}
	a2.Release()
	a3.Release()
}

func TestAdmitRejectIfBusyAndClosed(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	s := New(Config{}, identity, rec.run)
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		_, err := s.Submit(ctx, []int{1})
		done <- err
	}()
	<-rec.started
	busy := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	if _, err := s.Admit(busy); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("rejectIfBusy admission while a batch runs: %v", err)
	}
	rec.gate <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a, err := s.Admit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := a.Submit(ctx, []int{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit on an admission after Close: %v", err)
	}
	a.Release()
	if _, err := s.Admit(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Admit after Close: %v", err)
	}
}

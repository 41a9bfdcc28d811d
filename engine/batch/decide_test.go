package batch

import (
	"slices"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	tests := []struct {
		name     string
		p        Pending
		now      time.Time
		run      []int
		wait     time.Duration
		waitWork bool // neither run nor wait: wait for a change
	}{
		{name: "empty queue waits for work",
			p: Pending{Room: 4, MaxQueueDelay: 10 * ms}, now: t0, waitWork: true},
		{name: "no room waits for room",
			p: Pending{Lengths: []int{3}, Oldest: t0, Room: 0}, now: t0, waitWork: true},
		{name: "no delay runs at once",
			p: Pending{Lengths: []int{3, 4}, Oldest: t0, Room: 2}, now: t0, run: []int{0, 1}},
		{name: "young oldest item waits out the rest of the delay",
			p: Pending{Lengths: []int{3}, Oldest: t0, Room: 1, MaxQueueDelay: 10 * ms}, now: t0.Add(4 * ms), wait: 6 * ms},
		{name: "delay over runs",
			p: Pending{Lengths: []int{3}, Oldest: t0, Room: 1, MaxQueueDelay: 10 * ms}, now: t0.Add(10 * ms), run: []int{0}},
		{name: "full by size runs before the delay",
			p: Pending{Lengths: []int{1, 1, 1}, Oldest: t0, Room: 3, MaxQueueDelay: time.Hour, Limits: Limits{MaxBatchSize: 2}}, now: t0, run: []int{0, 1}},
		{name: "full by tokens runs before the delay",
			p: Pending{Lengths: []int{5, 6}, Oldest: t0, Room: 2, MaxQueueDelay: time.Hour, Limits: Limits{MaxBatchTokens: 11}}, now: t0, run: []int{0}},
		{name: "below the token budget waits",
			p: Pending{Lengths: []int{5, 5}, Oldest: t0, Room: 2, MaxQueueDelay: time.Hour, Limits: Limits{MaxBatchTokens: 11}}, now: t0, wait: time.Hour},
		{name: "more queued than room runs, capped by room",
			p: Pending{Lengths: []int{1, 1, 1}, Oldest: t0, Room: 2, MaxQueueDelay: time.Hour, Limits: Limits{MaxBatchSize: 8}}, now: t0, run: []int{0, 1}},
		{name: "room caps an unlimited batch size",
			p: Pending{Lengths: []int{1, 1, 1}, Oldest: t0, Room: 1}, now: t0, run: []int{0}},
		{name: "room beyond the queue does not cap",
			p: Pending{Lengths: []int{1, 1, 1}, Oldest: t0, Room: 1 << 30, Limits: Limits{MaxBatchSize: 8}}, now: t0, run: []int{0, 1, 2}},
		{name: "interactive item behind a batch job runs alone",
			p: Pending{Lengths: []int{1, 1, 1, 1, 1}, Low: []bool{true, true, true, true, false}, Oldest: t0, Room: 5, Limits: Limits{MaxBatchSize: 4}}, now: t0, run: []int{4}},
		{name: "queued batch job counts as company for an interactive item",
			p: Pending{Lengths: []int{1, 1, 1}, Low: []bool{true, true, false}, Oldest: t0, Room: 3, MaxQueueDelay: time.Hour, Limits: Limits{MaxBatchSize: 3}}, now: t0, run: []int{2}},
		{name: "low-priority items run when nothing interactive waits",
			p: Pending{Lengths: []int{1, 1, 1}, Low: []bool{true, true, true}, Oldest: t0, Room: 2}, now: t0, run: []int{0, 1}},
		{name: "a batch job leaves the reserve free",
			p: Pending{Lengths: []int{1, 1, 1, 1}, Low: []bool{true, true, true, true}, Oldest: t0, Room: 4, Reserve: 1}, now: t0, run: []int{0, 1, 2}},
		{name: "a batch job waits while only reserved places are free",
			p: Pending{Lengths: []int{1}, Low: []bool{true}, Oldest: t0, Room: 2, Reserve: 2}, now: t0, waitWork: true},
		{name: "interactive items take reserved places",
			p: Pending{Lengths: []int{1, 1, 1}, Low: []bool{true, false, false}, Oldest: t0, Room: 2, Reserve: 2}, now: t0, run: []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.p, tt.now)
			switch {
			case tt.run != nil:
				if !slices.Equal(got.Run, tt.run) || got.Wait != 0 {
					t.Fatalf("got %+v, want run %v", got, tt.run)
				}
			case tt.wait > 0:
				if got.Run != nil || got.Wait != tt.wait {
					t.Fatalf("got %+v, want wait %v", got, tt.wait)
				}
			case tt.waitWork:
				if got.Run != nil || got.Wait != 0 {
					t.Fatalf("got %+v, want wait for work", got)
				}
			}
		})
	}
}

package batch

import (
	"slices"
	"time"
)

// Pending is the state of a queue that Decide reads. It holds no clock:
// the caller passes the time to decide at.
type Pending struct {
	// Lengths is each queued item's cost in tokens, oldest first.
	Lengths []int
	// Low marks the low-priority items, index for index with Lengths; nil
	// means none is.
	Low []bool
	// Oldest is when Lengths[0] was queued.
	Oldest time.Time
	// Room is the most items that may start now (free places under a bound
	// on running items); a caller without such a bound passes
	// len(Lengths) or more. 0 means none may start.
	Room int
	// Reserve is how many of Room's places low-priority items may not
	// take: kept free for an interactive item that arrives while a batch
	// job fills the bound, so it starts at once instead of waiting for a
	// low-priority item to finish.
	Reserve int
	// Limits bound the batch; MaxQueueDelay is how long the oldest item may
	// wait for company, as in Config.
	Limits        Limits
	MaxQueueDelay time.Duration
}

// Decision is Decide's answer, one of three:
//   - Run is not empty: start a batch of these queue indices now, in
//     ascending order;
//   - Wait > 0: run nothing yet; decide again after Wait, or sooner when
//     the queue changes;
//   - neither: nothing can run; decide again when the queue or the room
//     changes.
type Decision struct {
	Run  []int
	Wait time.Duration
}

// Decide is the batching policy shared by Scheduler and Stepper, pure so
// it can be tested without a clock, in the manner of Triton's dynamic
// batcher. A batch runs once the oldest item has waited MaxQueueDelay, or
// sooner when waiting could not make it larger: the queue already fills
// MaxBatchSize or MaxBatchTokens, or holds more items than Room. The batch
// is packed by PackPriority within Limits and Room, so low-priority items
// run only when no interactive item waits.
func Decide(p Pending, now time.Time) Decision {
	n := len(p.Lengths)
	if n == 0 || p.Room <= 0 {
		return Decision{}
	}
	if age := now.Sub(p.Oldest); p.MaxQueueDelay > 0 && age < p.MaxQueueDelay && !companyHere(p) {
		return Decision{Wait: p.MaxQueueDelay - age}
	}
	low := p.Low
	if low == nil {
		low = make([]bool, n)
	}
	room := p.Room
	if !slices.Contains(low, false) { // a low-priority batch
		if room -= p.Reserve; room <= 0 {
			return Decision{}
		}
	}
	lim := p.Limits
	if room < n && (lim.MaxBatchSize <= 0 || lim.MaxBatchSize > room) {
		lim.MaxBatchSize = room
	}
	return Decision{Run: PackPriority(p.Lengths, low, lim)}
}

// companyHere reports whether the queue would fill a batch already, so
// waiting longer gains nothing.
func companyHere(p Pending) bool {
	n := len(p.Lengths)
	if n > p.Room {
		return true // more wait than may start
	}
	if p.Limits.MaxBatchSize > 0 && n >= p.Limits.MaxBatchSize {
		return true
	}
	if p.Limits.MaxBatchTokens <= 0 {
		return false
	}
	total := 0
	for _, l := range p.Lengths {
		total += l
	}
	return total >= p.Limits.MaxBatchTokens
}

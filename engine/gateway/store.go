package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Job states, as the Batch API reports them while polling.
const (
	StatusQueued  = "queued"
	StatusRunning = "running"
	StatusDone    = "done"
)

// Job is an async batch job's record. Its requests and per-item results are
// stored beside it.
type Job struct {
	ID     string `json:"id"`
	Model  string `json:"model"`
	Caller string `json:"caller"`
	Status string `json:"status"`
	Count  int    `json:"count"`
	// Refs are the requests' external_reference values, null where absent.
	Refs     []json.RawMessage `json:"refs"`
	Created  time.Time         `json:"created"`
	Finished time.Time         `json:"finished,omitzero"`
}

// JobStore keeps the batch queue, the requests of unfinished jobs and the
// results. Workers claim jobs under a lease they renew; a job whose lease
// lapses (its server died) is claimed again, and resumes from the items
// whose results were saved.
type JobStore interface {
	// Enqueue stores a queued job and its requests.
	Enqueue(ctx context.Context, job *Job, requests []json.RawMessage) error
	// Claim takes the job whose lease lapsed longest ago, else the oldest
	// queued one, marks it running for owner until the lease ends, and
	// returns it; nil when there is none.
	Claim(ctx context.Context, owner string, lease time.Duration) (*Job, error)
	// Renew extends owner's lease; false means the lease was lost.
	Renew(ctx context.Context, id, owner string, lease time.Duration) (bool, error)
	// Release hands a running job back at once (a server shutting down).
	Release(ctx context.Context, id, owner string) error
	// Requests returns the requests of an unfinished job.
	Requests(ctx context.Context, id string) ([]json.RawMessage, error)
	// SaveResult stores the result of item index.
	SaveResult(ctx context.Context, id string, index int, result []byte) error
	// Results returns the saved results by item index.
	Results(ctx context.Context, id string) (map[int][]byte, error)
	// Finish marks owner's job done and schedules its deletion after
	// retention; false means owner had lost the job.
	Finish(ctx context.Context, id, owner string, retention time.Duration) (bool, error)
	// Get returns a job, or nil when it is unknown or has expired.
	Get(ctx context.Context, id string) (*Job, error)
}

// Store is where the gateway keeps its state: the embedded store for one
// server, or Redis for a fleet.
type Store struct {
	Jobs    JobStore
	Cache   Cache
	Limiter Limiter
	Usage   Ledger
	// Shared is true when other servers see the same state, so workers poll
	// it for jobs submitted elsewhere.
	Shared bool
	close  func() error
}

// Close releases the store.
func (s *Store) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// errNoJob is returned for a job missing from the store mid-run.
var errNoJob = errors.New("batch job not found")

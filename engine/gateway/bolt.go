package gateway

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// StatePath is where the embedded store lives under $EDGEINFER_HOME.
func StatePath(home string) string { return filepath.Join(home, "state", "gateway.db") }

// Buckets of the embedded store.
var (
	bucketJobs     = []byte("jobs")     // id → boltJob (JSON)
	bucketRequests = []byte("requests") // id → requests of an unfinished job (JSON array)
	bucketResults  = []byte("results")  // id → bucket: item index (big-endian uint32) → result
	bucketQueue    = []byte("queue")    // sequence (big-endian uint64) → id, oldest first
	bucketRunning  = []byte("running")  // id → lease end (Unix nanoseconds, big-endian)
)

// boltJob is a Job with the store's bookkeeping.
type boltJob struct {
	Job
	Owner   string    `json:"owner,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// boltJobs is the embedded JobStore: one bbolt file, which one process at a
// time may open (bbolt locks it), so jobs that were running when that
// process stopped are claimable again as soon as it reopens.
type boltJobs struct {
	db   *bolt.DB
	now  func() time.Time
	stop chan struct{}
	done chan struct{}
}

// OpenLocal opens the one-server store: jobs in the bbolt file at path (its
// directory is created), the response cache, rate-limit buckets and usage
// in memory.
func OpenLocal(path string, cacheMaxBytes int64) (*Store, error) {
	jobs, err := openBoltJobs(path)
	if err != nil {
		return nil, err
	}
	return &Store{Jobs: jobs, Cache: newMemoryCache(cacheMaxBytes), Limiter: newMemoryLimiter(),
		Usage: newMemoryLedger(), close: jobs.Close}, nil
}

func openBoltJobs(path string) (*boltJobs, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s is in use by another edgeinfer server; give each server its own EDGEINFER_HOME, or share state through --redis", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the gateway store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketJobs, bucketRequests, bucketResults, bucketQueue, bucketRunning} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		// Whatever ran when the last process stopped is claimable at once.
		running := tx.Bucket(bucketRunning)
		return running.ForEach(func(id, _ []byte) error { return running.Put(id, nanos(time.Time{})) })
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the gateway store %s: %w", path, err)
	}
	j := &boltJobs{db: db, now: time.Now, stop: make(chan struct{}), done: make(chan struct{})}
	go j.sweepLoop()
	return j, nil
}

// Close stops the sweeper and closes the file.
func (j *boltJobs) Close() error {
	close(j.stop)
	<-j.done
	return j.db.Close()
}

func nanos(t time.Time) []byte {
	var b [8]byte
	if !t.IsZero() {
		binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano()))
	}
	return b[:]
}

func fromNanos(b []byte) time.Time {
	n := binary.BigEndian.Uint64(b)
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n))
}

func itemKey(index int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(index)) }

func getJob(tx *bolt.Tx, id string) (*boltJob, error) {
	raw := tx.Bucket(bucketJobs).Get([]byte(id))
	if raw == nil {
		return nil, nil
	}
	var j boltJob
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("batch job %s: %w", id, err)
	}
	return &j, nil
}

func putJob(tx *bolt.Tx, j *boltJob) error {
	raw, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketJobs).Put([]byte(j.ID), raw)
}

func (j *boltJobs) Enqueue(_ context.Context, job *Job, requests []json.RawMessage) error {
	reqs, err := json.Marshal(requests)
	if err != nil {
		return err
	}
	return j.db.Update(func(tx *bolt.Tx) error {
		if err := putJob(tx, &boltJob{Job: *job}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRequests).Put([]byte(job.ID), reqs); err != nil {
			return err
		}
		q := tx.Bucket(bucketQueue)
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		return q.Put(binary.BigEndian.AppendUint64(nil, seq), []byte(job.ID))
	})
}

func (j *boltJobs) Claim(_ context.Context, owner string, lease time.Duration) (*Job, error) {
	var claimed *Job
	err := j.db.Update(func(tx *bolt.Tx) error {
		now := j.now()
		id := j.lapsed(tx, now)
		if id == nil {
			c := tx.Bucket(bucketQueue).Cursor()
			k, v := c.First()
			if k == nil {
				return nil
			}
			id = append([]byte(nil), v...)
			if err := c.Delete(); err != nil {
				return err
			}
		}
		job, err := getJob(tx, string(id))
		if err != nil || job == nil {
			return err
		}
		job.Status, job.Owner = StatusRunning, owner
		if err := putJob(tx, job); err != nil {
			return err
		}
		claimed = &job.Job
		return tx.Bucket(bucketRunning).Put(id, nanos(now.Add(lease)))
	})
	return claimed, err
}

// lapsed returns the running job whose lease ended longest ago, if any.
func (j *boltJobs) lapsed(tx *bolt.Tx, now time.Time) []byte {
	var oldestID []byte
	var oldest time.Time
	_ = tx.Bucket(bucketRunning).ForEach(func(id, until []byte) error {
		if t := fromNanos(until); t.Before(now) && (oldestID == nil || t.Before(oldest)) {
			oldestID, oldest = append([]byte(nil), id...), t
		}
		return nil
	})
	return oldestID
}

func (j *boltJobs) Renew(_ context.Context, id, owner string, lease time.Duration) (bool, error) {
	ok := false
	err := j.db.Update(func(tx *bolt.Tx) error {
		job, err := getJob(tx, id)
		if err != nil || job == nil || job.Owner != owner || job.Status != StatusRunning {
			return err
		}
		ok = true
		return tx.Bucket(bucketRunning).Put([]byte(id), nanos(j.now().Add(lease)))
	})
	return ok, err
}

func (j *boltJobs) Release(_ context.Context, id, owner string) error {
	return j.db.Update(func(tx *bolt.Tx) error {
		job, err := getJob(tx, id)
		if err != nil || job == nil || job.Owner != owner || job.Status != StatusRunning {
			return err
		}
		job.Status, job.Owner = StatusQueued, ""
		if err := putJob(tx, job); err != nil {
			return err
		}
		return tx.Bucket(bucketRunning).Put([]byte(id), nanos(time.Time{}))
	})
}

func (j *boltJobs) Requests(_ context.Context, id string) ([]json.RawMessage, error) {
	var reqs []json.RawMessage
	err := j.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketRequests).Get([]byte(id))
		if raw == nil {
			return errNoJob
		}
		return json.Unmarshal(raw, &reqs)
	})
	return reqs, err
}

// SaveResult goes through bbolt's Batch, which commits concurrent saves of
// a job's items together: one fsync for many items.
func (j *boltJobs) SaveResult(_ context.Context, id string, index int, result []byte) error {
	return j.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketResults).CreateBucketIfNotExists([]byte(id))
		if err != nil {
			return err
		}
		return b.Put(itemKey(index), result)
	})
}

func (j *boltJobs) Results(_ context.Context, id string) (map[int][]byte, error) {
	out := map[int][]byte{}
	err := j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResults).Bucket([]byte(id))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[int(binary.BigEndian.Uint32(k))] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}

func (j *boltJobs) Finish(_ context.Context, id, owner string, retention time.Duration) (bool, error) {
	ok := false
	err := j.db.Update(func(tx *bolt.Tx) error {
		job, err := getJob(tx, id)
		if err != nil || job == nil || job.Owner != owner || job.Status != StatusRunning {
			return err
		}
		now := j.now()
		job.Status, job.Owner, job.Finished, job.Expires = StatusDone, "", now, now.Add(retention)
		if err := putJob(tx, job); err != nil {
			return err
		}
		ok = true
		if err := tx.Bucket(bucketRunning).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bucketRequests).Delete([]byte(id))
	})
	return ok, err
}

func (j *boltJobs) Get(_ context.Context, id string) (*Job, error) {
	var out *Job
	err := j.db.View(func(tx *bolt.Tx) error {
		job, err := getJob(tx, id)
		if err != nil || job == nil || (!job.Expires.IsZero() && !j.now().Before(job.Expires)) {
			return err
		}
		out = &job.Job
		return nil
	})
	return out, err
}

// sweepInterval is how often finished jobs past their retention are deleted.
const sweepInterval = time.Minute

func (j *boltJobs) sweepLoop() {
	defer close(j.done)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			_ = j.sweep()
		}
	}
}

// sweep deletes finished jobs whose retention has passed, with their results.
func (j *boltJobs) sweep() error {
	return j.db.Update(func(tx *bolt.Tx) error {
		now := j.now()
		var expired [][]byte
		err := tx.Bucket(bucketJobs).ForEach(func(id, raw []byte) error {
			var job boltJob
			if json.Unmarshal(raw, &job) == nil && !job.Expires.IsZero() && !now.Before(job.Expires) {
				expired = append(expired, append([]byte(nil), id...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range expired {
			if err := tx.Bucket(bucketJobs).Delete(id); err != nil {
				return err
			}
			if err := tx.Bucket(bucketResults).DeleteBucket(id); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
		}
		return nil
	})
}

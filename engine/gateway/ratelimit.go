package gateway

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Limiter keeps token buckets. A bucket holds up to rpm requests and
// refills at rpm per minute, so a burst may use a whole minute's allowance
// at once and the long-run rate is rpm.
type Limiter interface {
	// Take spends one request from the bucket named key. When the bucket is
	// empty it spends nothing and returns how long until a request is
	// available.
	Take(ctx context.Context, key string, rpm int) (wait time.Duration, err error)
}

// bucket is a token bucket's state: tokens left at time at.
type bucket struct {
	tokens float64
	at     time.Time
}

// take is the token-bucket decision, shared by every Limiter (the Redis
// script mirrors it): refill for the time since b.at, then spend one token
// or report the wait for the next. A zero bucket is a full one.
func take(b bucket, now time.Time, rpm int) (bucket, time.Duration) {
	capacity := float64(rpm)
	perSecond := capacity / 60
	if b.at.IsZero() {
		b = bucket{tokens: capacity, at: now}
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(capacity, b.tokens+elapsed*perSecond)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return b, 0
	}
	return b, time.Duration(math.Ceil((1 - b.tokens) / perSecond * float64(time.Second)))
}

// maxIdleBuckets bounds memoryLimiter's map; beyond it, buckets that have
// refilled completely are forgotten (a forgotten bucket is a full one), at
// most once a minute so that many busy callers do not make every request
// scan the map.
const maxIdleBuckets = 10000

// memoryLimiter is the one-server Limiter.
type memoryLimiter struct {
	now      func() time.Time
	mu       sync.Mutex
	buckets  map[string]bucket
	lastTidy time.Time
}

func newMemoryLimiter() *memoryLimiter {
	return &memoryLimiter{now: time.Now, buckets: map[string]bucket{}}
}

func (l *memoryLimiter) Take(_ context.Context, key string, rpm int) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) > maxIdleBuckets && now.Sub(l.lastTidy) >= time.Minute {
		l.lastTidy = now
		for k, b := range l.buckets {
			if now.Sub(b.at) >= time.Minute {
				delete(l.buckets, k)
			}
		}
	}
	b, wait := take(l.buckets[key], now, rpm)
	l.buckets[key] = b
	return wait, nil
}

// rpmFor is a model's requests-per-minute limit: the configured override,
// else the catalog's per-model figure, else the task's; 0 means unlimited.
func rpmFor(cat *engine.Catalog, cfg engine.Config, entry *engine.Entry) int {
	if rpm := cfg.Models[entry.ID].RPM; rpm > 0 {
		return rpm
	}
	if entry.RPM > 0 {
		return entry.RPM
	}
	return cat.Tasks[entry.Task].RPM
}

// rateLimited is the 429 a caller over its limit gets.
func rateLimited(model string, rpm int, wait time.Duration) error {
	return &engine.Error{Kind: engine.KindCapacity, RetryAfter: wait,
		Message: fmt.Sprintf("Rate limited: %s allows %d requests per minute per API token, please try again later.", model, rpm)}
}

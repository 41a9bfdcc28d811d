package gateway

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Cache statuses, as AI Gateway sends them in cf-aig-cache-status.
const (
	CacheHit  = "HIT"
	CacheMiss = "MISS"
)

// CacheOptions are a request's AI Gateway cache controls: the
// cf-aig-cache-ttl, cf-aig-skip-cache and cf-aig-cache-key headers, or the
// binding's options.gateway {cacheTtl, skipCache, cacheKey}.
type CacheOptions struct {
	// TTL, when positive, caches this response for that long; zero falls back
	// to the configured default.
	TTL time.Duration
	// Skip neither reads nor writes the cache for this request.
	Skip bool
	// Key replaces the key computed from the input (still per model).
	Key string
}

// Cache stores serialized responses under opaque keys for a TTL.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// deterministic reports whether a decoded input always yields the same
// output, the condition for caching it: embeddings, classification and
// translation always; text generation only with a seed or at temperature 0,
// and never streamed.
func deterministic(value any) bool {
	switch v := value.(type) {
	case *engine.EmbeddingsInput, *engine.ImageInput, *engine.TranslationInput:
		return true
	case *engine.GenerationInput:
		return !v.Stream && (v.Seed != nil || v.Temperature == 0)
	}
	return false
}

// cacheKey derives a request's cache key from the model, the decoded input
// (so key order and defaults in the JSON do not matter) and its parameters,
// or from the caller's own key.
func cacheKey(model string, value any, custom string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "edgeinfer-cache-v1\x00%s\x00", model)
	if custom != "" {
		fmt.Fprintf(h, "custom\x00%s", custom)
	} else {
		raw, err := json.Marshal(value)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%T\x00", value)
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// memoryCache is the one-server Cache: an LRU bounded in bytes, with a TTL
// per entry.
type memoryCache struct {
	maxBytes int64
	now      func() time.Time

	mu    sync.Mutex
	bytes int64
	order *list.List // front: most recently used
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key     string
	value   []byte
	expires time.Time
}

func newMemoryCache(maxBytes int64) *memoryCache {
	return &memoryCache{maxBytes: maxBytes, now: time.Now, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *memoryCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		return nil, false, nil
	}
	c.order.MoveToFront(el)
	return e.value, true, nil
}

func (c *memoryCache) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	size := entrySize(key, value)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.remove(el)
	}
	if size > c.maxBytes || ttl <= 0 {
		return nil // larger than the whole cache: not worth evicting everything for
	}
	for c.bytes+size > c.maxBytes {
		c.remove(c.order.Back())
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, value: value, expires: c.now().Add(ttl)})
	c.bytes += size
	return nil
}

func (c *memoryCache) remove(el *list.Element) {
	e := c.order.Remove(el).(*cacheEntry)
	delete(c.byKey, e.key)
	c.bytes -= entrySize(e.key, e.value)
}

func entrySize(key string, value []byte) int64 { return int64(len(key) + len(value)) }

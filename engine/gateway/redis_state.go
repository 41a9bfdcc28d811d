package gateway

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Keys of the shared cache: one string per entry (with Redis's own TTL), and
// the bookkeeping that bounds the total size and orders eviction.
const (
	redisCacheEntry = keyPrefix + "cache:v:"      // + key → response
	redisCacheLRU   = keyPrefix + "cache:lru"     // sorted set: key → last use (a tick of redisCacheClock)
	redisCacheClock = keyPrefix + "cache:clock"   // counter ordering uses; time could tie within a millisecond
	redisCacheExp   = keyPrefix + "cache:expires" // sorted set: key → expiry (Unix ms)
	redisCacheSize  = keyPrefix + "cache:size"    // hash: key → entry bytes
	redisCacheBytes = keyPrefix + "cache:bytes"   // total bytes of live entries
)

// redisCache is the fleet Cache: an LRU bounded in bytes across all servers,
// kept in Redis by scripts so that concurrent servers never double-count.
type redisCache struct {
	c        *redis.Client
	maxBytes int64
}

var cacheGetScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then redis.call('ZADD', KEYS[2], 'XX', redis.call('INCR', KEYS[3]), ARGV[1]) end
return v`)

func (r *redisCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := cacheGetScript.Run(ctx, r.c, []string{redisCacheEntry + key, redisCacheLRU, redisCacheClock}, key).Text()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return []byte(v), true, nil
}

// cachePutScript stores an entry, first forgetting expired entries (a few
// per call) and then the least recently used ones until the new entry fits.
var cachePutScript = redis.NewScript(nowMs + `
local function forget(m)
  local size = tonumber(redis.call('HGET', KEYS[3], m) or '0')
  redis.call('HDEL', KEYS[3], m)
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
  redis.call('DEL', ARGV[5] .. m)
  if size > 0 then redis.call('DECRBY', KEYS[4], size) end
end
local key, size, ttl, max = ARGV[1], string.len(ARGV[2]) + string.len(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
forget(key)
if size > max then return 0 end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 64)) do forget(m) end
while tonumber(redis.call('GET', KEYS[4]) or '0') + size > max do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then break end
  forget(oldest[1])
end
redis.call('SET', ARGV[5] .. key, ARGV[2], 'PX', ttl)
redis.call('HSET', KEYS[3], key, size)
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[5]), key)
redis.call('ZADD', KEYS[2], now + ttl, key)
redis.call('INCRBY', KEYS[4], size)
return 1`)

func (r *redisCache) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	return cachePutScript.Run(ctx, r.c, []string{redisCacheLRU, redisCacheExp, redisCacheSize, redisCacheBytes, redisCacheClock},
		key, value, ttl.Milliseconds(), r.maxBytes, redisCacheEntry).Err()
}

// redisLimiter is the fleet Limiter: take() as a script on one hash per
// bucket, which expires once it would have refilled anyway.
type redisLimiter struct{ c *redis.Client }

var takeScript = redis.NewScript(nowMs + `
local capacity = tonumber(ARGV[1])
local perMs = capacity / 60000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, at = capacity, now end
if now > at then tokens = math.min(capacity, tokens + (now - at) * perMs) end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / perMs) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return wait`)

func (r *redisLimiter) Take(ctx context.Context, key string, rpm int) (time.Duration, error) {
	ms, err := takeScript.Run(ctx, r.c, []string{keyPrefix + "ratelimit:" + key}, rpm).Int64()
	return time.Duration(ms) * time.Millisecond, err
}

// Usage keys: a set of callers, and per caller a hash of "model\x1ffield".
const (
	redisUsageCallers = keyPrefix + "usage:callers"
	redisUsage        = keyPrefix + "usage:"
)

// redisLedger is the fleet Ledger: counters every server adds to.
type redisLedger struct{ c *redis.Client }

func (r *redisLedger) Add(ctx context.Context, caller, model string, u Usage) error {
	key := redisUsage + caller
	f := func(name string) string { return model + "\x1f" + name }
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, redisUsageCallers, caller)
		for name, v := range map[string]int64{"requests": u.Requests, "cached_requests": u.CachedRequests,
			"prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens, "images": u.Images,
			"characters_in": u.CharactersIn, "characters_out": u.CharactersOut} {
			if v != 0 {
				p.HIncrBy(ctx, key, f(name), v)
			}
		}
		for name, v := range map[string]float64{"neurons": u.Neurons, "audio_seconds": u.AudioSeconds} {
			if v != 0 {
				p.HIncrByFloat(ctx, key, f(name), v)
			}
		}
		return nil
	})
	return err
}

func (r *redisLedger) Report(ctx context.Context) (map[string]map[string]Usage, error) {
	callers, err := r.c.SMembers(ctx, redisUsageCallers).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]Usage, len(callers))
	for _, caller := range callers {
		fields, err := r.c.HGetAll(ctx, redisUsage+caller).Result()
		if err != nil {
			return nil, err
		}
		byModel := map[string]Usage{}
		for field, v := range fields {
			model, name, ok := strings.Cut(field, "\x1f")
			if !ok {
				continue
			}
			u := byModel[model]
			setUsageField(&u, name, v)
			byModel[model] = u
		}
		out[caller] = byModel
	}
	return out, nil
}

// setUsageField sets one counter of u from its Redis hash value.
func setUsageField(u *Usage, name, v string) {
	switch name {
	case "neurons":
		u.Neurons, _ = strconv.ParseFloat(v, 64)
		return
	case "audio_seconds":
		u.AudioSeconds, _ = strconv.ParseFloat(v, 64)
		return
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	switch name {
	case "requests":
		u.Requests = n
	case "cached_requests":
		u.CachedRequests = n
	case "prompt_tokens":
		u.PromptTokens = n
	case "completion_tokens":
		u.CompletionTokens = n
	case "images":
		u.Images = n
	case "characters_in":
		u.CharactersIn = n
	case "characters_out":
		u.CharactersOut = n
	}
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// keyPrefix starts every key edgeinfer writes to Redis, so a Redis shared
// with other applications stays tidy. Scripts touch keys they derive from
// it, so edgeinfer needs a single Redis (or a primary with replicas), not a
// Redis Cluster.
const keyPrefix = "edgeinfer:"

// Keys of the Redis store.
const (
	redisQueue  = keyPrefix + "jobs:queue"  // list of queued job IDs: LPUSH in, RPOP out
	redisLeases = keyPrefix + "jobs:leases" // sorted set: running job ID → lease end (Unix ms)
	redisJob    = keyPrefix + "job:"        // hash per job; + ":requests" and ":results"
)

func jobKey(id string) string      { return redisJob + id }
func requestsKey(id string) string { return redisJob + id + ":requests" }
func resultsKey(id string) string  { return redisJob + id + ":results" }

// OpenRedis connects to the Redis at url and returns the fleet store: jobs,
// results, the response cache, rate-limit buckets and usage all live
// there, so every server pointed at it shares them.
func OpenRedis(ctx context.Context, url string, cacheMaxBytes int64) (*Store, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	client := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("connecting to Redis at %s: %w", opts.Addr, err)
	}
	return &Store{
		Jobs:    &redisJobs{c: client},
		Cache:   &redisCache{c: client, maxBytes: cacheMaxBytes},
		Limiter: &redisLimiter{c: client},
		Usage:   &redisLedger{c: client},
		Shared:  true,
		close:   client.Close,
	}, nil
}

// nowMs is the Lua preamble that reads Redis's clock, so every server
// agrees on lease and TTL times whatever its own clock says.
const nowMs = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// redisJobs is the fleet JobStore.
type redisJobs struct{ c *redis.Client }

// jobFields writes a Job as hash fields.
func jobFields(j *Job) ([]any, error) {
	refs, err := json.Marshal(j.Refs)
	if err != nil {
		return nil, err
	}
	return []any{"id", j.ID, "model", j.Model, "caller", j.Caller, "status", j.Status, "count", j.Count,
		"refs", refs, "created", j.Created.UnixMilli()}, nil
}

func jobFromFields(m map[string]string) (*Job, error) {
	count, err := strconv.Atoi(m["count"])
	if err != nil {
		return nil, fmt.Errorf("batch job %s: count %q", m["id"], m["count"])
	}
	j := &Job{ID: m["id"], Model: m["model"], Caller: m["caller"], Status: m["status"], Count: count}
	if err := json.Unmarshal([]byte(m["refs"]), &j.Refs); err != nil {
		return nil, fmt.Errorf("batch job %s: refs: %w", j.ID, err)
	}
	if ms, err := strconv.ParseInt(m["created"], 10, 64); err == nil {
		j.Created = time.UnixMilli(ms)
	}
	if ms, err := strconv.ParseInt(m["finished"], 10, 64); err == nil {
		j.Finished = time.UnixMilli(ms)
	}
	return j, nil
}

func (r *redisJobs) Enqueue(ctx context.Context, job *Job, requests []json.RawMessage) error {
	fields, err := jobFields(job)
	if err != nil {
		return err
	}
	reqs, err := json.Marshal(requests)
	if err != nil {
		return err
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, jobKey(job.ID), fields...)
		p.Set(ctx, requestsKey(job.ID), reqs, 0)
		p.LPush(ctx, redisQueue, job.ID)
		return nil
	})
	return err
}

var claimScript = redis.NewScript(nowMs + `
local id
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1)
if #lapsed > 0 then id = lapsed[1] else id = redis.call('RPOP', KEYS[1]) end
if not id then return false end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
redis.call('HSET', ARGV[3] .. id, 'status', 'running', 'owner', ARGV[1])
return id`)

func (r *redisJobs) Claim(ctx context.Context, owner string, lease time.Duration) (*Job, error) {
	id, err := claimScript.Run(ctx, r.c, []string{redisQueue, redisLeases}, owner, lease.Milliseconds(), redisJob).Text()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, id)
}

var renewScript = redis.NewScript(nowMs + `
if redis.call('HGET', KEYS[2], 'owner') ~= ARGV[2] or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1`)

func (r *redisJobs) Renew(ctx context.Context, id, owner string, lease time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, r.c, []string{redisLeases, jobKey(id)}, id, owner, lease.Milliseconds()).Int()
	return n == 1, err
}

var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], 'owner') ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('HSET', KEYS[2], 'status', 'queued', 'owner', '')
return 1`)

func (r *redisJobs) Release(ctx context.Context, id, owner string) error {
	return releaseScript.Run(ctx, r.c, []string{redisLeases, jobKey(id)}, id, owner).Err()
}

func (r *redisJobs) Requests(ctx context.Context, id string) ([]json.RawMessage, error) {
	raw, err := r.c.Get(ctx, requestsKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, errNoJob
	}
	if err != nil {
		return nil, err
	}
	var reqs []json.RawMessage
	return reqs, json.Unmarshal(raw, &reqs)
}

func (r *redisJobs) SaveResult(ctx context.Context, id string, index int, result []byte) error {
	return r.c.HSet(ctx, resultsKey(id), strconv.Itoa(index), result).Err()
}

func (r *redisJobs) Results(ctx context.Context, id string) (map[int][]byte, error) {
	m, err := r.c.HGetAll(ctx, resultsKey(id)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[int][]byte, len(m))
	for k, v := range m {
		i, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("batch job %s: result key %q", id, k)
		}
		out[i] = []byte(v)
	}
	return out, nil
}

var finishScript = redis.NewScript(nowMs + `
if redis.call('HGET', KEYS[2], 'owner') ~= ARGV[2] or redis.call('HGET', KEYS[2], 'status') ~= 'running' then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[2], 'status', 'done', 'owner', '', 'finished', now)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return 1`)

func (r *redisJobs) Finish(ctx context.Context, id, owner string, retention time.Duration) (bool, error) {
	n, err := finishScript.Run(ctx, r.c, []string{redisLeases, jobKey(id), requestsKey(id), resultsKey(id)},
		id, owner, retention.Milliseconds()).Int()
	return n == 1, err
}

func (r *redisJobs) Get(ctx context.Context, id string) (*Job, error) {
	m, err := r.c.HGetAll(ctx, jobKey(id)).Result()
	if err != nil || len(m) == 0 {
		return nil, err
	}
	return jobFromFields(m)
}

package engine

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfigReadsTheGatewaySection(t *testing.T) {
	raw := `
gateway:
  redis: redis://10.0.0.5:6379/2
  rate_limit: true
  cache_ttl: 1h
  cache_max_bytes: 1048576
  job_retention: 48h
  batch_workers: 2
models:
  "@cf/baai/bge-small-en-v1.5": { rpm: 60 }
`
	cfg := DefaultConfig()
	if err := ParseConfig("edgeinfer.yaml", []byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	g := cfg.Gateway
	if g.Redis != "redis://10.0.0.5:6379/2" || !g.RateLimit || time.Duration(g.CacheTTL) != time.Hour ||
		g.CacheMaxBytes != 1<<20 || time.Duration(g.JobRetention) != 48*time.Hour || g.BatchWorkers != 2 {
		t.Fatalf("gateway = %+v", g)
	}
	if g.BatchConcurrency != DefaultBatchConcurrency {
		t.Fatalf("unset keys must keep defaults, batch_concurrency = %d", g.BatchConcurrency)
	}
	if cfg.Models["@cf/baai/bge-small-en-v1.5"].RPM != 60 {
		t.Fatalf("rpm override = %+v", cfg.Models["@cf/baai/bge-small-en-v1.5"])
	}
}

func TestGatewayDefaultsLeaveRateLimitsOffAndCacheOnRequest(t *testing.T) {
	g := DefaultConfig().Gateway
	if g.RateLimit || g.CacheTTL != 0 || g.Redis != "" {
		t.Fatalf("defaults = %+v", g)
	}
	if g.CacheMaxBytes <= 0 || g.JobRetention <= 0 || g.BatchWorkers < 1 || g.BatchConcurrency < 1 {
		t.Fatalf("defaults = %+v", g)
	}
}

func TestGatewayConfigErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"unknown key", "gateway:\n  cache: 1h\n", []string{"edgeinfer.yaml", "line 2", "cache"}},
		{"not a redis url", "gateway:\n  redis: http://x:6379\n", []string{"edgeinfer.yaml", "line 2", "gateway.redis", "http://x:6379"}},
		{"redis without host", "gateway:\n  redis: \"redis://\"\n", []string{"line 2", "gateway.redis", "host"}},
		{"bad ttl", "gateway:\n\n  cache_ttl: forever\n", []string{"line 3", "forever"}},
		{"negative ttl", "gateway:\n  cache_ttl: -5s\n", []string{"line 2", "gateway.cache_ttl"}},
		{"negative size", "gateway:\n  cache_max_bytes: -1\n", []string{"line 2", "gateway.cache_max_bytes"}},
		{"no workers", "gateway:\n  batch_workers: 0\n", []string{"line 2", "gateway.batch_workers"}},
		{"negative rpm", "models:\n  \"@cf/baai/bge-base-en-v1.5\":\n    rpm: -3\n", []string{"line 3", "rpm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			err := ParseConfig("edgeinfer.yaml", []byte(tt.raw), &cfg)
			if err == nil {
				t.Fatal("accepted an invalid config")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestCheckRedisURL(t *testing.T) {
	for _, ok := range []string{"", "redis://127.0.0.1:6379", "rediss://user:pw@cache.internal:6380/1", "unix:///run/redis.sock"} {
		if err := CheckRedisURL(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"127.0.0.1:6379", "redis://", "unix://", "memcached://x"} {
		if err := CheckRedisURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

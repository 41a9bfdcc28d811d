package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway"
)

// requestOptions are a Workers AI call's options: the engine's, and the
// Batch API's and AI Gateway's.
type requestOptions struct {
	engine.RunOptions
	gateway gatewayOptions
}

// gatewayOptions are options.queueRequest and options.gateway (or the
// ?queueRequest= query and the cf-aig-* headers).
type gatewayOptions struct {
	queue bool
	cache gateway.CacheOptions
}

// parseRequestOptions reads the binding options / REST "options" object.
func parseRequestOptions(raw json.RawMessage) (requestOptions, error) {
	run, err := parseOptions(raw)
	if err != nil {
		return requestOptions{}, err
	}
	opts := requestOptions{RunOptions: run}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return opts, nil
	}
	var o struct {
		QueueRequest json.RawMessage `json:"queueRequest"`
		Gateway      *struct {
			CacheTTL  *float64        `json:"cacheTtl"`
			SkipCache json.RawMessage `json:"skipCache"`
			CacheKey  string          `json:"cacheKey"`
		} `json:"gateway"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return opts, engine.BadInput("options.gateway", "must be an object {id, cacheTtl, skipCache, cacheKey}")
	}
	if len(o.QueueRequest) > 0 {
		if opts.gateway.queue, err = parseBool(o.QueueRequest); err != nil {
			return opts, engine.BadInput("options.queueRequest", "must be a boolean")
		}
	}
	if g := o.Gateway; g != nil {
		if g.CacheTTL != nil {
			if *g.CacheTTL < 0 {
				return opts, engine.BadInput("options.gateway.cacheTtl", "must be a number of seconds, not negative")
			}
			opts.gateway.cache.TTL = time.Duration(*g.CacheTTL * float64(time.Second))
		}
		if len(g.SkipCache) > 0 {
			if opts.gateway.cache.Skip, err = parseBool(g.SkipCache); err != nil {
				return opts, engine.BadInput("options.gateway.skipCache", "must be a boolean")
			}
		}
		opts.gateway.cache.Key = g.CacheKey
	}
	return opts, nil
}

// applyGatewayHeaders reads AI Gateway's cache headers, which win over the
// options: cf-aig-cache-ttl (seconds), cf-aig-skip-cache (or its old name
// cf-skip-cache) and cf-aig-cache-key.
func applyGatewayHeaders(h http.Header, o *gatewayOptions) error {
	if v := h.Get("cf-aig-cache-ttl"); v != "" {
		secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || secs < 0 {
			return engine.BadInput("cf-aig-cache-ttl", "must be a whole number of seconds, got %q", v)
		}
		o.cache.TTL = time.Duration(secs) * time.Second
	}
	for _, name := range []string{"cf-aig-skip-cache", "cf-skip-cache"} {
		if v := h.Get(name); v != "" {
			skip, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return engine.BadInput(name, "must be true or false, got %q", v)
			}
			o.cache.Skip = o.cache.Skip || skip
		}
	}
	if v := h.Get("cf-aig-cache-key"); v != "" {
		o.cache.Key = v
	}
	return nil
}

// parseOptions reads the binding options / REST "options" object.
func parseOptions(raw json.RawMessage) (engine.RunOptions, error) {
	var opts engine.RunOptions
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return opts, nil
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(raw, &o); err != nil {
		return opts, engine.BadInput("options", "must be an object")
	}
	if v, ok := o["rejectIfBusy"]; ok {
		b, err := parseBool(v)
		if err != nil {
			return opts, engine.BadInput("options.rejectIfBusy", "must be a boolean")
		}
		opts.RejectIfBusy = b
	}
	if v, ok := o["keep_alive"]; ok && !bytes.Equal(v, []byte("null")) {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v) // a number of seconds
		}
		d, err := engine.ParseDuration(s)
		if err != nil {
			return opts, engine.BadInput("options.keep_alive", "must be a duration such as \"5m\" or a number of seconds")
		}
		opts.KeepAliveFor = &d
	}
	return opts, nil
}

func parseBool(raw json.RawMessage) (bool, error) {
	switch string(bytes.TrimSpace(raw)) {
	case "true", `"true"`:
		return true, nil
	case "false", `"false"`, "null":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %s", raw)
}

func optionsFromQuery(q url.Values) engine.RunOptions {
	return engine.RunOptions{RejectIfBusy: q.Get("rejectIfBusy") == "true"}
}

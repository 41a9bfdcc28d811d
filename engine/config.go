package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine/home"
	"gopkg.in/yaml.v3"
)

// Config is edgeinfer's configuration: defaults, then the config file, then
// EDGEINFER_* variables, then command-line flags (applied by the CLI).
type Config struct {
	// Home holds installed runtimes, model artifacts and state (EDGEINFER_HOME).
	Home string `yaml:"home"`
	// Device is the default device of the ONNX models: cpu (the default),
	// cuda or cuda:N. A model's own device overrides it.
	Device string `yaml:"device"`
	// RequireDevice makes every model that cannot run on its device fail
	// to load, instead of falling back to the CPU with a warning.
	RequireDevice bool `yaml:"require_device"`
	// Calibrate measures the batch sizes (and, for ResNet, the split of the
	// cores into sessions × threads) of each ONNX model when it loads, and
	// caches the result under state/calibration (default true). A model's
	// own calibrate overrides it.
	Calibrate *bool                  `yaml:"calibrate"`
	Server    ServerConfig           `yaml:"server"`
	Gateway   GatewayConfig          `yaml:"gateway"`
	Models    map[string]ModelConfig `yaml:"models"`
}

// GatewayConfig configures what edgeinfer offers of Workers AI's Batch API
// and AI Gateway: async batch jobs, the response cache, rate limits, usage,
// and the store that several servers can share.
type GatewayConfig struct {
	// Redis is a redis://, rediss:// or unix:// URL. When set, batch jobs,
	// their results, the response cache, rate-limit counters and per-token
	// usage live in Redis, so servers pointed at the same one act as one.
	// Empty means the embedded store, $EDGEINFER_HOME/state/gateway.db.
	Redis string `yaml:"redis"`
	// RateLimit turns on token buckets per API token and model at Workers
	// AI's requests per minute (the catalog's rpm, or models.<id>.rpm). Off by
	// default: a local tool should not throttle its own benchmarks.
	RateLimit bool `yaml:"rate_limit"`
	// CacheTTL caches deterministic responses for this long when a request
	// names no TTL (cf-aig-cache-ttl, options.gateway.cacheTtl); 0 caches
	// only the requests that ask for it.
	CacheTTL Duration `yaml:"cache_ttl"`
	// CacheMaxBytes bounds the response cache; the least recently used
	// entries are evicted first.
	CacheMaxBytes int64 `yaml:"cache_max_bytes"`
	// JobRetention is how long the results of a finished batch job are kept.
	JobRetention Duration `yaml:"job_retention"`
	// BatchWorkers is how many batch jobs one server runs at a time.
	BatchWorkers int `yaml:"batch_workers"`
	// BatchConcurrency is how many items of one job are in flight at a time,
	// which is what the model's scheduler can batch together.
	BatchConcurrency int `yaml:"batch_concurrency"`
}

// ServerConfig configures the HTTP listener.
type ServerConfig struct {
	Addr            string   `yaml:"addr"`
	APIToken        string   `yaml:"api_token"`
	MaxBodyBytes    int64    `yaml:"max_body_bytes"`
	RequestTimeout  Duration `yaml:"request_timeout"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// OllamaHost points at a running Ollama server; empty means edgeinfer
	// manages its own (OLLAMA_HOST is honoured too).
	OllamaHost string `yaml:"ollama_host"`
	// KeepAlive is how long an idle model stays loaded (default 5m; negative:
	// forever; 0: unload after each request). Models may override it.
	KeepAlive *Duration `yaml:"keep_alive"`
	// MaxLoadedModels and MaxResidentBytes bound what stays loaded; the least
	// recently used idle model is evicted first. 0 means no bound.
	MaxLoadedModels  int   `yaml:"max_loaded_models"`
	MaxResidentBytes int64 `yaml:"max_resident_bytes"`
	// MaxImagePixels refuses images whose header declares more pixels
	// (decompression bombs); 0 means 40 megapixels.
	MaxImagePixels int64 `yaml:"max_image_pixels"`
	// RetiredModels says how model IDs that Workers AI retired answer:
	// "serve" (the default) runs them on their original model or the
	// successor Cloudflare named; "refuse" answers as Workers AI does now
	// (400/5007 "No such model"), for testing that code has migrated.
	RetiredModels string `yaml:"retired_models"`
}

// Retired-model policies (ServerConfig.RetiredModels).
const (
	RetiredServe  = "serve"
	RetiredRefuse = "refuse"
)

// ModelConfig overrides a catalog entry or defines a custom model. Zero
// values mean "use the default".
type ModelConfig struct {
	Task        Task   `yaml:"task"`
	Backend     string `yaml:"backend"`
	Description string `yaml:"description"`
	// Dir is where the model's artifacts live (default $EDGEINFER_HOME/models/<ID>).
	Dir string `yaml:"dir"`
	// Ollama is the Ollama tag serving an LLM.
	Ollama string `yaml:"ollama"`
	// Device is cpu, cuda or cuda:N (default: the top-level device).
	Device string `yaml:"device"`
	// RequireDevice fails the load instead of falling back to the CPU.
	RequireDevice bool `yaml:"require_device"`
	// CUDA tunes ONNX Runtime's CUDA execution provider for this model.
	CUDA CUDAConfig `yaml:"cuda"`
	// Variant picks the weight file: fp32, int8 or fp16.
	Variant string `yaml:"variant"`
	// Calibrate overrides the top-level calibrate for this model; explicit
	// max_batch_size, max_batch_tokens and intra_op_threads are kept
	// whether it is on or not.
	Calibrate             *bool    `yaml:"calibrate"`
	MaxBatchTokens        int      `yaml:"max_batch_tokens"`
	MaxBatchSize          int      `yaml:"max_batch_size"`
	MaxQueueDelay         Duration `yaml:"max_queue_delay"`
	MaxConcurrentRequests int      `yaml:"max_concurrent_requests"`
	IntraOpThreads        int      `yaml:"intra_op_threads"`
	InterOpThreads        int      `yaml:"inter_op_threads"`
	// JPEGDCTScaling lets an image model decode a JPEG at 1/2, 1/4 or 1/8
	// of its size (libjpeg-turbo's DCT scaling, as Pillow's draft) when
	// the resize target is that much smaller: much faster, but the pixels
	// are no longer those of transformers' full decode. Off by default.
	JPEGDCTScaling bool `yaml:"jpeg_dct_scaling"`
	// NumBeams and MaxLength override a generation model's
	// generation_config.json (translation: 5 beams, 200 tokens); 1 beam is
	// greedy search.
	NumBeams  int `yaml:"num_beams"`
	MaxLength int `yaml:"max_length"`
	// KeepAlive overrides server.keep_alive for this model.
	KeepAlive *Duration `yaml:"keep_alive"`
	// Preload loads the model when the server starts.
	Preload bool `yaml:"preload"`
	// RPM overrides the catalog's requests per minute for gateway.rate_limit.
	RPM int `yaml:"rpm"`
}

// CUDAConfig holds ONNX Runtime CUDA execution provider options; zero
// values keep ONNX Runtime's defaults.
type CUDAConfig struct {
	// GPUMemLimit caps the provider's memory arena, in bytes.
	GPUMemLimit int64 `yaml:"gpu_mem_limit"`
	// ArenaExtendStrategy is kNextPowerOfTwo or kSameAsRequested.
	ArenaExtendStrategy string `yaml:"arena_extend_strategy"`
	// CuDNNConvAlgoSearch is EXHAUSTIVE, HEURISTIC or DEFAULT.
	CuDNNConvAlgoSearch string `yaml:"cudnn_conv_algo_search"`
}

// ForModel is the model's configuration with the top-level defaults
// (device, require_device, calibrate) applied.
func (c Config) ForModel(id string) ModelConfig {
	m := c.Models[id]
	if m.Device == "" {
		m.Device = c.Device
	}
	m.RequireDevice = m.RequireDevice || c.RequireDevice
	if m.Calibrate == nil {
		m.Calibrate = c.Calibrate
	}
	return m
}

// Calibrates reports whether the model's batch sizes are measured at load:
// calibrate is on unless set to false.
func (m ModelConfig) Calibrates() bool { return m.Calibrate == nil || *m.Calibrate }

// WantsCUDA reports whether any model, or the default, is configured for a
// CUDA device. The process picks its ONNX Runtime build from it at start.
func (c Config) WantsCUDA() bool {
	if strings.HasPrefix(c.Device, "cuda") {
		return true
	}
	for _, m := range c.Models {
		if strings.HasPrefix(m.Device, "cuda") {
			return true
		}
	}
	return false
}

// Duration is a time.Duration written as "250ms" or "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string, or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 250ms, 5m, or seconds as a number)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration reads "250ms", "5m" or a plain number of seconds ("-1" too).
func ParseDuration(s string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// Defaults for the server.
const (
	DefaultAddr         = "127.0.0.1:8790"
	DefaultMaxBodyBytes = 10 << 20
)

// Defaults for the gateway.
const (
	DefaultCacheMaxBytes    = 128 << 20
	DefaultJobRetention     = 24 * time.Hour
	DefaultBatchWorkers     = 1
	DefaultBatchConcurrency = 32
)

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Home: DefaultHome(),
		Server: ServerConfig{
			Addr:            DefaultAddr,
			MaxBodyBytes:    DefaultMaxBodyBytes,
			RequestTimeout:  Duration(5 * time.Minute),
			ShutdownTimeout: Duration(30 * time.Second),
		},
		Gateway: GatewayConfig{
			CacheMaxBytes:    DefaultCacheMaxBytes,
			JobRetention:     Duration(DefaultJobRetention),
			BatchWorkers:     DefaultBatchWorkers,
			BatchConcurrency: DefaultBatchConcurrency,
		},
		Models: map[string]ModelConfig{},
	}
}

// DefaultHome is the home when no flag or config file names one
// ($EDGEINFER_HOME, else ~/.edgeinfer).
func DefaultHome() string { return home.Default(os.Getenv) }

// Paths resolves the home and the runtime files under it (package home has
// the rules and the variables that override them).
func (c Config) Paths() home.Paths { return home.Resolve(c.Home, os.Getenv) }

// LoadConfigFile reads a YAML config file over the defaults. Errors name the
// file, the line and the key.
func LoadConfigFile(path string) (Config, error) {
	cfg := DefaultConfig()
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	return cfg, ParseConfig(path, raw, &cfg)
}

// ParseConfig decodes raw (named path in errors) into cfg.
func ParseConfig(path string, raw []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file means all defaults
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.validate(&root); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

var devicePattern = regexp.MustCompile(`^(cpu|cuda|cuda:\d+)$`)

// validate checks values that the YAML types cannot, reporting the line of
// the offending key from root.
func (c *Config) validate(root *yaml.Node) error {
	for id, m := range c.Models {
		at := func(key string) string {
			if n := findKey(root, "models", id, key); n != nil {
				return fmt.Sprintf("line %d: models.%q.%s", n.Line, id, key)
			}
			return fmt.Sprintf("models.%q.%s", id, key)
		}
		if !ValidModelID(id) {
			line := ""
			if n := findKey(root, "models", id); n != nil {
				line = fmt.Sprintf("line %d: ", n.Line)
			}
			return fmt.Errorf("%smodels: %q is not a model ID (want @scope/author/name or @scope/name)", line, id)
		}
		if m.Device != "" && !devicePattern.MatchString(m.Device) {
			return fmt.Errorf("%s: %q is not a device (want cpu, cuda or cuda:N)", at("device"), m.Device)
		}
		if err := m.CUDA.validate(); err != nil {
			return fmt.Errorf("%s.%w", at("cuda"), err)
		}
		switch m.Variant {
		case "", "fp32", "int8", "fp16":
		default:
			return fmt.Errorf("%s: %q is not a variant (want fp32, int8 or fp16)", at("variant"), m.Variant)
		}
		if m.Dir != "" && !filepath.IsAbs(m.Dir) {
			return fmt.Errorf("%s: %q must be an absolute path", at("dir"), m.Dir)
		}
		for key, v := range map[string]int{"max_batch_tokens": m.MaxBatchTokens, "max_batch_size": m.MaxBatchSize,
			"max_concurrent_requests": m.MaxConcurrentRequests, "intra_op_threads": m.IntraOpThreads, "inter_op_threads": m.InterOpThreads,
			"rpm": m.RPM, "num_beams": m.NumBeams, "max_length": m.MaxLength} {
			if v < 0 {
				return fmt.Errorf("%s: must not be negative", at(key))
			}
		}
	}
	if c.Device != "" && !devicePattern.MatchString(c.Device) {
		line := ""
		if n := findKey(root, "device"); n != nil {
			line = fmt.Sprintf("line %d: ", n.Line)
		}
		return fmt.Errorf("%sdevice: %q is not a device (want cpu, cuda or cuda:N)", line, c.Device)
	}
	switch c.Server.RetiredModels {
	case "", RetiredServe, RetiredRefuse:
	default:
		line := ""
		if n := findKey(root, "server", "retired_models"); n != nil {
			line = fmt.Sprintf("line %d: ", n.Line)
		}
		return fmt.Errorf("%sserver.retired_models: %q is not a policy (want serve or refuse)", line, c.Server.RetiredModels)
	}
	if c.Server.MaxBodyBytes < 0 || c.Server.MaxLoadedModels < 0 || c.Server.MaxResidentBytes < 0 || c.Server.MaxImagePixels < 0 {
		return errors.New("server: max_body_bytes, max_loaded_models, max_resident_bytes and max_image_pixels must not be negative")
	}
	return c.Gateway.validate(root)
}

// validate checks the gateway section, naming the line of the offending key.
func (g *GatewayConfig) validate(root *yaml.Node) error {
	at := func(key string) string {
		if n := findKey(root, "gateway", key); n != nil {
			return fmt.Sprintf("line %d: gateway.%s", n.Line, key)
		}
		return "gateway." + key
	}
	if err := CheckRedisURL(g.Redis); err != nil {
		return fmt.Errorf("%s: %w", at("redis"), err)
	}
	for key, v := range map[string]int64{"cache_ttl": int64(g.CacheTTL), "cache_max_bytes": g.CacheMaxBytes,
		"job_retention": int64(g.JobRetention)} {
		if v < 0 {
			return fmt.Errorf("%s: must not be negative", at(key))
		}
	}
	for key, v := range map[string]int{"batch_workers": g.BatchWorkers, "batch_concurrency": g.BatchConcurrency} {
		if v < 1 {
			return fmt.Errorf("%s: must be at least 1", at(key))
		}
	}
	return nil
}

// CheckRedisURL accepts "" (no Redis) or a redis://, rediss:// or unix:// URL.
func CheckRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			return fmt.Errorf("%q names no host (want redis://HOST:PORT/DB)", raw)
		}
	case "unix":
		if u.Path == "" {
			return fmt.Errorf("%q names no socket path", raw)
		}
	default:
		return fmt.Errorf("%q is not a Redis URL (want redis://, rediss:// or unix://)", raw)
	}
	return nil
}

// validate checks the option values ONNX Runtime accepts; errors start with
// the offending key.
func (c CUDAConfig) validate() error {
	if c.GPUMemLimit < 0 {
		return errors.New("gpu_mem_limit: must not be negative")
	}
	switch c.ArenaExtendStrategy {
	case "", "kNextPowerOfTwo", "kSameAsRequested":
	default:
		return fmt.Errorf("arena_extend_strategy: %q is not kNextPowerOfTwo or kSameAsRequested", c.ArenaExtendStrategy)
	}
	switch c.CuDNNConvAlgoSearch {
	case "", "EXHAUSTIVE", "HEURISTIC", "DEFAULT":
	default:
		return fmt.Errorf("cudnn_conv_algo_search: %q is not EXHAUSTIVE, HEURISTIC or DEFAULT", c.CuDNNConvAlgoSearch)
	}
	return nil
}

// findKey returns the key node at path in a YAML document.
func findKey(root *yaml.Node, path ...string) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	var key *yaml.Node
	for _, p := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				key, next = n.Content[i], n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return key
}

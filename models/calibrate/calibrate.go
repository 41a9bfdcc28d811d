// Package calibrate measures, when an ONNX model loads, which batch shapes
// run fastest on this machine, and caches the answer under the home.
//
// The constants the backends used to carry (a batch size per core, one
// thread per ResNet batch) were right on the machine they were measured on
// and wrong on the next. Here each backend gives a Probe that runs its own
// session on synthetic inputs of the model's real geometry; the shared
// machinery sweeps growing batches until bigger is no longer faster, picks
// the smallest shape within noise of the best, bounds the time, and keeps
// the table in $EDGEINFER_HOME/state/calibration/, keyed by the model files'
// digests, the CPU and its SIMD flags, the thread count and the ONNX
// Runtime version. It lives under models/ rather than in engine/batch
// because it needs the runtime and the model files, which the scheduler
// package must not know.
package calibrate

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/cpuinfo"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// DefaultBudget bounds one model's measurement (a full-size bge-base takes
// about this; tiny models take milliseconds).
const DefaultBudget = 12 * time.Second

// Choice is what a calibration sets; zero fields keep the backend's
// defaults.
type Choice struct {
	MaxBatchSize   int `json:"max_batch_size,omitempty"`
	MaxBatchTokens int `json:"max_batch_tokens,omitempty"`
	// Instances and IntraOpThreads split the cores into concurrent batches
	// × threads per session.
	Instances      int `json:"instances,omitempty"`
	IntraOpThreads int `json:"intra_op_threads,omitempty"`
}

func (c Choice) valid() bool {
	return c.MaxBatchSize >= 0 && c.MaxBatchTokens >= 0 && c.Instances >= 0 && c.IntraOpThreads >= 0 &&
		c.MaxBatchSize+c.MaxBatchTokens+c.Instances+c.IntraOpThreads > 0
}

func (c Choice) String() string {
	var parts []string
	for _, f := range []struct {
		name string
		v    int
	}{{"max_batch_size", c.MaxBatchSize}, {"max_batch_tokens", c.MaxBatchTokens}, {"instances", c.Instances}, {"intra_op_threads", c.IntraOpThreads}} {
		if f.v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", f.name, f.v))
		}
	}
	return strings.Join(parts, " ")
}

// Apply returns cfg with the choice over its defaults and then the model's
// explicit settings over both, so a configured max_batch_size or
// max_batch_tokens always wins; instances follow a configured
// intra_op_threads, which the backend applies itself.
func (c Choice) Apply(cfg batch.Config, spec engine.ModelSpec) batch.Config {
	if c.MaxBatchSize > 0 {
		cfg.MaxBatchSize = c.MaxBatchSize
	}
	if c.MaxBatchTokens > 0 {
		cfg.MaxBatchTokens = c.MaxBatchTokens
	}
	if c.Instances > 0 && spec.Config.IntraOpThreads == 0 {
		cfg.Instances = c.Instances
	}
	return cfg.ForModel(spec)
}

// Probe measures one model through the sweeper and returns its choice.
type Probe func(s *Sweeper) (Choice, error)

// Plan is one model to calibrate.
type Plan struct {
	Spec engine.ModelSpec
	// Files are the model's weight files (absolute paths); their digests
	// key the cache.
	Files []string
	// Budget bounds the measurement; 0 means DefaultBudget.
	Budget time.Duration
	Probe  Probe
}

// Device is the device a model's calibration is keyed by: cpu or cuda:N.
func Device(spec engine.ModelSpec) string {
	switch d := spec.Config.Device; {
	case d == "" || d == "cpu":
		return "cpu"
	case d == "cuda":
		return "cuda:0"
	default:
		return d
	}
}

// Enabled reports whether the model is calibrated at load (calibrate is
// not false in its config).
func Enabled(spec engine.ModelSpec) bool { return spec.Config.Calibrates() }

// machine returns what the key records of this machine; tests replace it.
var machine = func() (cpu, flags, runtimeVersion string, threads int) {
	return cpuinfo.Model(), cpuinfo.Flags(), ort.Version(), cpuinfo.Cores()
}

// one runs calibrations one at a time: two models measured at once would
// each see half the machine.
var one sync.Mutex

// Run returns the model's choice from its cache when the cache's key
// matches this machine, runtime and model files, else measures it with
// the probe and rewrites the cache. A failed measurement is logged and
// reported as ok false: the backend keeps its defaults, never fails to load
// over it.
func Run(p Plan) (Choice, bool) {
	r, fresh, err := measureOrRead(p)
	log := slog.Default().With("model", p.Spec.Entry.ID, "device", Device(p.Spec))
	if err != nil {
		log.Warn("calibration failed; using the default batch sizes", "err", err)
		return Choice{}, false
	}
	if fresh {
		args := []any{"choice", r.Choice.String(), "took", r.Took.Round(time.Millisecond)}
		if p.Spec.Paths.Home != "" {
			args = append(args, "cache", filepath.Base(Path(p.Spec.Paths.Home, p.Spec.Entry.ID, Device(p.Spec))))
		}
		log.Info("calibrated", args...)
	} else {
		log.Debug("calibration from the cache", "choice", r.Choice.String())
	}
	return r.Choice, true
}

// measureOrRead is Run's work: the cached result (fresh false) or a new one.
func measureOrRead(p Plan) (Result, bool, error) {
	one.Lock()
	defer one.Unlock()
	// Without a home there is no place for the cache (Path would name one
	// under the working directory): measure every time, keep nothing.
	cacheable := p.Spec.Paths.Home != ""
	path := Path(p.Spec.Paths.Home, p.Spec.Entry.ID, Device(p.Spec))
	cached, readErr := Result{}, error(os.ErrNotExist)
	if cacheable {
		cached, readErr = Read(path)
	}
	key, err := currentKey(p, cached.Key.Files)
	if err != nil {
		return Result{}, false, err
	}
	log := slog.Default().With("model", p.Spec.Entry.ID)
	if readErr == nil {
		ok, why := cached.Key.Matches(key)
		if ok {
			return cached, false, nil
		}
		log.Info("calibration cache is stale; measuring again", "why", why)
	} else if !errors.Is(readErr, os.ErrNotExist) {
		log.Warn("calibration cache unreadable; measuring again", "err", readErr)
	}
	budget := p.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	log.Info("calibrating batch sizes on this machine (once; cached under state/calibration)", "budget", budget)
	start := time.Now()
	s := &Sweeper{deadline: start.Add(budget), log: func(msg string, args ...any) { log.Debug(msg, args...) }}
	choice, err := p.Probe(s)
	if err != nil {
		return Result{}, false, err
	}
	if !choice.valid() {
		return Result{}, false, fmt.Errorf("the probe chose nothing (%+v)", choice)
	}
	r := Result{Key: key, Table: s.table, Choice: choice, At: start.UTC(), Took: time.Since(start)}
	if !cacheable {
		return r, true, nil
	}
	if err := write(path, r); err != nil {
		log.Warn("calibration not cached", "err", err)
	}
	return r, true, nil
}

// currentKey is the key of p on this machine now; previous digests are
// reused for files whose size and modification time are unchanged.
func currentKey(p Plan, previous []FileDigest) (Key, error) {
	files, err := digests(p.Spec.Dir(), p.Files, previous)
	if err != nil {
		return Key{}, err
	}
	cpu, flags, rt, threads := machine()
	return Key{Format: formatVersion, Model: p.Spec.Entry.ID, Device: Device(p.Spec), Files: files,
		CPU: cpu, Flags: flags, Threads: threads, IntraOpThreads: p.Spec.Config.IntraOpThreads, Runtime: rt}, nil
}

// Forget removes a model's cached table, so its next load measures again.
func Forget(home, model, device string) error {
	err := os.Remove(Path(home, model, device))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// WriteTable prints r's table, one shape a line with its items per second,
// the chosen rows marked, then the choice.
func WriteTable(w io.Writer, r Result) {
	for _, row := range r.Table {
		mark := " "
		if row.Chosen {
			mark = "*"
		}
		fmt.Fprintf(w, "  %s %-44s %10.1f items/s\n", mark, row.Shape.String(), row.ItemsPerSec)
	}
	fmt.Fprintf(w, "  chosen: %s (measured %s in %s)\n", r.Choice, r.At.Format(time.DateTime), r.Took.Round(time.Millisecond))
}

// Summary is one line on a model's calibration for `doctor` and the
// benchmarks: the choice and when it was measured, whether the cache no
// longer matches this machine, or "not calibrated yet".
func Summary(home, model, device string) string {
	r, err := Read(Path(home, model, device))
	if errors.Is(err, os.ErrNotExist) {
		return "not calibrated yet"
	}
	if err != nil {
		return "unreadable cache (measured again at the next load)"
	}
	line := fmt.Sprintf("%s (measured %s in %s)", r.Choice, r.At.Format(time.DateTime), r.Took.Round(time.Millisecond))
	cpu, flags, _, threads := machine()
	if r.Key.CPU != cpu || r.Key.Flags != flags || r.Key.Threads != threads {
		line += "; measured on another CPU or thread count, so measured again at the next load"
	}
	return line
}

// Over returns spec with the choice filled in where the model's config
// leaves max_batch_size, max_batch_tokens or intra_op_threads unset, for
// backends whose scheduler defaults already yield to the config (ResNet,
// M2M100): the measured values are then applied as if configured.
func (c Choice) Over(spec engine.ModelSpec) engine.ModelSpec {
	mc := &spec.Config
	if mc.MaxBatchSize == 0 {
		mc.MaxBatchSize = c.MaxBatchSize
	}
	if mc.MaxBatchTokens == 0 {
		mc.MaxBatchTokens = c.MaxBatchTokens
	}
	if mc.IntraOpThreads == 0 {
		mc.IntraOpThreads = c.IntraOpThreads
	}
	return spec
}

// Repick picks again among every row of the table in stage, across the
// sweeps that measured it (ResNet's splits of the cores), marks that row
// alone and returns its shape.
func (s *Sweeper) Repick(stage string) Shape {
	var idx []int
	var rows []Row
	for i := range s.table {
		if s.table[i].Stage == stage {
			s.table[i].Chosen = false
			idx, rows = append(idx, i), append(rows, s.table[i])
		}
	}
	i := Pick(rows)
	if i < 0 {
		return Shape{}
	}
	s.table[idx[i]].Chosen = true
	return rows[i].Shape
}

package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgeinfer/edgeinfer/benchmarks/bench"
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

func newBenchCmd(g *globalFlags) *cobra.Command {
	var url, out, inputs, synthetic string
	var concurrency []int
	var duration, warmup time.Duration
	var seed uint64
	cmd := &cobra.Command{
		Use:   "bench MODEL|all",
		Short: "Load-test models: throughput, latency percentiles, TTFT, batch sizes; markdown, JSON and charts",
		Example: `  edgeinfer bench @cf/baai/bge-base-en-v1.5 --concurrency 1,16,64 --duration 20s
  edgeinfer bench all --url http://127.0.0.1:8790 --out bench-results
  edgeinfer bench @cf/microsoft/resnet-50 --synthetic full`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, eng, err := g.openEngine()
			if err != nil {
				return err
			}
			defer eng.Close()
			entries, err := benchEntries(cmd, eng, args[0], url == "")
			if err != nil {
				return err
			}
			if synthetic != "" {
				var ids []string
				for _, e := range entries {
					ids = append(ids, e.ID)
				}
				if err := synth.Generate(cmd.Context(), synth.Options{Preset: synth.Preset(synthetic), OutDir: filepath.Join(cfg.Home, "models")}, ids, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			var workloads []bench.Workload
			for _, e := range entries {
				w, err := bench.NewWorkload(e, seed)
				if err != nil {
					return err
				}
				if inputs != "" {
					if w.Requests, err = readInputs(inputs); err != nil {
						return err
					}
				}
				workloads = append(workloads, w)
			}
			var target bench.Target = &bench.EngineTarget{Engine: eng}
			if url != "" {
				target = &bench.HTTPTarget{URL: url, Token: os.Getenv("EDGEINFER_API_TOKEN"),
					Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
			}
			points, err := bench.Run(cmd.Context(), target, workloads, bench.Options{Concurrency: concurrency,
				Warmup: warmup, Duration: duration, Progress: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), bench.Markdown(points))
			if out != "" {
				if err := os.MkdirAll(out, 0o755); err != nil {
					return err
				}
				if err := bench.WriteJSON(filepath.Join(out, "results.json"), points); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(bench.Markdown(points)), 0o644); err != nil {
					return err
				}
				if err := bench.Charts(out, points); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s/{results.json,results.md,throughput.png,latency.png}\n", out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "benchmark a running server at URL instead of an in-process engine")
	cmd.Flags().IntSliceVar(&concurrency, "concurrency", []int{1, 4, 16, 64}, "concurrent clients, one run each")
	cmd.Flags().DurationVar(&duration, "duration", 30*time.Second, "measured time per run")
	cmd.Flags().DurationVar(&warmup, "warmup", 5*time.Second, "unmeasured warm-up per run")
	cmd.Flags().StringVar(&out, "out", "", "write results.json, results.md and PNG charts to this directory")
	cmd.Flags().StringVar(&inputs, "inputs", "", "JSON-lines file of Workers AI inputs to send instead of the generated corpus")
	cmd.Flags().StringVar(&synthetic, "synthetic", "", "generate synthetic artifacts (tiny or full) for the models first")
	cmd.Flags().Uint64Var(&seed, "seed", 42, "corpus seed, for reproducible inputs")
	return cmd
}

// benchEntries resolves MODEL or "all" (every installed model, for an
// in-process run; every catalog model against a URL).
func benchEntries(cmd *cobra.Command, eng *engine.Engine, arg string, inProcess bool) ([]*engine.Entry, error) {
	if arg != "all" {
		e, err := eng.Catalog().Resolve(arg)
		if err != nil {
			return nil, err
		}
		return []*engine.Entry{e}, nil
	}
	var out []*engine.Entry
	for _, e := range eng.Catalog().Entries() {
		if !inProcess || eng.Status(cmd.Context(), e).Installed {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no installed models to benchmark: run `edgeinfer models synth` first")
	}
	return out, nil
}

func readInputs(path string) ([]bench.Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var reqs []bench.Request
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			reqs = append(reqs, bench.Request{Body: []byte(line), Items: 1})
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s holds no inputs", path)
	}
	return reqs, sc.Err()
}

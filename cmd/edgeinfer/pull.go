package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/backends"
	"github.com/edgeinfer/edgeinfer/models/pull"
	"github.com/edgeinfer/edgeinfer/models/vad"
	"github.com/edgeinfer/edgeinfer/models/whisper"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type pullFlags struct {
	variant, revision string
	jobs, retries     int
}

func newPullCmd(g *globalFlags) *cobra.Command {
	f := pullFlags{}
	cmd := &cobra.Command{
		Use:   "pull MODEL...",
		Short: "Download a model's real weights into the directory the engine loads it from",
		Long: `Download the real artifacts of catalog models. ONNX models (embeddings, image
classification, translation) come from the Hugging Face hub repository the catalog
names: HF_ENDPOINT picks a mirror (default https://huggingface.co), HF_TOKEN a token.
Transfers resume where an interrupted pull stopped, every file is checked against
the size and sha256 the hub announces, and nothing is put in place before all files
are verified. Files pulled over synthetic artifacts replace them entirely.
LLMs are pulled through Ollama. Whisper models bring Silero VAD (` + whisper.VADModelID + `,
from ` + vad.HubRepo + `) along for vad_filter; it can be pulled alone by that name.`,
		Example: `  edgeinfer pull @cf/baai/bge-base-en-v1.5
  edgeinfer pull @cf/baai/bge-small-en-v1.5 --variant int8
  HF_ENDPOINT=https://hf-mirror.example edgeinfer pull @cf/microsoft/resnet-50`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch f.variant {
			case "", "fp32", "int8", "fp16":
			default:
				return fmt.Errorf("--variant %q: want fp32, int8 or fp16", f.variant)
			}
			cfg, eng, err := g.openEngine()
			if err != nil {
				return err
			}
			defer eng.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hub := pull.HubFromEnv()
			hub.UserAgent = "edgeinfer/" + version
			for _, id := range args {
				if id == whisper.VADModelID {
					if err := pullVAD(ctx, cmd, hub, cfg.Paths().Home, f); err != nil {
						return err
					}
					continue
				}
				entry, err := eng.Catalog().Resolve(id)
				if err != nil {
					return fmt.Errorf("%s: %s", id, engine.Describe(err).Message)
				}
				if err := pullModel(ctx, cmd, hub, backends.All(cfg), eng.Spec(entry), f); err != nil {
					return err
				}
				if entry.Backend == whisper.Kind {
					if err := pullVAD(ctx, cmd, hub, cfg.Paths().Home, f); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.variant, "variant", "", "weights to pull: fp32, int8 or fp16 (default: the model's configured variant)")
	cmd.Flags().StringVar(&f.revision, "revision", pull.DefaultRevision, "hub branch, tag or commit")
	cmd.Flags().IntVar(&f.jobs, "jobs", 4, "files downloaded at once")
	cmd.Flags().IntVar(&f.retries, "retries", 5, "further attempts per file after a dropped or stalled transfer")
	return cmd
}

// pullModel pulls one model: through its backend when that backend pulls
// LLMs, else from the hub.
func pullModel(ctx context.Context, cmd *cobra.Command, hub pull.Hub, all map[string]engine.Backend, spec engine.ModelSpec, f pullFlags) error {
	id := spec.Entry.ID
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if lp, ok := all[spec.Entry.Backend].(engine.LLMPuller); ok {
		display := pull.NewDisplay(stderr, isTerminal(stderr), 0)
		err := lp.PullLLM(ctx, spec, display)
		display.Close()
		if err != nil {
			return fmt.Errorf("pull %s: %w", id, err)
		}
		fmt.Fprintf(stdout, "%s: pulled Ollama model %s\n", id, spec.OllamaTag())
		return nil
	}
	if tag := spec.OllamaTag(); spec.Entry.Artifacts.HFRepo == "" && tag != "" {
		return fmt.Errorf("%s is an LLM served by Ollama, which pulls it itself; this build cannot drive that yet: run `ollama pull %s` against the Ollama server edgeinfer uses (OLLAMA_HOST)", id, tag)
	}
	req, err := pull.ForModel(spec, f.variant)
	if err != nil {
		return err
	}
	req.Revision = f.revision
	if _, err := runPull(ctx, cmd, hub, req, f); err != nil {
		return err
	}
	if req.Variant != spec.Variant() {
		fmt.Fprintf(stdout, "%s: the engine serves the %s variant; set models.%q.variant: %s in the config file to serve these weights\n", id, spec.Variant(), id, req.Variant)
	}
	return nil
}

// pullVAD pulls Silero VAD, which no catalog entry names, into the
// directory the Whisper backend loads it from (its main branch: --revision
// is the Whisper repository's).
func pullVAD(ctx context.Context, cmd *cobra.Command, hub pull.Hub, home string, f pullFlags) error {
	req := pull.Request{Model: whisper.VADModelID, Repo: vad.HubRepo, Revision: pull.DefaultRevision, Variant: "fp32",
		Dir: filepath.Join(home, "models", filepath.FromSlash(whisper.VADModelID)), Files: []string{vad.HubFile}}
	_, err := runPull(ctx, cmd, hub, req, f)
	return err
}

// runPull fetches req's files from the hub with progress on stderr and
// reports the result on stdout.
func runPull(ctx context.Context, cmd *cobra.Command, hub pull.Hub, req pull.Request, f pullFlags) (*pull.Result, error) {
	id, stdout, stderr := req.Model, cmd.OutOrStdout(), cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "pulling %s (%s) from %s/%s@%s into %s\n", id, req.Variant, hub.Endpoint, req.Repo, req.Revision, req.Dir)
	display := pull.NewDisplay(stderr, isTerminal(stderr), 0)
	res, err := pull.Puller{Hub: hub, Concurrency: f.jobs, Retries: f.retries, Progress: display}.Pull(ctx, req)
	display.Close()
	if err != nil {
		return nil, fmt.Errorf("pull %s:\n%w", id, err)
	}
	commit := res.Manifest.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	fmt.Fprintf(stdout, "%s: %s weights from %s@%s, %d files (%d downloaded, %d already there) in %s\n",
		id, req.Variant, req.Repo, commit, len(req.Files), len(res.Downloaded), len(res.UpToDate), req.Dir)
	if res.ReplacedSynthetic {
		fmt.Fprintf(stdout, "%s: the synthetic artifacts that were there are gone (`edgeinfer models synth --only %s` makes them again)\n", id, id)
	}
	return res, nil
}

// isTerminal reports whether w is a terminal that can redraw progress bars.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

package main

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/edgeinfer/edgeinfer/models/synth"
	"github.com/spf13/cobra"
)

func newModelsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "models", Short: "List and generate models"}
	cmd.AddCommand(newModelsListCmd(g), newModelsSynthCmd(g), newModelsPsCmd())
	return cmd
}

func newModelsListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the catalog: ID, task, installed or not, synthetic or real",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, eng, err := g.openEngine()
			if err != nil {
				return err
			}
			defer eng.Close()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tTASK\tINSTALLED\tSIZE\tWEIGHTS\tSOURCE")
			for _, e := range eng.Catalog().Entries() {
				st := eng.Status(cmd.Context(), e)
				installed, size, weights, source := "no", "-", "-", st.Problem
				if st.Installed {
					installed, weights, source = "yes", "real", st.Installation.Source
					if st.Installation.Bytes > 0 {
						size = fmt.Sprintf("%.1f MB", float64(st.Installation.Bytes)/1e6)
					}
					if st.Installation.Synthetic {
						weights = "synthetic weights"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Task, installed, size, weights, source)
			}
			return tw.Flush()
		},
	}
}

func newModelsSynthCmd(g *globalFlags) *cobra.Command {
	var preset, out, m2mSize string
	var only []string
	var seed uint64
	var fp16, force, keepFull bool
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Generate synthetic artifacts (real architectures, random weights) for the catalog models",
		Long: `Generate model artifacts with the real architectures and file contracts of the models
edgeinfer serves, filled with deterministic pseudo-random weights. They let you run and
benchmark every model without downloading weights; their outputs are meaningless.
A model directory that holds real model files is never replaced without --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				out = filepath.Join(cfg.Home, "models")
			}
			return synth.Generate(cmd.Context(), synth.Options{Preset: synth.Preset(preset), OutDir: out, Seed: seed, M2M100Size: m2mSize, Float16: fp16, Force: force, KeepFull: keepFull},
				only, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&preset, "preset", "tiny", "tiny (tests, demo) or full (real dimensions, for benchmarks)")
	cmd.Flags().StringSliceVar(&only, "only", nil, "generate only these model IDs")
	cmd.Flags().StringVar(&out, "out", "", "models root (default $EDGEINFER_HOME/models)")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "weight seed (0 = default)")
	cmd.Flags().StringVar(&m2mSize, "m2m100-size", "418M", "full-preset translation dims: 418M or 1.2B")
	cmd.Flags().BoolVar(&force, "force", false, "replace model directories that hold real (non-synthetic) model files; they are kept otherwise")
	cmd.Flags().BoolVar(&keepFull, "keep-full", false, "keep model directories that hold full-size synthetic weights (what setup uses for the demo set)")
	cmd.Flags().BoolVar(&fp16, "fp16", false, "also write the half-precision variant (onnx/model_fp16.onnx) of the ONNX encoders (BGE, DistilBERT, XLM-R) and ResNet-50")
	return cmd
}

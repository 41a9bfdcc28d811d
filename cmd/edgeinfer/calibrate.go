package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/spf13/cobra"
)

func newCalibrateCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "calibrate [MODEL...]",
		Short: "Measure the batch sizes of ONNX models on this machine, cache them and print the table",
		Long: `Loads each model (every installed ONNX model when none is named), measures its
batch shapes again whatever the cache holds, rewrites the cache under
$EDGEINFER_HOME/state/calibration and prints the table: shape → items/s, the
chosen rows marked with *. Settings the config gives explicitly
(max_batch_size, max_batch_tokens, intra_op_threads) are kept and not measured.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			forceCalibration(&cfg)
			eng, err := g.newEngine(cfg)
			if err != nil {
				return err
			}
			defer eng.Close()
			ids := args
			if len(ids) == 0 {
				ids = installedONNXModels(cmd, eng)
			}
			failed := 0
			for _, id := range ids {
				if err := calibrateOne(cmd, eng, id, cmd.OutOrStdout()); err != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %v\n", id, err)
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d models could not be calibrated", failed, len(ids))
			}
			return nil
		},
	}
}

// forceCalibration turns calibration on for every model: asking for it
// overrides calibrate: false.
func forceCalibration(cfg *engine.Config) {
	on := true
	cfg.Calibrate = &on
	for id, m := range cfg.Models {
		m.Calibrate = &on
		cfg.Models[id] = m
	}
}

// isONNX reports whether entry runs on ONNX Runtime, the models calibration
// measures.
func isONNX(entry *engine.Entry) bool { return strings.HasPrefix(entry.Backend, "onnx-") }

// installedONNXModels lists the ONNX models whose files are installed.
func installedONNXModels(cmd *cobra.Command, eng *engine.Engine) []string {
	var ids []string
	for _, entry := range eng.Catalog().Entries() {
		if isONNX(entry) && eng.Status(cmd.Context(), entry).Installed {
			ids = append(ids, entry.ID)
		}
	}
	return ids
}

// calibrateOne forgets id's table, loads the model (which measures it) and
// prints what was measured.
func calibrateOne(cmd *cobra.Command, eng *engine.Engine, id string, out io.Writer) error {
	entry, err := eng.Catalog().Resolve(id)
	if err != nil {
		return err
	}
	if !isONNX(entry) {
		return fmt.Errorf("runs on %s; calibration measures ONNX Runtime models", entry.Backend)
	}
	spec := eng.Spec(entry)
	device := calibrate.Device(spec)
	if err := calibrate.Forget(spec.Paths.Home, entry.ID, device); err != nil {
		return err
	}
	if err := eng.Load(cmd.Context(), entry.ID); err != nil {
		d := engine.Describe(err)
		return errors.New(d.Message)
	}
	defer eng.Unload(entry.ID)
	r, err := calibrate.Read(calibrate.Path(spec.Paths.Home, entry.ID, device))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(out, "%s on %s: not measured (the config sets its batch sizes, or the measurement failed: see the log)\n", entry.ID, device)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s on %s (%s, %s, %d threads, ONNX Runtime %s):\n", entry.ID, device, r.Key.CPU, r.Key.Flags, r.Key.Threads, r.Key.Runtime)
	calibrate.WriteTable(out, r)
	return nil
}

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/spf13/cobra"
)

func newModelsPsCmd() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "Show what a running server has loaded",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := http.NewRequestWithContext(cmd.Context(), "GET", strings.TrimRight(url, "/")+"/edgeinfer/v1/models", nil)
			if err != nil {
				return err
			}
			if tok := os.Getenv("EDGEINFER_API_TOKEN"); tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				return fmt.Errorf("is `edgeinfer serve` running at %s? %w", url, err)
			}
			defer res.Body.Close()
			var env struct {
				Result []engine.ModelState `json:"result"`
				Errors []struct{ Message string }
			}
			if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
				return err
			}
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %v", res.Status, env.Errors)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tSTATE\tSIZE\tIN USE\tDEVICE\tRUNS ON\tWEIGHTS\tUNLOADS IN")
			var fellBack []string
			for _, m := range env.Result {
				if m.State == "unloaded" {
					continue
				}
				weights, expires := "real", "-"
				if m.Synthetic {
					weights = "synthetic"
				}
				if !m.ExpiresAt.IsZero() {
					expires = time.Until(m.ExpiresAt).Round(time.Second).String()
				}
				state := m.State
				if m.Error != "" {
					state += ": " + m.Error
				}
				runsOn := strings.ReplaceAll(m.ExecutionProvider, "ExecutionProvider", "")
				if runsOn == "" {
					runsOn = "-"
				}
				if m.Fallback != "" {
					runsOn += " (fell back)"
					fellBack = append(fellBack, fmt.Sprintf("%s runs on the CPU instead of %s: %s", m.Model, m.Device, m.Fallback))
				}
				fmt.Fprintf(tw, "%s\t%s\t%.1f MB\t%d\t%s\t%s\t%s\t%s\n", m.Model, state, float64(m.Bytes)/1e6, m.InUse, m.Device, runsOn, weights, expires)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, line := range fellBack {
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://"+envOr("EDGEINFER_ADDR", engine.DefaultAddr), "server URL")
	return cmd
}

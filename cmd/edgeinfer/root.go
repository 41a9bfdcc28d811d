package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/backends"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/spf13/cobra"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

// globalFlags are shared by every command; each mirrors a config key and an
// EDGEINFER_* variable.
type globalFlags struct {
	configPath string
	home       string
	logLevel   string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "edgeinfer",
		Short:         "Workers AI models on your own machine, offline",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", os.Getenv("EDGEINFER_CONFIG"), "config file (YAML) [EDGEINFER_CONFIG]")
	root.PersistentFlags().StringVar(&g.home, "home", "", "directory for runtimes, models and state [EDGEINFER_HOME, default ~/.edgeinfer]")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("EDGEINFER_LOG_LEVEL", "info"), "debug, info, warn or error [EDGEINFER_LOG_LEVEL]")
	root.AddCommand(newServeCmd(g), newRunCmd(g), newModelsCmd(g), newBenchCmd(g), newVersionCmd())
	root.AddCommand(newPullCmd(g))
	root.AddCommand(newWorkerdConfigCmd(g))
	root.AddCommand(newDevCmd(g))
	root.AddCommand(newCalibrateCmd(g), newDoctorCmd(g))
	return root
}

// loadConfig applies defaults, the config file, then variables and flags.
func (g *globalFlags) loadConfig() (engine.Config, error) {
	cfg := engine.DefaultConfig()
	if g.configPath != "" {
		var err error
		if cfg, err = engine.LoadConfigFile(g.configPath); err != nil {
			return cfg, err
		}
	}
	if h := os.Getenv(home.HomeEnv); h != "" {
		cfg.Home = h
	}
	if g.home != "" {
		cfg.Home = g.home
	}
	return cfg, nil
}

func (g *globalFlags) logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// openEngine loads the configuration and builds the engine from it.
func (g *globalFlags) openEngine() (engine.Config, *engine.Engine, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return cfg, nil, err
	}
	eng, err := g.newEngine(cfg)
	return cfg, eng, err
}

// newEngine builds the engine with every backend of this build.
func (g *globalFlags) newEngine(cfg engine.Config) (*engine.Engine, error) {
	cat, err := engine.LoadCatalog()
	if err != nil {
		return nil, err
	}
	ort.UsePaths(cfg.Paths())       // the runtime loads from the resolved home, not EDGEINFER_HOME alone
	ort.PreferCUDA(cfg.WantsCUDA()) // one ONNX Runtime build per process, chosen before any model loads
	return engine.New(cat, cfg, backends.All(cfg), g.logger())
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the edgeinfer version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if info, ok := debug.ReadBuildInfo(); ok && v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
				v = info.Main.Version
			}
			fmt.Fprintf(cmd.OutOrStdout(), "edgeinfer %s\n", v)
			return nil
		},
	}
}

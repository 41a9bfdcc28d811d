package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway"
	"github.com/edgeinfer/edgeinfer/engine/httpapi"
	"github.com/spf13/cobra"
)

func newServeCmd(g *globalFlags) *cobra.Command {
	var addr, token, redisURL string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Workers AI REST API, binding protocol and OpenAI routes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if v := os.Getenv("EDGEINFER_ADDR"); v != "" {
				cfg.Server.Addr = v
			}
			if v := os.Getenv("EDGEINFER_API_TOKEN"); v != "" {
				cfg.Server.APIToken = v
			}
			if v := os.Getenv("EDGEINFER_REDIS"); v != "" {
				cfg.Gateway.Redis = v
			}
			if cmd.Flags().Changed("addr") {
				cfg.Server.Addr = addr
			}
			if cmd.Flags().Changed("api-token") {
				cfg.Server.APIToken = token
			}
			if cmd.Flags().Changed("redis") {
				cfg.Gateway.Redis = redisURL
			}
			if err := engine.CheckRedisURL(cfg.Gateway.Redis); err != nil {
				return fmt.Errorf("--redis: %w", err)
			}
			return serve(cmd.Context(), g, cfg)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", engine.DefaultAddr, "listen address [EDGEINFER_ADDR, server.addr]")
	cmd.Flags().StringVar(&token, "api-token", "", "require this bearer token; needed to listen beyond loopback [EDGEINFER_API_TOKEN, server.api_token]")
	cmd.Flags().StringVar(&redisURL, "redis", "", "keep batch jobs, the response cache, rate limits and usage in this Redis (redis://HOST:PORT/DB), shared by every server pointed at it; default: the embedded store in $EDGEINFER_HOME/state [EDGEINFER_REDIS, gateway.redis]")
	return cmd
}

// checkExposure refuses a non-loopback listener without a token: a tool that
// runs models should not be open to the network by accident.
func checkExposure(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if token != "" || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without an API token: set --api-token or EDGEINFER_API_TOKEN, or listen on 127.0.0.1", addr)
}

func serve(ctx context.Context, g *globalFlags, cfg engine.Config) error {
	if err := checkExposure(cfg.Server.Addr, cfg.Server.APIToken); err != nil {
		return err
	}
	log := g.logger()
	eng, err := g.newEngine(cfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	store, err := openGatewayStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	gw := gateway.New(eng, gateway.Options{Config: cfg, Store: store, Metrics: eng.Metrics().Registry, Log: log})
	// Deferred after the engine's Close, so it runs before it: the workers
	// hand their unfinished jobs back while the models are still there.
	defer gw.Close()
	api := httpapi.New(eng, httpapi.Options{APIToken: cfg.Server.APIToken, MaxBodyBytes: cfg.Server.MaxBodyBytes,
		RequestTimeout: time.Duration(cfg.Server.RequestTimeout), Log: log, Gateway: gw})
	limits := httpapi.DefaultLimits()
	srv := httpapi.HTTPServer(api.Handler(), limits)
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return err
	}
	ln = httpapi.LimitListener(ln, limits.MaxConnections)
	log.Info("edgeinfer listening", "addr", ln.Addr().String(), "home", cfg.Home, "models", len(eng.Catalog().Entries()),
		"state", stateDescription(cfg))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errCh := make(chan error, 1)
	go func() { errCh <- srv.Serve(ln) }()
	go func() {
		if err := eng.Preload(ctx); err != nil {
			log.Warn("preloading failed; those models load on first request", "err", err)
		}
	}()
	select {
	case err := <-errCh:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", time.Duration(cfg.Server.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Server.ShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// openGatewayStore opens the Redis store with gateway.redis, else the
// embedded one under $EDGEINFER_HOME/state.
func openGatewayStore(ctx context.Context, cfg engine.Config) (*gateway.Store, error) {
	if cfg.Gateway.Redis != "" {
		return gateway.OpenRedis(ctx, cfg.Gateway.Redis, cfg.Gateway.CacheMaxBytes)
	}
	return gateway.OpenLocal(gateway.StatePath(cfg.Home), cfg.Gateway.CacheMaxBytes)
}

// stateDescription says where jobs, cache and counters live, without the
// Redis URL's password.
func stateDescription(cfg engine.Config) string {
	if cfg.Gateway.Redis == "" {
		return gateway.StatePath(cfg.Home)
	}
	if u, err := url.Parse(cfg.Gateway.Redis); err == nil {
		return u.Redacted()
	}
	return "redis"
}

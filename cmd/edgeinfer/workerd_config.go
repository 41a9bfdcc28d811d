package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// defaultCompatibilityDate is old enough for every workerd release since
// 2025 to accept it (workerd refuses dates newer than its own build).
const defaultCompatibilityDate = "2025-01-01"

// workerdConfig describes the workerd config that runs one Worker with the
// genuine Workers AI binding backed by edgeinfer.
type workerdConfig struct {
	WorkerPath         string   // the Worker's ES module, as `embed` must find it from the config file
	Listen             string   // where workerd serves the Worker
	Engine             string   // edgeinfer's host:port
	Binding            string   // the AI binding's name, usually AI
	KVNamespaces       []string // in-memory KV namespaces to bind, by binding name
	TokenEnv           string   // environment variable holding edgeinfer's API token, if it has one
	CompatibilityDate  string
	CompatibilityFlags []string
}

func newWorkerdConfigCmd(g *globalFlags) *cobra.Command {
	c := workerdConfig{}
	var out string
	cmd := &cobra.Command{
		Use:   "workerd-config",
		Short: "Print a workerd config that runs your Worker with env.AI backed by edgeinfer",
		Long: `Print a workerd config (Cap'n Proto text) that runs an ES-module Worker with
env.AI bound to workerd's own Workers AI binding (cloudflare-internal:ai-api),
its fetcher pointed at edgeinfer. The Worker's env.AI.run, streaming and errors
(InferenceUpstreamError) behave as they do on Cloudflare.

  edgeinfer workerd-config --worker src/index.js --out edgeinfer.capnp
  npx workerd serve edgeinfer.capnp

--kv binds an in-memory KV namespace (lost when workerd exits), enough to
develop code that keeps state such as chat history in KV.

When edgeinfer requires an API token (--api-token, as it must beyond loopback),
--token-env names the environment variable workerd reads it from; the config
then routes the binding through a small Worker that adds the Authorization
header, so the token never lands in the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("engine") {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				c.Engine = envOr("EDGEINFER_ADDR", cfg.Server.Addr)
			}
			engineAddr, err := dialAddress(c.Engine)
			if err != nil {
				return err
			}
			c.Engine = engineAddr
			if out != "" {
				// embed paths resolve against the config file's folder.
				if c.WorkerPath, err = relativeTo(filepath.Dir(out), c.WorkerPath); err != nil {
					return err
				}
			}
			text, err := c.render()
			if err != nil {
				return err
			}
			if out == "" {
				_, err = io.WriteString(cmd.OutOrStdout(), text)
				return err
			}
			return os.WriteFile(out, []byte(text), 0o644)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.WorkerPath, "worker", "src/index.js", "the Worker's main ES module")
	f.StringVar(&c.Listen, "listen", "127.0.0.1:8787", "address workerd serves the Worker on")
	f.StringVar(&c.Engine, "engine", "", "edgeinfer's address (default: server.addr of the config, or EDGEINFER_ADDR)")
	f.StringVar(&c.Binding, "binding", "AI", "name of the AI binding in env")
	f.StringSliceVar(&c.KVNamespaces, "kv", nil, "bind an in-memory KV namespace under this name (repeatable)")
	f.StringVar(&c.TokenEnv, "token-env", "", "environment variable holding edgeinfer's API token, sent as a bearer token")
	f.StringVar(&c.CompatibilityDate, "compatibility-date", defaultCompatibilityDate, "the Worker's compatibility date")
	f.StringSliceVar(&c.CompatibilityFlags, "compatibility-flag", nil, "a compatibility flag such as nodejs_compat (repeatable)")
	f.StringVarP(&out, "out", "o", "", "write the config to this file instead of stdout")
	return cmd
}

// dialAddress turns a listen address into one a client can dial: a wildcard
// host becomes loopback.
func dialAddress(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("edgeinfer address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

func relativeTo(dir, path string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.Rel(absDir, absPath)
}

// jsIdentifier is what a binding name must look like to be a property of env.
var jsIdentifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c workerdConfig) validate() error {
	names := map[string]bool{}
	for _, name := range append([]string{c.Binding}, c.KVNamespaces...) {
		if !jsIdentifier.MatchString(name) {
			return fmt.Errorf("binding name %q is not a JavaScript identifier", name)
		}
		if names[name] {
			return fmt.Errorf("binding name %q is used twice", name)
		}
		names[name] = true
	}
	if c.TokenEnv != "" && !envName.MatchString(c.TokenEnv) {
		return fmt.Errorf("--token-env %q is not an environment variable name", c.TokenEnv)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen address %q: %w", c.Listen, err)
	}
	if c.WorkerPath == "" {
		return fmt.Errorf("--worker is required")
	}
	return nil
}

// render writes the config as Cap'n Proto text.
func (c workerdConfig) render() (string, error) {
	if err := c.validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# workerd config written by `edgeinfer workerd-config`.\n")
	p("# Runs %s on http://%s with env.%s bound to workerd's Workers AI\n", c.WorkerPath, c.Listen, c.Binding)
	p("# binding, whose requests go to edgeinfer at %s.\n", c.Engine)
	p("#   npx workerd serve <this file>\n")
	p("using Workerd = import \"/workerd/workerd.capnp\";\n\n")
	p("const config :Workerd.Config = (\n  services = [\n")
	p("    (name = \"worker\", worker = .worker),\n")
	// edgeinfer speaks the binding protocol (POST /run?version=3) itself,
	// so the binding's fetcher is edgeinfer's address, reached over plain HTTP.
	engineService := "edgeinfer"
	if c.TokenEnv != "" {
		engineService = "edgeinfer-http"
		p("    (name = \"edgeinfer\", worker = .bearerToken),\n")
	}
	p("    (name = %s, external = (address = %s, http = ())),\n", capnpString(engineService), capnpString(c.Engine))
	for _, ns := range c.KVNamespaces {
		p("    (name = %s, worker = .memoryKV),\n", capnpString("kv-"+ns))
	}
	p("  ],\n  sockets = [(name = \"http\", address = %s, http = (), service = \"worker\")],\n);\n\n", capnpString(c.Listen))

	p("const worker :Workerd.Worker = (\n")
	p("  modules = [(name = %s, esModule = embed %s)],\n", capnpString(filepath.Base(c.WorkerPath)), capnpString(filepath.ToSlash(c.WorkerPath)))
	p("  compatibilityDate = %s,\n", capnpString(c.CompatibilityDate))
	if len(c.CompatibilityFlags) > 0 {
		p("  compatibilityFlags = [%s],\n", capnpList(c.CompatibilityFlags))
	}
	p("  bindings = [\n")
	p("    (name = %s, wrapped = (moduleName = \"cloudflare-internal:ai-api\", innerBindings = [(name = \"fetcher\", service = \"edgeinfer\")])),\n", capnpString(c.Binding))
	for _, ns := range c.KVNamespaces {
		p("    (name = %s, kvNamespace = %s),\n", capnpString(ns), capnpString("kv-"+ns))
	}
	p("  ],\n);\n")

	if c.TokenEnv != "" {
		p("\n# Adds edgeinfer's API token, read from $%s, to every binding request.\n", c.TokenEnv)
		p("const bearerToken :Workerd.Worker = (\n")
		p("  modules = [(name = \"bearer-token.js\", esModule = %s)],\n", capnpString(bearerTokenModule))
		p("  compatibilityDate = %s,\n", capnpString(defaultCompatibilityDate))
		p("  bindings = [(name = \"TOKEN\", fromEnvironment = %s), (name = \"ENGINE\", service = \"edgeinfer-http\")],\n);\n", capnpString(c.TokenEnv))
	}
	if len(c.KVNamespaces) > 0 {
		p("\n# Each KV namespace is its own service, so each has its own isolate and store.\n")
		p("const memoryKV :Workerd.Worker = (\n")
		p("  modules = [(name = \"memory-kv.js\", esModule = %s)],\n", capnpString(memoryKVModule))
		p("  compatibilityDate = %s,\n);\n", capnpString(defaultCompatibilityDate))
	}
	return b.String(), nil
}

func capnpString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func capnpList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = capnpString(s)
	}
	return strings.Join(quoted, ", ")
}

// memoryKVModule answers the HTTP protocol that workerd's KV binding speaks
// to its backing service (GET/PUT/DELETE /<key>, GET /?prefix= to list), from
// a Map. Expiration and metadata are kept but never enforced.
const memoryKVModule = `const store = new Map();
const keyOf = (url) => {
  const raw = url.pathname.slice(1);
  return url.searchParams.get("urlencoded") === "true" ? decodeURIComponent(raw) : raw;
};
export default {
  async fetch(req) {
    const url = new URL(req.url);
    if (req.method === "GET" && url.pathname === "/") {
      const prefix = url.searchParams.get("prefix") ?? "";
      const limit = Number(url.searchParams.get("key_count_limit") ?? 1000);
      const keys = [...store.keys()].filter((k) => k.startsWith(prefix)).sort().slice(0, limit)
        .map((name) => ({ name, metadata: store.get(name).metadata ?? undefined }));
      return Response.json({ keys, list_complete: true, cacheStatus: null });
    }
    const key = keyOf(url);
    switch (req.method) {
      case "GET": {
        const entry = store.get(key);
        if (!entry) return new Response("Not Found", { status: 404 });
        const headers = entry.metadata ? { "CF-KV-Metadata": entry.metadata } : {};
        return new Response(entry.value, { headers });
      }
      case "PUT":
        store.set(key, { value: await req.arrayBuffer(), metadata: req.headers.get("CF-KV-Metadata") });
        return new Response(null);
      case "DELETE":
        store.delete(key);
        return new Response(null);
    }
    return new Response("Method Not Allowed", { status: 405 });
  },
};
`

// bearerTokenModule forwards binding requests to edgeinfer with its API token.
const bearerTokenModule = `export default {
  fetch(request, env) {
    const headers = new Headers(request.headers);
    headers.set("authorization", "Bearer " + env.TOKEN);
    return env.ENGINE.fetch(new Request(request, { headers }));
  },
};
`

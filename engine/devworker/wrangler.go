package devworker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// ConfigNames are the wrangler config files wrangler 4 looks for, in its order.
var ConfigNames = []string{"wrangler.json", "wrangler.jsonc", "wrangler.toml"}

// enhancedErrorsDate is the compatibility date from which workerd's
// enhanced_error_serialization is on by default: an error thrown across RPC
// keeps its name (and own properties) instead of folding the name into the message.
const enhancedErrorsDate = "2026-04-21"

// minDevWorkerDate is the oldest compatibility date the AI worker runs with
// (JS RPC to a WorkerEntrypoint needs 2024-04-03 or later).
const minDevWorkerDate = "2025-01-01"

// Config is a user's wrangler config file, parsed into its JSON form.
type Config struct {
	Path string
	Raw  map[string]any
}

// FindConfig returns the wrangler config in dir, the first of ConfigNames that exists.
func FindConfig(dir string) (string, error) {
	for _, name := range ConfigNames {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no wrangler config (%s) in %s", strings.Join(ConfigNames, ", "), dir)
}

// ReadConfig parses a wrangler.toml, wrangler.json or wrangler.jsonc.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw := map[string]any{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		err = toml.Unmarshal(data, &raw)
	case ".json", ".jsonc":
		dec := json.NewDecoder(bytes.NewReader(StripJSONC(data)))
		dec.UseNumber()
		err = dec.Decode(&raw)
	default:
		return nil, fmt.Errorf("%s: a wrangler config ends in .toml, .json or .jsonc", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Config{Path: path, Raw: raw}, nil
}

// AIBinding returns the name of the config's AI binding (top level, or the
// first environment that declares one), or "" when it has none.
func (c *Config) AIBinding() string {
	if name := aiBindingName(c.Raw); name != "" {
		return name
	}
	envs, _ := c.Raw["env"].(map[string]any)
	for _, key := range sortedKeys(envs) {
		if env, ok := envs[key].(map[string]any); ok {
			if name := aiBindingName(env); name != "" {
				return name
			}
		}
	}
	return ""
}

func aiBindingName(section map[string]any) string {
	ai, _ := section["ai"].(map[string]any)
	name, _ := ai["binding"].(string)
	return name
}

// ErrorNames reports whether the Worker's runtime receives an RPC error's
// name intact (enhanced_error_serialization, by flag or by date). runtimeDate
// is the newest compatibility date the installed workerd supports ("" when
// unknown): a runtime older than the feature does not have it, whatever the
// config asks.
func (c *Config) ErrorNames(runtimeDate string) bool {
	if runtimeDate != "" && runtimeDate < enhancedErrorsDate {
		return false
	}
	flags := c.flags()
	if slices.Contains(flags, "enhanced_error_serialization") {
		return true
	}
	date, _ := c.Raw["compatibility_date"].(string)
	return date >= enhancedErrorsDate && !slices.Contains(flags, "legacy_error_serialization")
}

// DevWorkerCompatibility returns the compatibility date and flags for the AI
// worker: the Worker's own where they decide how errors cross RPC, so both
// ends serialize errors alike.
func (c *Config) DevWorkerCompatibility() (string, []string) {
	date, _ := c.Raw["compatibility_date"].(string)
	date = max(date, minDevWorkerDate)
	var flags []string
	for _, f := range c.flags() {
		if f == "enhanced_error_serialization" || f == "legacy_error_serialization" {
			flags = append(flags, f)
		}
	}
	return date, flags
}

func (c *Config) flags() []string {
	list, _ := c.Raw["compatibility_flags"].([]any)
	var flags []string
	for _, f := range list {
		if s, ok := f.(string); ok {
			flags = append(flags, s)
		}
	}
	return flags
}

// Derive returns the config with every AI binding (top level and per
// environment) replaced by a service binding of the same name to the AI
// worker's entrypoint. The receiver is not modified.
func (c *Config) Derive() map[string]any {
	out := replaceAI(c.Raw)
	if envs, ok := c.Raw["env"].(map[string]any); ok {
		derived := make(map[string]any, len(envs))
		for k, v := range envs {
			if env, ok := v.(map[string]any); ok {
				derived[k] = replaceAI(env)
			} else {
				derived[k] = v
			}
		}
		out["env"] = derived
	}
	return out
}

func replaceAI(section map[string]any) map[string]any {
	out := make(map[string]any, len(section))
	for k, v := range section {
		out[k] = v
	}
	name := aiBindingName(section)
	if name == "" {
		return out
	}
	delete(out, "ai")
	services, _ := section["services"].([]any)
	services = append(slices.Clone(services), map[string]any{
		"binding":    name,
		"service":    WorkerName,
		"entrypoint": Entrypoint,
	})
	out["services"] = services
	return out
}

// DerivedPath is where WriteDerived puts the derived config: beside the
// user's, so every path in it (main, assets, .dev.vars, .wrangler/) resolves
// as it does from the original.
func DerivedPath(userConfig string) string {
	base := strings.TrimSuffix(filepath.Base(userConfig), filepath.Ext(userConfig))
	return filepath.Join(filepath.Dir(userConfig), ".edgeinfer-dev."+base+".json")
}

// WriteDerived writes Derive's result to DerivedPath and returns the path.
func (c *Config) WriteDerived() (string, error) {
	path := DerivedPath(c.Path)
	data, err := json.MarshalIndent(c.Derive(), "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

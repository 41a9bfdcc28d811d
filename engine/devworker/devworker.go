// Package devworker is what `edgeinfer dev` gives the Workers tools: the small
// local Worker that serves a Worker's AI binding (ai-worker.js, a
// WorkerEntrypoint whose RPC methods forward to edgeinfer over HTTP), and the
// derived wrangler config that binds AI to it instead of to Cloudflare.
package devworker

import (
	_ "embed"
	"encoding/json"
	"os"
	"path/filepath"
)

//go:embed ai-worker.js
var workerJS []byte

const (
	// WorkerName is the AI worker's name in a dev session.
	WorkerName = "edgeinfer-ai"
	// Entrypoint is the class a Worker's AI service binding names.
	Entrypoint = "EdgeinferAI"
	// workerFile is the AI worker's module file name.
	workerFile = "ai-worker.js"
)

// WorkerOptions configure the AI worker.
type WorkerOptions struct {
	EngineURL          string   // edgeinfer's base URL, e.g. http://127.0.0.1:8790
	APIToken           string   // edgeinfer's API token, if it requires one
	ErrorNames         bool     // the calling Worker receives RPC error names (Config.ErrorNames)
	CompatibilityDate  string   // from Config.DevWorkerCompatibility
	CompatibilityFlags []string // from Config.DevWorkerCompatibility
}

// WorkerSource returns ai-worker.js.
func WorkerSource() []byte { return workerJS }

// WriteWorker writes ai-worker.js and its wrangler config (wrangler.json)
// into dir and returns the config's path.
func WriteWorker(dir string, o WorkerOptions) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, workerFile), workerJS, 0o644); err != nil {
		return "", err
	}
	vars := map[string]any{"EDGEINFER_URL": o.EngineURL, "EDGEINFER_ERROR_NAMES": boolString(o.ErrorNames)}
	if o.APIToken != "" {
		vars["EDGEINFER_API_TOKEN"] = o.APIToken
	}
	date := o.CompatibilityDate
	if date == "" {
		date = minDevWorkerDate
	}
	cfg := map[string]any{
		"name":                WorkerName,
		"main":                workerFile,
		"compatibility_date":  date,
		"compatibility_flags": append([]string{}, o.CompatibilityFlags...),
		"vars":                vars,
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "wrangler.json")
	// 0600: the file may hold edgeinfer's API token.
	return path, os.WriteFile(path, append(data, '\n'), 0o600)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

package llm

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
)

// exampleLocalModel is the local model the no-local-path message suggests.
const exampleLocalModel = "qwen3:30b-a3b"

// noLocalPath refuses a model with no local equivalent unless the config
// maps it onto a local Ollama model, saying how in one config line.
func noLocalPath(spec engine.ModelSpec) error {
	if !spec.Entry.NoLocalPath || spec.Config.Ollama != "" {
		return nil
	}
	return &engine.Error{Kind: engine.KindNotInstalled, Message: fmt.Sprintf(
		"Model %s has no local equivalent (Workers AI runs it on its own hardware); map it onto a local model in the config file: models.%q: {ollama: %q}",
		spec.Entry.ID, spec.Entry.ID, exampleLocalModel)}
}

// checkOllamaVersion refuses a model whose architecture needs a newer
// Ollama than the server in use, naming both versions.
func checkOllamaVersion(ctx context.Context, client *api.Client, spec engine.ModelSpec) error {
	return refuseOldOllama(spec, func() (string, error) {
		have, err := client.Version(ctx)
		if err != nil {
			return "", ollamaUnreachable(err)
		}
		return have, nil
	})
}

// refuseOldOllama is checkOllamaVersion's rule with the version from
// version, asked only when the model names a minimum.
func refuseOldOllama(spec engine.ModelSpec, version func() (string, error)) error {
	need := spec.Entry.MinOllama
	if need == "" || spec.Config.Ollama != "" && spec.Config.Ollama != spec.Entry.Artifacts.Ollama {
		return nil // a configured substitute is the user's choice
	}
	have, err := version()
	if err != nil || have == "" || !olderVersion(have, need) {
		return err
	}
	return &engine.Error{Kind: engine.KindNotInstalled, Message: fmt.Sprintf(
		"Model %s needs Ollama %s or newer; the Ollama in use is %s: point OLLAMA_HOST (or server.ollama_host) at a newer Ollama, or map the model onto another in the config file: models.%q: {ollama: \"<tag>\"}",
		spec.Entry.ID, need, have, spec.Entry.ID)}
}

// installedOllamaVersion is the version `make setup` recorded next to the
// managed Ollama binary (bin/ollama.version); "" when it recorded none.
func installedOllamaVersion(paths home.Paths) string {
	raw, err := os.ReadFile(paths.OllamaBin + ".version")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

// olderVersion reports whether version a is older than b, comparing the
// dotted numbers ("0.17.4" < "0.20.0"); a version that does not parse
// (a development build) is taken as new enough.
func olderVersion(a, b string) bool {
	pa, okA := versionNumbers(a)
	pb, okB := versionNumbers(b)
	if !okA || !okB {
		return false
	}
	for i := range max(len(pa), len(pb)) {
		x, y := at(pa, i), at(pb, i)
		if x != y {
			return x < y
		}
	}
	return false
}

func versionNumbers(v string) ([]int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	v, _, _ = strings.Cut(v, "-") // 0.17.4-rc1 compares as 0.17.4
	var out []int
	for _, part := range strings.Split(v, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}

func at(v []int, i int) int {
	if i < len(v) {
		return v[i]
	}
	return 0
}

// logAnswer says once per model which Ollama model answers a retired
// Workers AI ID, so a user reading the log knows what old code talks to.
func (b *Backend) logAnswer(spec engine.ModelSpec, src source) {
	e := spec.Entry
	if e.Retired == "" {
		return
	}
	if _, seen := b.answered.LoadOrStore(e.ID, true); seen {
		return
	}
	by := "its original model"
	switch {
	case src.Synthetic:
		by = "the synthetic demo model"
	case spec.Config.Ollama != "":
		by = "the configured model"
	case e.AnsweredBy != "":
		by = "its successor " + e.AnsweredBy
	}
	b.logger().Info("retired Workers AI model answered by "+by, "model", e.ID, "retired", e.Retired, "ollama", src.Tag)
}

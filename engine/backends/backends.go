// Package backends is the one place that names concrete backends: it maps
// each catalog backend kind to its implementation. Kinds without an entry
// answer "not available in this build".
package backends

import (
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/bert"
	"github.com/edgeinfer/edgeinfer/models/embeddinggemma"
	"github.com/edgeinfer/edgeinfer/models/llm"
	"github.com/edgeinfer/edgeinfer/models/m2m100"
	"github.com/edgeinfer/edgeinfer/models/qwen3embed"
	"github.com/edgeinfer/edgeinfer/models/resnet"
	"github.com/edgeinfer/edgeinfer/models/whisper"
)

// All returns the backends compiled into this build, by kind, configured
// from cfg where a backend needs server-wide settings.
func All(cfg engine.Config) map[string]engine.Backend {
	return map[string]engine.Backend{
		bert.Kind:           bert.Backend{},
		embeddinggemma.Kind: embeddinggemma.Backend{},
		m2m100.Kind:         m2m100.Backend{},
		qwen3embed.Kind:     qwen3embed.Backend{},
		resnet.Kind:         resnet.Backend{MaxImagePixels: cfg.Server.MaxImagePixels},
		whisper.Kind:        whisper.Backend{},
		llm.Kind:            &llm.Backend{URL: cfg.Server.OllamaHost},
	}
}

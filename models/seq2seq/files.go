package seq2seq

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Files is what a model directory provides: the encoder and either the
// merged decoder or the pair, paths relative to the model directory ("" if
// absent), and the weight variant they belong to.
type Files struct {
	Variant                          string
	Encoder, Merged, First, WithPast string
}

// Layout names a family's files: the fallback variants (optimum's names)
// for models the catalog does not describe, and the files read besides
// the weights.
type Layout struct {
	Fallback   map[string][]string
	Companions []string
}

// Locate picks the variant to serve and its files, and lists the files
// the model needs. A configured variant (models.<id>.variant) is served as
// configured. Otherwise the device's default serves (ModelSpec.Variant:
// the catalog's int8 on the CPU, fp32 on a CUDA device, which `edgeinfer
// pull` fetches too). When the preferred variant's files are absent and
// the other's are present, the other one serves, so a directory pulled or
// synthesized with either works on both devices.
func (l Layout) Locate(spec engine.ModelSpec) (Files, []string, error) {
	if spec.Config.Variant != "" {
		return l.locateVariant(spec)
	}
	preferred, other := spec.Variant(), spec.Entry.Artifacts.DefaultVariant
	if other == "" || other == preferred {
		other = "fp32"
	}
	files, need, err := l.locateVariant(withVariant(spec, preferred))
	if err != nil || preferred == other || onnxdir.Installed(spec, need) {
		return files, need, err
	}
	if alt, altNeed, altErr := l.locateVariant(withVariant(spec, other)); altErr == nil && onnxdir.Installed(spec, altNeed) {
		return alt, altNeed, nil
	}
	return files, need, err // reported missing by Inspect
}

// Check is an engine.Backend's Check for a model laid out as l.
func (l Layout) Check(spec engine.ModelSpec) (engine.Installation, error) {
	_, need, err := l.Locate(spec)
	if err != nil {
		return engine.Installation{}, err
	}
	return onnxdir.Inspect(spec, need)
}

func withVariant(spec engine.ModelSpec, variant string) engine.ModelSpec {
	spec.Config.Variant = variant
	return spec
}

// locateVariant picks the files of spec's variant. The catalog names the
// merged decoder; when it is absent, decoder_model + decoder_with_past_model
// of the same variant serve instead.
func (l Layout) locateVariant(spec engine.ModelSpec) (Files, []string, error) {
	weights, err := onnxdir.VariantFiles(spec, l.Fallback)
	if err != nil {
		return Files{}, nil, err
	}
	f := Files{Variant: spec.Variant()}
	for _, w := range weights {
		// A variant may list external-data files (encoder_model.onnx_data
		// of a large export); ONNX Runtime reads them beside the graph and
		// names one that is missing, and small exports have none.
		if filepath.Ext(w) != ".onnx" {
			continue
		}
		switch base := filepath.Base(w); {
		case strings.HasPrefix(base, "encoder_model"):
			f.Encoder = w
		case strings.HasPrefix(base, "decoder_model_merged"):
			f.Merged = w
		}
	}
	if f.Encoder == "" || f.Merged == "" {
		return Files{}, nil, &engine.Error{Kind: engine.KindNotInstalled,
			Message: fmt.Sprintf("Model %s: variant %q does not list an encoder_model and a decoder_model_merged file", spec.Entry.ID, spec.Variant())}
	}
	need := append(slices.Clone(l.Companions), f.Encoder)
	suffix := strings.TrimPrefix(filepath.Base(f.Merged), "decoder_model_merged")
	pairFirst := filepath.ToSlash(filepath.Join(filepath.Dir(f.Merged), "decoder_model"+suffix))
	pairPast := filepath.ToSlash(filepath.Join(filepath.Dir(f.Merged), "decoder_with_past_model"+suffix))
	dir := spec.Dir()
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		return err == nil
	}
	if exists(pairFirst) {
		f.First = pairFirst
	}
	switch {
	case exists(f.Merged):
		need = append(need, f.Merged)
	case f.First != "" && exists(pairPast):
		f.Merged, f.WithPast = "", pairPast
		need = append(need, f.First, f.WithPast)
	default:
		need = append(need, f.Merged) // reported missing by Inspect
	}
	return f, need, nil
}

// Open opens the encoder and the decoder sessions of files: for cached
// decoding the merged file, else the pair; for recomputation only a
// decoder that runs without a past. The decoder is inspected (each session
// must declare the inputs named) and every session must be float32.
func Open(spec engine.ModelSpec, files Files, recompute bool, vocab, dModel int, inputs ...string) (*ort.Session, *Decoder, error) {
	dir, opts := spec.Dir(), onnxdir.SessionOptions(spec.Config)
	openFile := func(rel string) (*ort.Session, error) {
		if rel == "" {
			return nil, nil
		}
		return ort.Open(filepath.Join(dir, filepath.FromSlash(rel)), opts)
	}
	dec := &Decoder{Vocab: vocab, DModel: dModel}
	var enc *ort.Session
	fail := func(err error) (*ort.Session, *Decoder, error) {
		dec.Close()
		if enc != nil {
			enc.Close()
		}
		return nil, nil, err
	}
	var err error
	if enc, err = openFile(files.Encoder); err != nil {
		return fail(err)
	}
	type toOpen struct {
		dst **ort.Session
		rel string
	}
	var sessions []toOpen
	switch {
	case recompute && files.First != "":
		sessions = []toOpen{{&dec.First, files.First}}
	case recompute || files.Merged != "":
		sessions = []toOpen{{&dec.Merged, files.Merged}}
	default:
		sessions = []toOpen{{&dec.First, files.First}, {&dec.WithPast, files.WithPast}}
	}
	for _, f := range sessions {
		if *f.dst, err = openFile(f.rel); err != nil {
			return fail(err)
		}
	}
	if err := dec.Inspect(inputs...); err != nil {
		return fail(err)
	}
	if enc.OutputIndex("last_hidden_state") < 0 {
		return fail(fmt.Errorf("%s declares no last_hidden_state output", enc.Path()))
	}
	if err := Float32Only(append([]*ort.Session{enc}, dec.Sessions()...)...); err != nil {
		return fail(err)
	}
	return enc, dec, nil
}

// Float32Only refuses a half-precision export: the search keeps logits and
// key/value caches as float32 in Go memory. (The catalog offers no fp16
// variant of these models; this catches one put in place of another.)
func Float32Only(sessions ...*ort.Session) error {
	for _, s := range sessions {
		if s == nil {
			continue
		}
		for _, info := range slices.Concat(s.Inputs(), s.Outputs()) {
			if info.Type == ort.Float16 {
				return fmt.Errorf("%s: %s is float16; encoder-decoder models run float32 exports only (use the fp32 or int8 variant)", s.Path(), info.Name)
			}
		}
	}
	return nil
}

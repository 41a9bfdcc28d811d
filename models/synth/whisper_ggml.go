package synth

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/x448/float16"
)

// ggmlMagic opens every legacy ggml model file ("ggml" as a little-endian
// uint32).
const ggmlMagic = 0x67676d6c

// whisper.cpp's tensor types in the legacy format.
const (
	ggmlF32 = 0
	ggmlF16 = 1
)

// WriteWhisperGGML writes the synthetic Whisper in dir (a directory
// `models synth` wrote) as a whisper.cpp model file at path, in the legacy
// format whisper.cpp's whisper_model_load reads and OpenAI's
// convert-pt-to-ggml.py writes: magic, hparams, mel filters, the byte
// strings of the tokens below <|endoftext|>, then every tensor under
// OpenAI's names in PyTorch's layout. The weights are the ONNX files'
// own: they are drawn again from config.json's seed by the same
// generator. Matrices are stored in half precision (ftype 1), as in the
// published ggml-*.bin files: whisper.cpp's CPU convolution (im2col) takes
// only float16 kernels, so an all-float32 file does not run.
func WriteWhisperGGML(dir, path string) error {
	d, seed, err := readWhisperGGMLConfig(dir)
	if err != nil {
		return err
	}
	tokens, err := whisperGGMLTokens(dir, d.Vocab)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := &ggmlWriter{w: bufio.NewWriterSize(f, 1<<20)}
	w.header(d)
	w.melFilters(whisperMelFilters(d.Mels))
	w.vocab(tokens)
	writeWhisperGGMLTensors(w, d, seed)
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if err := f.Close(); w.err == nil {
		w.err = err
	}
	if w.err != nil {
		os.Remove(path)
		return fmt.Errorf("whisper ggml %s: %w", path, w.err)
	}
	return nil
}

// readWhisperGGMLConfig reads the dimensions and seed of a synthetic
// Whisper from its config.json, and checks the shape whisper.cpp assumes.
func readWhisperGGMLConfig(dir string) (WhisperDims, uint64, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return WhisperDims{}, 0, err
	}
	var c struct {
		Synthetic     bool   `json:"edgeinfer_synthetic"`
		Seed          uint64 `json:"edgeinfer_seed"`
		DModel        int    `json:"d_model"`
		Heads         int    `json:"encoder_attention_heads"`
		EncoderLayers int    `json:"encoder_layers"`
		DecoderLayers int    `json:"decoder_layers"`
		FFN           int    `json:"encoder_ffn_dim"`
		Mels          int    `json:"num_mel_bins"`
		Vocab         int    `json:"vocab_size"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return WhisperDims{}, 0, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	if !c.Synthetic || c.Seed == 0 {
		return WhisperDims{}, 0, fmt.Errorf("%s: not a synthetic Whisper (no edgeinfer_synthetic/edgeinfer_seed in config.json): its weights cannot be drawn again", dir)
	}
	d := WhisperDims{DModel: c.DModel, Heads: c.Heads, EncoderLayers: c.EncoderLayers, DecoderLayers: c.DecoderLayers,
		FFN: c.FFN, Mels: c.Mels, Vocab: c.Vocab}
	// whisper.cpp sizes the MLP as 4·n_state and needs whole heads.
	if d.DModel <= 0 || d.Heads <= 0 || d.DModel%d.Heads != 0 || d.FFN != 4*d.DModel {
		return WhisperDims{}, 0, fmt.Errorf("%s: d_model %d, %d heads, ffn %d: whisper.cpp needs ffn = 4·d_model and whole heads", dir, d.DModel, d.Heads, d.FFN)
	}
	return d, c.Seed, nil
}

// whisperGGMLTokens returns the byte strings of the tokens below
// <|endoftext|> (50256 for English-only vocabularies, 50257 for
// multilingual ones), as convert-pt-to-ggml.py writes them from the
// tiktoken ranks: vocab.json's byte-level symbols mapped back to bytes.
// IDs the vocabulary lacks are written empty. whisper.cpp names the
// special tokens after them itself.
func whisperGGMLTokens(dir string, vocabSize int) ([][]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	var vocab map[string]int
	if err := json.Unmarshal(raw, &vocab); err != nil {
		return nil, fmt.Errorf("%s/vocab.json: %w", dir, err)
	}
	n := newWhisperSpecial(vocabSize >= 51865).eot
	byteOf := map[rune]byte{}
	for b, r := range byteToRune {
		byteOf[r] = byte(b)
	}
	tokens := make([][]byte, n)
	for piece, id := range vocab {
		if id < 0 || id >= n {
			continue
		}
		var b []byte
		for _, r := range piece {
			v, ok := byteOf[r]
			if !ok {
				return nil, fmt.Errorf("%s/vocab.json: token %d %q is not byte-level", dir, id, piece)
			}
			b = append(b, v)
		}
		tokens[id] = b
	}
	return tokens, nil
}

// ggmlWriter writes little-endian values and keeps the first error.
type ggmlWriter struct {
	w   *bufio.Writer
	err error
}

func (w *ggmlWriter) put(v any) {
	if w.err == nil {
		w.err = binary.Write(w.w, binary.LittleEndian, v)
	}
}

// header writes the magic and whisper.cpp's eleven hparams.
func (w *ggmlWriter) header(d WhisperDims) {
	w.put(uint32(ggmlMagic))
	w.put([]int32{int32(d.Vocab), WhisperSourcePositions, int32(d.DModel), int32(d.Heads), int32(d.EncoderLayers),
		WhisperTargetPositions, int32(d.DModel), int32(d.Heads), int32(d.DecoderLayers), int32(d.Mels), ggmlF16})
}

func (w *ggmlWriter) melFilters(filters [][]float32) {
	w.put([]int32{int32(len(filters)), int32(len(filters[0]))})
	for _, row := range filters {
		w.put(row)
	}
}

func (w *ggmlWriter) vocab(tokens [][]byte) {
	w.put(int32(len(tokens)))
	for _, t := range tokens {
		w.put(uint32(len(t)))
		w.put(t)
	}
}

// tensor writes one tensor: dims count, name length, type, the dims
// innermost first (PyTorch's shape reversed), the name, the data.
// Matrices go in half precision, except what convert-pt-to-ggml.py keeps
// float32 (biases, norms, positions).
func (w *ggmlWriter) tensor(name string, shape []int, data []float32) {
	half := len(shape) >= 2 && !strings.HasSuffix(name, "positional_embedding") && !strings.HasSuffix(name, ".bias")
	typ := int32(ggmlF32)
	if half {
		typ = ggmlF16
	}
	w.put([]int32{int32(len(shape)), int32(len(name)), typ})
	for i := len(shape) - 1; i >= 0; i-- {
		w.put(int32(shape[i]))
	}
	w.put([]byte(name))
	if !half {
		w.put(data)
		return
	}
	bits := make([]uint16, len(data))
	for i, v := range data {
		bits[i] = float16.Fromfloat32(v).Bits()
	}
	w.put(bits)
}

// writeWhisperGGMLTensors writes every tensor whisper.cpp loads, drawing
// each from the generator under its transformers name. A fresh weight set
// per block keeps one block in memory at a time (a value depends only on
// the seed and its name).
func writeWhisperGGMLTensors(w *ggmlWriter, d WhisperDims, seed uint64) {
	ww := newWhisperWeights(d, seed)
	pe := ww.encoderPositions()
	w.tensor("encoder.positional_embedding", []int{WhisperSourcePositions, d.DModel}, ww.values[pe.Name])
	for n, in := range []int{d.Mels, d.DModel} {
		n++ // conv1 reads the mels, conv2 the first convolution
		weight, bias := ww.conv(n, in)
		w.tensor(fmt.Sprintf("encoder.conv%d.weight", n), []int{d.DModel, in, 3}, ww.values[weight.Name])
		w.tensor(fmt.Sprintf("encoder.conv%d.bias", n), []int{d.DModel, 1}, ww.values[bias.Name])
	}
	for i := range d.EncoderLayers {
		b := ggmlBlock{w: w, ww: newWhisperWeights(d, seed), d: d,
			hf: fmt.Sprintf("model.encoder.layers.%d", i), cpp: fmt.Sprintf("encoder.blocks.%d", i)}
		b.attention("self_attn", "attn")
		b.mlp()
	}
	b := ggmlBlock{w: w, ww: ww, d: d}
	b.norm("model.encoder.layer_norm", "encoder.ln_post")

	ww = newWhisperWeights(d, seed)
	dp := ww.decoderPositions()
	w.tensor("decoder.positional_embedding", []int{WhisperTargetPositions, d.DModel}, ww.values[dp.Name])
	te := ww.tokens()
	w.tensor("decoder.token_embedding.weight", []int{d.Vocab, d.DModel}, ww.values[te.Name])
	b = ggmlBlock{w: w, ww: ww, d: d}
	b.norm("model.decoder.layer_norm", "decoder.ln")
	for i := range d.DecoderLayers {
		b := ggmlBlock{w: w, ww: newWhisperWeights(d, seed), d: d,
			hf: fmt.Sprintf("model.decoder.layers.%d", i), cpp: fmt.Sprintf("decoder.blocks.%d", i)}
		b.attention("self_attn", "attn")
		b.attention("encoder_attn", "cross_attn")
		b.mlp()
	}
}

// ggmlBlock maps one transformer layer's transformers names (hf) onto
// OpenAI's (cpp).
type ggmlBlock struct {
	w       *ggmlWriter
	ww      *whisperWeights
	d       WhisperDims
	hf, cpp string
}

func (b ggmlBlock) norm(hf, cpp string) {
	gain, bias := b.ww.layerNorm(hf)
	b.w.tensor(cpp+".weight", []int{b.d.DModel}, b.ww.values[gain.Name])
	b.w.tensor(cpp+".bias", []int{b.d.DModel}, b.ww.values[bias.Name])
}

// linear writes an nn.Linear as PyTorch stores it, [out, in]: the
// generator keeps [in, out] for ONNX's MatMul, so it is transposed.
func (b ggmlBlock) linear(hf, cpp string, in, out int, withBias bool) {
	weight := b.ww.linearWeight(hf, in, out)
	b.w.tensor(cpp+".weight", []int{out, in}, transpose(b.ww.values[weight.Name], in, out))
	if withBias {
		_, bias := b.ww.linear(hf, in, out)
		b.w.tensor(cpp+".bias", []int{out}, b.ww.values[bias.Name])
	}
}

// attention writes one attention block and the LayerNorm before it
// (self_attn_layer_norm → attn_ln, encoder_attn_layer_norm →
// cross_attn_ln); the key projection has no bias.
func (b ggmlBlock) attention(hf, cpp string) {
	b.norm(b.hf+"."+hf+"_layer_norm", b.cpp+"."+cpp+"_ln")
	d := b.d.DModel
	for _, p := range []struct {
		hf, cpp string
		bias    bool
	}{{"q_proj", "query", true}, {"k_proj", "key", false}, {"v_proj", "value", true}, {"out_proj", "out", true}} {
		b.linear(b.hf+"."+hf+"."+p.hf, b.cpp+"."+cpp+"."+p.cpp, d, d, p.bias)
	}
}

// mlp writes the feed-forward block: final_layer_norm → mlp_ln, fc1 →
// mlp.0, fc2 → mlp.2.
func (b ggmlBlock) mlp() {
	b.norm(b.hf+".final_layer_norm", b.cpp+".mlp_ln")
	b.linear(b.hf+".fc1", b.cpp+".mlp.0", b.d.DModel, b.d.FFN, true)
	b.linear(b.hf+".fc2", b.cpp+".mlp.2", b.d.FFN, b.d.DModel, true)
}

// transpose turns a row-major [rows, cols] matrix into [cols, rows].
func transpose(m []float32, rows, cols int) []float32 {
	t := make([]float32, len(m))
	for r := range rows {
		for c := range cols {
			t[c*rows+r] = m[r*cols+c]
		}
	}
	return t
}

// whisperMelFilters is Whisper's mel filterbank, [n_mels][n_fft/2+1] for
// 16 kHz and n_fft 400: librosa.filters.mel's defaults (Slaney mel scale,
// Slaney area normalization, 0–8 kHz), which OpenAI's mel_filters.npz holds
// and whisper.cpp reads from the model file.
func whisperMelFilters(mels int) [][]float32 {
	const sampleRate, nfft = 16000, 400
	bins := nfft/2 + 1
	hzToMel := func(hz float64) float64 {
		const fSp, minLogHz, minLogMel = 200.0 / 3, 1000.0, 15.0
		if hz < minLogHz {
			return hz / fSp
		}
		return minLogMel + math.Log(hz/minLogHz)/(math.Log(6.4)/27)
	}
	melToHz := func(m float64) float64 {
		const fSp, minLogHz, minLogMel = 200.0 / 3, 1000.0, 15.0
		if m < minLogMel {
			return m * fSp
		}
		return minLogHz * math.Exp((math.Log(6.4)/27)*(m-minLogMel))
	}
	top := hzToMel(sampleRate / 2)
	points := make([]float64, mels+2)
	for i := range points {
		points[i] = melToHz(top * float64(i) / float64(mels+1))
	}
	filters := make([][]float32, mels)
	for m := range mels {
		lo, mid, hi := points[m], points[m+1], points[m+2]
		norm := 2 / (hi - lo)
		filters[m] = make([]float32, bins)
		for k := range bins {
			f := float64(k) * sampleRate / nfft
			v := max(0, min((f-lo)/(mid-lo), (hi-f)/(hi-mid)))
			filters[m][k] = float32(v * norm)
		}
	}
	return filters
}

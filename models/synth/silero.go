package synth

import (
	"context"
	"math"
	"path/filepath"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// SileroModelID is the directory the Whisper backend's VAD filter loads;
// it is no catalog model. The real weights are snakers4/silero-vad's
// src/silero_vad/data/silero_vad.onnx (v5: same interface), copied there
// as SileroModelFile.
const (
	SileroModelID   = "@edgeinfer/silero-vad"
	SileroModelFile = "silero_vad.onnx"
)

// Silero VAD v5's 16 kHz branch: 64 samples of context + 512 new ones, a
// 256-point STFT (hop 128) as a convolution over the input reflect-padded
// by 64 on the right, four encoder convolutions down to 128 channels × 1
// step, an LSTM cell of 128 whose (h, c) is the state, then ReLU, a 1×1
// convolution and a sigmoid.
const (
	sileroContext = 64
	sileroWindow  = 512
	sileroInput   = sileroContext + sileroWindow
	sileroFFT     = 256
	sileroHop     = 128
	sileroBins    = sileroFFT/2 + 1
	sileroHidden  = 128
)

// sileroConvs are the encoder's convolutions: in, out channels and stride
// (kernel 3, padding 1).
var sileroConvs = [][3]int{{sileroBins, 128, 1}, {128, 64, 2}, {64, 64, 2}, {64, 128, 1}}

func init() {
	register(Generator{Model: SileroModelID, Generate: generateSilero})
}

// generateSilero writes the graph (one size: the real model is ~2 MB)
// and a config.json that only marks the directory synthetic.
func generateSilero(ctx context.Context, dir string, o Options) error {
	g := buildSilero(newWeightSource(o.Seed, SileroModelID))
	if err := ctx.Err(); err != nil {
		return err
	}
	m := onnxgraph.NewModel(g)
	m.Metadata = map[string]string{MarkerKey: "true", "upstream": "snakers4/silero-vad v5"}
	if err := m.Save(filepath.Join(dir, SileroModelFile)); err != nil {
		return err
	}
	return writeJSONFile(filepath.Join(dir, "config.json"), map[string]any{MarkerKey: true, "model_type": "silero-vad"})
}

// sileroSTFTBasis is the convolution kernel of the STFT: the real then
// the imaginary parts of a Hann-windowed DFT, [2·129, 1, 256].
func sileroSTFTBasis() []float32 {
	out := make([]float32, 2*sileroBins*sileroFFT)
	for k := 0; k < sileroBins; k++ {
		for n := 0; n < sileroFFT; n++ {
			w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(n)/sileroFFT)
			a := 2 * math.Pi * float64(k*n) / sileroFFT
			out[k*sileroFFT+n] = float32(w * math.Cos(a))
			out[(sileroBins+k)*sileroFFT+n] = float32(-w * math.Sin(a))
		}
	}
	return out
}

// sileroWeights are the generated parameters, by initializer name.
func sileroWeights(ws weightSource) map[string][]float32 {
	w := map[string][]float32{"stft.basis": sileroSTFTBasis()}
	for i, c := range sileroConvs {
		fanIn := c[0] * 3
		name := encoderName(i)
		w[name+".weight"] = ws.uniform(name+".weight", c[1]*fanIn, 0, math.Sqrt2/math.Sqrt(float64(fanIn)))
		w[name+".bias"] = ws.uniform(name+".bias", c[1], 0, 0.05)
	}
	std := 1 / math.Sqrt(3*sileroHidden) // PyTorch's LSTM init: U(±1/√hidden)
	w["lstm.weight_ih_t"] = ws.uniform("lstm.weight_ih_t", sileroHidden*4*sileroHidden, 0, std)
	w["lstm.weight_hh_t"] = ws.uniform("lstm.weight_hh_t", sileroHidden*4*sileroHidden, 0, std)
	w["lstm.bias"] = ws.uniform("lstm.bias", 4*sileroHidden, 0, std)
	w["decoder.weight_t"] = ws.uniform("decoder.weight_t", sileroHidden, 0, 1/math.Sqrt(sileroHidden))
	w["decoder.bias"] = ws.uniform("decoder.bias", 1, 0, 0.1)
	return w
}

func encoderName(i int) string { return "encoder." + string(rune('0'+i)) }

// buildSilero is the graph of the real interface: inputs input [batch,
// 576], state [2, batch, 128], sr (int64 scalar; only 16000 is built);
// outputs output [batch, 1] and stateN [2, batch, 128].
func buildSilero(ws weightSource) *onnxgraph.Graph {
	g := onnxgraph.NewGraph("silero_vad")
	batch := onnxgraph.Dynamic("batch")
	x := g.Input("input", onnxgraph.Float, batch, onnxgraph.Fixed(sileroInput))
	state := g.Input("state", onnxgraph.Float, onnxgraph.Fixed(2), batch, onnxgraph.Fixed(sileroHidden))
	g.Input("sr", onnxgraph.Int64)
	w := sileroWeights(ws)
	param := func(name string, dims ...int64) string { return g.Float32(name, dims, w[name]) }

	x = g.Op("Pad", []string{x, g.Ints(0, 0, 0, sileroContext)}, onnxgraph.AttrString("mode", "reflect"))
	x = g.Op("Unsqueeze", []string{x, g.Ints(1)})
	spec := g.Op("Conv", []string{x, param("stft.basis", 2*sileroBins, 1, sileroFFT)},
		onnxgraph.AttrInts("kernel_shape", sileroFFT), onnxgraph.AttrInts("strides", sileroHop))
	re := g.Op("Slice", []string{spec, g.Ints(0), g.Ints(sileroBins), g.Ints(1)})
	im := g.Op("Slice", []string{spec, g.Ints(sileroBins), g.Ints(2 * sileroBins), g.Ints(1)})
	h := g.Op("Sqrt", []string{g.Op("Add", []string{g.Op("Mul", []string{re, re}), g.Op("Mul", []string{im, im})})})
	for i, c := range sileroConvs {
		name := encoderName(i)
		h = g.Op("Relu", []string{g.Op("Conv", []string{h, param(name+".weight", int64(c[1]), int64(c[0]), 3), param(name+".bias", int64(c[1]))},
			onnxgraph.AttrInts("kernel_shape", 3), onnxgraph.AttrInts("strides", int64(c[2])), onnxgraph.AttrInts("pads", 1, 1))})
	}
	h = g.Op("Squeeze", []string{h, g.Ints(2)})

	h0 := g.Op("Squeeze", []string{g.Op("Slice", []string{state, g.Ints(0), g.Ints(1), g.Ints(0)}), g.Ints(0)})
	c0 := g.Op("Squeeze", []string{g.Op("Slice", []string{state, g.Ints(1), g.Ints(2), g.Ints(0)}), g.Ints(0)})
	gates := g.Op("Add", []string{
		g.Op("Add", []string{
			g.Op("MatMul", []string{h, param("lstm.weight_ih_t", sileroHidden, 4*sileroHidden)}),
			g.Op("MatMul", []string{h0, param("lstm.weight_hh_t", sileroHidden, 4*sileroHidden)})}),
		param("lstm.bias", 4*sileroHidden)})
	ifgo := g.OpN("Split", []string{gates}, 4, onnxgraph.AttrInt("axis", 1)) // PyTorch's gate order
	sig := func(v string) string { return g.Op("Sigmoid", []string{v}) }
	c1 := g.Op("Add", []string{g.Op("Mul", []string{sig(ifgo[1]), c0}), g.Op("Mul", []string{sig(ifgo[0]), g.Op("Tanh", []string{ifgo[2]})})})
	h1 := g.Op("Mul", []string{sig(ifgo[3]), g.Op("Tanh", []string{c1})})
	g.Node("Concat", []string{g.Op("Unsqueeze", []string{h1, g.Ints(0)}), g.Op("Unsqueeze", []string{c1, g.Ints(0)})}, []string{"stateN"}, onnxgraph.AttrInt("axis", 0))

	logit := g.Op("Add", []string{g.Op("MatMul", []string{g.Op("Relu", []string{h1}), param("decoder.weight_t", sileroHidden, 1)}), param("decoder.bias", 1)})
	g.Node("Sigmoid", []string{logit}, []string{"output"})
	g.Output("output", onnxgraph.Float, batch, onnxgraph.Fixed(1))
	g.Output("stateN", onnxgraph.Float, onnxgraph.Fixed(2), batch, onnxgraph.Fixed(sileroHidden))
	return g
}

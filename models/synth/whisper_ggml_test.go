package synth

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/x448/float16"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// ggmlTensor is one tensor read back from a ggml file.
type ggmlTensor struct {
	dims []int // innermost first, as the file stores them
	typ  int32
	data []float32
}

// ggmlFile is a whisper.cpp model file parsed by the test, independently
// of the writer: the layout of whisper.cpp's whisper_model_load.
type ggmlFile struct {
	hparams [11]int32
	melRows int32
	melCols int32
	tokens  []string
	tensors map[string]ggmlTensor
}

func readGGML(t *testing.T, path string) ggmlFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(raw)
	read := func(v any) {
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var magic uint32
	read(&magic)
	if magic != 0x67676d6c {
		t.Fatalf("magic %#x", magic)
	}
	var f ggmlFile
	read(&f.hparams)
	read(&f.melRows)
	read(&f.melCols)
	r.Seek(int64(4*f.melRows*f.melCols), io.SeekCurrent)
	var n int32
	read(&n)
	for range n {
		var l uint32
		read(&l)
		b := make([]byte, l)
		read(b)
		f.tokens = append(f.tokens, string(b))
	}
	f.tensors = map[string]ggmlTensor{}
	for r.Len() > 0 {
		var head [3]int32
		read(&head)
		dims := make([]int32, head[0])
		read(dims)
		name := make([]byte, head[1])
		read(name)
		tt := ggmlTensor{typ: head[2]}
		count := 1
		for _, d := range dims {
			tt.dims = append(tt.dims, int(d))
			count *= int(d)
		}
		switch head[2] {
		case 0:
			tt.data = make([]float32, count)
			read(tt.data)
		case 1:
			bits := make([]uint16, count)
			read(bits)
			for _, b := range bits {
				tt.data = append(tt.data, float16.Frombits(b).Float32())
			}
		default:
			t.Fatalf("%s: type %d", name, head[2])
		}
		f.tensors[string(name)] = tt
	}
	return f
}

// whisperCppName maps a transformers initializer name to OpenAI's, the
// names whisper.cpp looks up, and says whether the matrix is a Linear
// weight (stored [in, out] in ONNX, [out, in] by PyTorch).
func whisperCppName(hf string) (name string, linear bool) {
	for _, r := range [][2]string{
		{"model.encoder.embed_positions.weight", "encoder.positional_embedding"},
		{"model.decoder.embed_positions.weight", "decoder.positional_embedding"},
		{"model.decoder.embed_tokens.weight", "decoder.token_embedding.weight"},
		{"model.encoder.layer_norm.", "encoder.ln_post."},
		{"model.decoder.layer_norm.", "decoder.ln."},
		{"model.encoder.layers.", "encoder.blocks."},
		{"model.decoder.layers.", "decoder.blocks."},
		{"model.encoder.", "encoder."},
		{".self_attn_layer_norm.", ".attn_ln."},
		{".encoder_attn_layer_norm.", ".cross_attn_ln."},
		{".final_layer_norm.", ".mlp_ln."},
		{".self_attn.", ".attn."},
		{".encoder_attn.", ".cross_attn."},
		{".q_proj.", ".query."}, {".k_proj.", ".key."}, {".v_proj.", ".value."}, {".out_proj.", ".out."},
		{".fc1.", ".mlp.0."}, {".fc2.", ".mlp.2."},
	} {
		hf = strings.Replace(hf, r[0], r[1], 1)
	}
	linear = strings.HasSuffix(hf, ".weight") && (strings.Contains(hf, "attn.") || strings.Contains(hf, ".mlp."))
	return hf, linear
}

// TestWhisperGGMLHoldsTheONNXWeights writes the tiny tiny.en and turbo as
// ggml files and reads every tensor back against the float32
// initializers of the ONNX encoder and merged decoder: the same values
// (to float16 rounding for matrices), in PyTorch's layout, under the names
// and shapes whisper.cpp expects, with nothing missing or extra.
func TestWhisperGGMLHoldsTheONNXWeights(t *testing.T) {
	for _, id := range []string{WhisperTinyEnID, WhisperLargeV3TurboID} {
		t.Run(id, func(t *testing.T) {
			dir, d := tinyWhisper(t, id)
			path := filepath.Join(t.TempDir(), "ggml-model.bin")
			if err := WriteWhisperGGML(dir, path); err != nil {
				t.Fatal(err)
			}
			f := readGGML(t, path)
			want := [11]int32{int32(d.Vocab), 1500, int32(d.DModel), int32(d.Heads), int32(d.EncoderLayers),
				448, int32(d.DModel), int32(d.Heads), int32(d.DecoderLayers), int32(d.Mels), 1}
			if f.hparams != want {
				t.Errorf("hparams %v, want %v", f.hparams, want)
			}
			if f.melRows != int32(d.Mels) || f.melCols != 201 {
				t.Errorf("mel filters %d×%d, want %d×201", f.melRows, f.melCols, d.Mels)
			}
			// whisper.cpp reads the tokens below <|endoftext|> and names
			// the rest itself; " " must exist (its suppress_blank looks it up).
			eot := 50256
			if d.Vocab >= 51865 {
				eot = 50257
			}
			if len(f.tokens) != eot || f.tokens[byteLevelID(t, dir, " ")] != " " || f.tokens[byteLevelID(t, dir, "a")] != "a" {
				t.Errorf("%d tokens, want %d with \" \" and \"a\" at their vocab.json ids", len(f.tokens), eot)
			}
			seen := map[string]bool{}
			for _, file := range []string{WhisperEncoderFile, WhisperDecoderFile} {
				compareGGMLWithONNX(t, f, filepath.Join(dir, file), seen)
			}
			// whisper.cpp's own count: 7 + 15 per encoder layer, 4 + 24 per
			// decoder layer; it refuses a file with fewer or unknown tensors.
			if n := 7 + 15*d.EncoderLayers + 4 + 24*d.DecoderLayers; len(f.tensors) != n || len(seen) != n {
				t.Errorf("%d tensors in the file, %d matched in ONNX, whisper.cpp loads %d", len(f.tensors), len(seen), n)
			}
		})
	}
}

func byteLevelID(t *testing.T, dir, s string) int {
	t.Helper()
	var vocab map[string]int
	m2mReadJSON(t, filepath.Join(dir, "vocab.json"), &vocab)
	id, ok := vocab[bpeSpell(s)]
	if !ok {
		t.Fatalf("vocab.json has no %q", s)
	}
	return id
}

// compareGGMLWithONNX checks every float32 initializer of one ONNX file
// that whisper.cpp needs against the ggml tensor of its OpenAI name.
func compareGGMLWithONNX(t *testing.T, f ggmlFile, path string, seen map[string]bool) {
	t.Helper()
	m, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	for hf, tp := range onnxfile.Initializers(m.GetGraph()) {
		if onnxgraph.DataType(tp.GetDataType()) != onnxgraph.Float || !strings.HasPrefix(hf, "model.") {
			continue
		}
		vals, err := onnxfile.Float32Values(tp, filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		name, linear := whisperCppName(hf)
		g, ok := f.tensors[name]
		if !ok {
			t.Errorf("%s (%s) missing from the ggml file", name, hf)
			continue
		}
		seen[name] = true
		dims := tp.GetDims()
		if linear { // ONNX [in, out]; ggml ne = {in, out} too: PyTorch's [out, in] reversed
			if fmt.Sprint(g.dims) != fmt.Sprint([]int{int(dims[0]), int(dims[1])}) {
				t.Errorf("%s: ggml dims %v for ONNX %v", name, g.dims, dims)
				continue
			}
			in, out := int(dims[0]), int(dims[1])
			for o := range out {
				for i := range in {
					checkGGMLValue(t, name, g, o*in+i, vals[i*out+o])
				}
			}
			continue
		}
		want := make([]int, 0, len(dims))
		for i := len(dims) - 1; i >= 0; i-- {
			want = append(want, int(dims[i]))
		}
		if strings.HasSuffix(name, "conv1.bias") || strings.HasSuffix(name, "conv2.bias") {
			want = []int{1, int(dims[0])} // convert-pt-to-ggml.py reshapes them to [n, 1]
		}
		if fmt.Sprint(g.dims) != fmt.Sprint(want) {
			t.Errorf("%s: ggml dims %v, want %v", name, g.dims, want)
			continue
		}
		for i, v := range vals {
			checkGGMLValue(t, name, g, i, v)
		}
	}
}

// checkGGMLValue compares one value: exact for float32 tensors, to
// float16's rounding (a relative 2⁻¹¹, or its subnormal step) for half ones.
func checkGGMLValue(t *testing.T, name string, g ggmlTensor, i int, want float32) {
	got := g.data[i]
	tol := 0.0
	if g.typ == 1 {
		tol = math.Max(math.Abs(float64(want))/2048, 6e-8)
	}
	if math.Abs(float64(got-want)) > tol {
		t.Fatalf("%s[%d] = %g, ONNX has %g", name, i, got, want)
	}
}

// TestWhisperGGMLLoadsInWhisperCpp loads the ggml files in whisper.cpp
// itself (@napi-rs/whisper's prebuilt build): whisper.cpp checks every
// tensor's name, shape and byte size and that none is missing, and reports
// the hyperparameters it read; it then transcribes 30 s of a chirp without
// failing.
func TestWhisperGGMLLoadsInWhisperCpp(t *testing.T) {
	node := requireWhisperCpp(t)
	audio := filepath.Join(t.TempDir(), "chirp.f32")
	samples := make([]float32, 30*16000)
	for i := range samples {
		s := float64(i) / 16000
		samples[i] = float32(0.3 * math.Sin(2*math.Pi*(200+30*s)*s))
	}
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, samples)
	if err := os.WriteFile(audio, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{WhisperTinyEnID, WhisperLargeV3TurboID} {
		t.Run(id, func(t *testing.T) {
			dir, d := tinyWhisper(t, id)
			model := filepath.Join(t.TempDir(), "ggml-model.bin")
			if err := WriteWhisperGGML(dir, model); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, "transcribe.mjs", model, audio)
			cmd.Dir = whisperPeerDir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("whisper.cpp: %v\n%s", err, stderr.String())
			}
			var got struct {
				Hparams map[string]int
				Text    *string
			}
			if err := json.Unmarshal(out, &got); err != nil || got.Text == nil {
				t.Fatalf("whisper.cpp printed %q (%v)\n%s", out, err, stderr.String())
			}
			want := map[string]int{"n_vocab": d.Vocab, "n_audio_ctx": 1500, "n_audio_state": d.DModel, "n_audio_head": d.Heads,
				"n_audio_layer": d.EncoderLayers, "n_text_ctx": 448, "n_text_state": d.DModel, "n_text_head": d.Heads,
				"n_text_layer": d.DecoderLayers, "n_mels": d.Mels, "ftype": 1}
			if fmt.Sprint(got.Hparams) != fmt.Sprint(want) {
				t.Errorf("whisper.cpp read %v, want %v", got.Hparams, want)
			}
		})
	}
}

// whisperPeerDir is the node project with @napi-rs/whisper.
const whisperPeerDir = "../../benchmarks/whisper/peer"

func requireWhisperCpp(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH; the whisper.cpp check needs node 20+ and @napi-rs/whisper: run `make test-deps`")
	}
	if _, err := os.Stat(filepath.Join(whisperPeerDir, "node_modules/@napi-rs/whisper-linux-x64-gnu/package.json")); err != nil {
		t.Fatal("@napi-rs/whisper (whisper.cpp prebuilt for linux-x64) is not installed in benchmarks/whisper/peer: run `make test-deps` (npm ci --ignore-scripts there)")
	}
	return node
}

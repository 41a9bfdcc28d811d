package whisper

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// alignPeerDir is the node project that runs transformers.js offline.
const alignPeerDir = "../../compat/imageprep-parity"

// requireAlignPeer finds node and transformers.js, or fails the test
// saying how to get them: without the peer there is no parity.
func requireAlignPeer(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH; the transformers.js alignment parity test needs node 20+ and its packages: run `make setup`")
	}
	if _, err := os.Stat(filepath.Join(alignPeerDir, "node_modules/@huggingface/transformers/package.json")); err != nil {
		t.Fatalf("transformers.js is not installed in compat/imageprep-parity: run `make setup` (it runs `npm ci --ignore-scripts` there)")
	}
	return node
}

// alignPeerCase is one request to whisper-align.mjs.
type alignPeerCase struct {
	Kind           string          `json:"kind"`
	Matrix         [][]float64     `json:"matrix,omitempty"`
	Data           []float64       `json:"data,omitempty"`
	Width          int             `json:"width,omitempty"`
	Layers         [][][][]float64 `json:"layers,omitempty"`
	AlignmentHeads [][2]int        `json:"alignment_heads,omitempty"`
	NumFrames      int             `json:"num_frames,omitempty"`
	NumInputIDs    int             `json:"num_input_ids,omitempty"`
}

type alignPeerResult struct {
	Text       []int     `json:"text"`
	Time       []int     `json:"time"`
	Out        []float64 `json:"out"`
	Timestamps []float64 `json:"timestamps"`
}

func runAlignPeer(t *testing.T, cases []alignPeerCase) []alignPeerResult {
	t.Helper()
	node := requireAlignPeer(t)
	file := filepath.Join(t.TempDir(), "cases.json")
	raw, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "whisper-align.mjs", file)
	cmd.Dir = alignPeerDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("whisper-align.mjs: %v\n%s", err, stderr.String())
	}
	var results []alignPeerResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r alignPeerResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("peer output: %v", err)
		}
		results = append(results, r)
	}
	if len(results) != len(cases) {
		t.Fatalf("peer answered %d of %d cases\n%s", len(results), len(cases), stderr.String())
	}
	return results
}

// headLayers spreads the alignment heads' attention over decoder layers
// the way an export returns them: layer l holds `perLayer` heads, and
// alignment head (l, h) is heads[i].
func headLayers(rng *rand.Rand, heads [][][]float32, layers, perLayer int) ([][][][]float64, [][2]int) {
	out := make([][][][]float64, layers)
	rows, frames := len(heads[0]), len(heads[0][0])
	for l := range out {
		for h := 0; h < perLayer; h++ { // distractor heads
			out[l] = append(out[l], to64(randomMatrix(rng, rows, frames, 0)))
		}
	}
	var at [][2]int
	for i, head := range heads {
		l, h := i%layers, (i*5+1)%perLayer
		out[l][h] = to64(head)
		at = append(at, [2]int{l, h})
	}
	return out, at
}

// TestAlignmentParityWithTransformersJS drives transformers.js 4.3.2's
// dynamic_time_warping and medianFilter on the same matrices and rows, and
// its _extract_token_timestamps on the same cross attentions: the paths,
// the filtered rows and the token times must be identical.
func TestAlignmentParityWithTransformersJS(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var cases []alignPeerCase
	var matrices [][][]float32
	for _, s := range dtwShapes {
		x := randomMatrix(rng, s[0], s[1], s[2])
		matrices = append(matrices, x)
		cases = append(cases, alignPeerCase{Kind: "dtw", Matrix: to64(x)})
	}
	// transformers.js's filter cannot reflect rows shorter than 4.
	var rows [][]float32
	for _, n := range []int{4, 5, 8, 100, 1500} {
		row := randomMatrix(rng, 1, n, 0)[0]
		if n == 100 {
			row = randomMatrix(rng, 1, n, 3)[0] // ties
		}
		rows = append(rows, row)
		cases = append(cases, alignPeerCase{Kind: "median", Data: to64([][]float32{row})[0], Width: 7})
	}
	type window struct {
		heads      [][][]float32
		first, num int
	}
	var windows []window
	planted := plant(rng, 3, 4, []int{10, 30, 37, 60, 95, 110, 140, 171, 200, 260, 300, 333, 380}, 0.7)
	noise := plant(rng, 4, 3, []int{0, 0, 0, 0, 0, 0, 0, 0}, 1.5) // no blocks: noise only
	for _, w := range []window{{planted.attention, 4, 14}, {noise.attention, 3, 9}} {
		layers, heads := headLayers(rng, w.heads, 2, 6)
		windows = append(windows, w)
		cases = append(cases, alignPeerCase{Kind: "timestamps", Layers: layers, AlignmentHeads: heads, NumFrames: 1500, NumInputIDs: w.first})
	}

	results := runAlignPeer(t, cases)
	k := 0
	for i, x := range matrices {
		text, time := dtw(x)
		if r := results[k]; !reflect.DeepEqual(text, r.Text) || !reflect.DeepEqual(time, r.Time) {
			t.Errorf("dtw %v: path differs from transformers.js's", dtwShapes[i])
		}
		k++
	}
	for _, row := range rows {
		got := make([]float32, len(row))
		medianFilter(got, row, 7)
		r := results[k]
		for j := range got {
			if float64(got[j]) != r.Out[j] {
				t.Fatalf("median of %d: [%d] = %v, transformers.js %v", len(row), j, got[j], r.Out[j])
			}
		}
		k++
	}
	for i, w := range windows {
		matrix := alignmentMatrix(w.heads, w.first, w.num, 1500)
		negate(matrix)
		jumps := jumpTimes(dtw(matrix))
		// transformers.js: the prompt's zeros, one time per row, the last again.
		ts := results[k].Timestamps
		if len(ts) != w.first+len(jumps)+1 {
			t.Fatalf("window %d: %d timestamps from transformers.js, want %d", i, len(ts), w.first+len(jumps)+1)
		}
		for j, want := range jumps {
			if math.Abs(float64(float32(want))-ts[w.first+j]) > 1e-6 {
				t.Errorf("window %d row %d: %v s, transformers.js %v s", i, j, want, ts[w.first+j])
			}
		}
		k++
	}
}

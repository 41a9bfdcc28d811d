package main

import (
	"math"
	"slices"
	"testing"
)

func TestTop5AgreeAllowsOnlyNearTies(t *testing.T) {
	cpu := []float32{9, 8, 7, 6, 5, 4.995, 1, 0}
	for _, tc := range []struct {
		name string
		gpu  []float32
		want bool
	}{
		{"same", slices.Clone(cpu), true},
		{"5th and 6th swap within tolerance", []float32{9, 8, 7, 6, 4.992, 5.0, 1, 0}, true},
		{"a far label enters the top 5", []float32{9, 8, 7, 6, 0, 4.995, 1, 5.5}, false},
	} {
		got := top5Agree(cpu, tc.gpu, 1e-2) && top5Agree(tc.gpu, cpu, 1e-2)
		if got != tc.want {
			t.Errorf("%s: agree = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCompareEmbeddings(t *testing.T) {
	w := bgeWorkload()
	const hidden, batch = 4, 2
	cpu := make([]float32, batch*seqLen*hidden)
	for i := range cpu {
		cpu[i] = float32(math.Sin(float64(i)))
	}
	near, far := slices.Clone(cpu), slices.Clone(cpu)
	near[5] += 1e-4
	for i := 0; i < seqLen*hidden; i += hidden {
		far[i] += 0.5 // shifts one component of the first row's mean
	}
	if _, ok := w.compare(cpu, near, batch); !ok {
		t.Error("a 1e-4 change in one hidden state failed the embedding check")
	}
	if desc, ok := w.compare(cpu, far, batch); ok {
		t.Errorf("a shifted embedding passed: %s", desc)
	}
	if v := meanPool(cpu[:seqLen*hidden], hidden); math.Abs(norm(v)-1) > 1e-6 {
		t.Errorf("meanPool is not unit length: %v", norm(v))
	}
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

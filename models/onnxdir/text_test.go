package onnxdir

import (
	"slices"
	"testing"
)

func TestPadRight(t *testing.T) {
	ids, mask, cols := PadRight([][]int64{{5, 6, 7}, {8}, {}}, 1, make([]int64, 2), []int64{9, 9, 9, 9, 9, 9, 9, 9, 9, 9})
	if cols != 3 || !slices.Equal(ids, []int64{5, 6, 7, 8, 1, 1, 1, 1, 1}) || !slices.Equal(mask, []int64{1, 1, 1, 1, 0, 0, 0, 0, 0}) {
		t.Fatalf("cols %d ids %v mask %v", cols, ids, mask)
	}
}

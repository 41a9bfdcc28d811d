//go:build cgo && amd64

package imageprep

// #include "resample_avx2.h"
import "C"

import "unsafe"

func init() {
	if C.ei_have_avx2() != 0 {
		horizontalPassSIMD = horizontalPassAVX2
		verticalRowSIMD = verticalRowAVX2
	}
}

// horizontalPassAVX2 is horizontalPass in C with AVX2: four taps per step,
// each pixel's r, g, b in four int32 lanes multiplied by its weight laid
// out once per axis as {w, w, w, 0}. The integer sums are Pillow's, so the
// pixels are the same bit for bit (TestHorizontalPassSIMD).
func horizontalPassAVX2(tmp []byte, src *RGB, rowLo, rowHi int, a *axis) {
	taps4 := (a.ksize + 3) / 4 * 4
	n := len(a.start)
	w4 := make([]int32, n*4*taps4)
	off, taps := make([]int32, n), make([]int32, n)
	for o := range n {
		start, w := a.weights(a.first + o)
		off[o], taps[o] = int32(3*start), int32(len(w))
		for j, wj := range w {
			copy(w4[4*(o*taps4+j):], []int32{wj, wj, wj})
		}
	}
	in := src.Pix[3*rowLo*src.W:]
	C.ei_resample_h((*C.uint8_t)(unsafe.Pointer(&in[0])), C.size_t(len(in)), C.size_t(3*src.W), C.int(rowHi-rowLo),
		(*C.uint8_t)(unsafe.Pointer(&tmp[0])), C.size_t(3*n),
		(*C.int32_t)(unsafe.Pointer(&w4[0])), C.int(taps4), (*C.int32_t)(unsafe.Pointer(&off[0])),
		(*C.int32_t)(unsafe.Pointer(&taps[0])), C.int(n))
}

// verticalRowAVX2 is verticalRow in C with AVX2, eight samples at a time.
func verticalRowAVX2(out, rows []byte, stride int, w []int32) {
	_ = rows[len(w)*stride-1] // the C side reads len(w) rows
	_ = out[stride-1]
	C.ei_resample_v((*C.uint8_t)(unsafe.Pointer(&rows[0])), C.size_t(stride),
		(*C.int32_t)(unsafe.Pointer(&w[0])), C.int(len(w)), (*C.uint8_t)(unsafe.Pointer(&out[0])))
}

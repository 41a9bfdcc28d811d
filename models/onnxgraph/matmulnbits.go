package onnxgraph

import (
	"fmt"
	"math"
)

// MicrosoftDomain is the operator set domain of ONNX Runtime's contrib ops;
// a model using them imports it (Model.Opsets[MicrosoftDomain] = 1).
const MicrosoftDomain = "com.microsoft"

// BlockQuantized is a [K, N] weight quantized to 8 bits in blocks along K,
// in the layout ONNX Runtime's MatMulNBits reads (com.microsoft, ONNX
// Runtime ≥ 1.23 for 8 bits): for each output column n, ⌈K/BlockSize⌉
// blocks of BlockSize bytes, the last one zero-padded, each value stored
// as q+128 (the operator's default zero point) with one float32 scale per
// block, so a weight reads back as (stored-128)·scale.
type BlockQuantized struct {
	K, N, BlockSize int
	// Data is [N, blocks, BlockSize]; Scales is [N·blocks], n-major.
	Data   []uint8
	Scales []float32
}

// Blocks is the number of blocks per column, ⌈K/BlockSize⌉.
func (q BlockQuantized) Blocks() int { return (q.K + q.BlockSize - 1) / q.BlockSize }

// QuantizeBlocks8 quantizes w ([k, n], row-major, the layout a MatMul's
// second input has) symmetrically: each block's scale is its largest
// magnitude over 127, as onnxruntime's MatMulNBitsQuantizer does with
// is_symmetric. blockSize must be a power of two of at least 16.
func QuantizeBlocks8(w []float32, k, n, blockSize int) BlockQuantized {
	if len(w) != k*n {
		panic(fmt.Sprintf("onnxgraph: QuantizeBlocks8 of %d values as [%d, %d]", len(w), k, n))
	}
	if blockSize < 16 || blockSize&(blockSize-1) != 0 {
		panic(fmt.Sprintf("onnxgraph: MatMulNBits block size %d is not a power of two ≥ 16", blockSize))
	}
	q := BlockQuantized{K: k, N: n, BlockSize: blockSize}
	blocks := q.Blocks()
	q.Data = make([]uint8, n*blocks*blockSize)
	q.Scales = make([]float32, n*blocks)
	for col := range n {
		for b := range blocks {
			lo, hi := b*blockSize, min(k, (b+1)*blockSize)
			var maxAbs float64
			for r := lo; r < hi; r++ {
				maxAbs = math.Max(maxAbs, math.Abs(float64(w[r*n+col])))
			}
			scale := float32(maxAbs / 127)
			if scale == 0 {
				scale = 1 // an all-zero block; any scale reproduces it
			}
			q.Scales[col*blocks+b] = scale
			block := q.Data[(col*blocks+b)*blockSize:][:blockSize]
			for i := range block {
				v := 0.0
				if r := lo + i; r < hi {
					v = max(-127, min(127, math.Round(float64(w[r*n+col]/scale))))
				}
				block[i] = uint8(int(v) + 128)
			}
		}
	}
	return q
}

// At is the dequantized weight at row r (along K) and column col.
func (q BlockQuantized) At(r, col int) float32 {
	blocks := q.Blocks()
	b := r / q.BlockSize
	return float32(int(q.Data[(col*blocks+b)*q.BlockSize+r%q.BlockSize])-128) * q.Scales[col*blocks+b]
}

// MatMulNBits adds x·W for a block-quantized W under name (initializers
// name+"_Q8" and name+"_scales") and returns the product; x's last axis is
// K. The node leaves accuracy_level unset, so ONNX Runtime computes in
// float32 from the dequantized weights.
func (g *Graph) MatMulNBits(x, name string, q BlockQuantized) string {
	b := g.Uint8(name+"_Q8", []int64{int64(q.N), int64(q.Blocks()), int64(q.BlockSize)}, q.Data)
	scales := g.Float32(name+"_scales", []int64{int64(len(q.Scales))}, q.Scales)
	out := g.Fresh("MatMulNBits_out")
	InDomain(g.Node("MatMulNBits", []string{x, b, scales}, []string{out},
		AttrInt("K", int64(q.K)), AttrInt("N", int64(q.N)), AttrInt("bits", 8), AttrInt("block_size", int64(q.BlockSize))),
		MicrosoftDomain)
	return out
}

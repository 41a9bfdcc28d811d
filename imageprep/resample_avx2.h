// The C side of imageprep's AVX2 horizontal resize pass
// (resample_avx2.go).
#ifndef EDGEINFER_RESAMPLE_AVX2_H
#define EDGEINFER_RESAMPLE_AVX2_H

#include <stddef.h>
#include <stdint.h>

// ei_have_avx2 reports whether this CPU (and OS) runs AVX2 code.
int ei_have_avx2(void);

// ei_resample_h resamples nrows rows of packed 8-bit RGB. Row r starts at
// src + r*src_stride; src_len bytes are readable from src. Output o of row
// r goes to dst + r*dst_stride + 3*o, and is, per channel c,
//   clip8((2^21 + sum over taps j < ntaps[o] of
//          src[r*src_stride + off[o] + 3*j + c] * w4[4*(o*ntaps4 + j)]) >> 22)
// where w4 holds each tap's weight as {w, w, w, 0} and is zero from tap
// ntaps[o] to ntaps4, a multiple of 4.
void ei_resample_h(const uint8_t *src, size_t src_len, size_t src_stride, int nrows,
                   uint8_t *dst, size_t dst_stride,
                   const int32_t *w4, int ntaps4, const int32_t *off, const int32_t *ntaps, int nout);

// ei_resample_v writes one output row of stride bytes: byte i is
//   clip8((2^21 + sum over j < ntaps of rows[j*stride + i] * w[j]) >> 22).
void ei_resample_v(const uint8_t *rows, size_t stride, const int32_t *w, int ntaps, uint8_t *out);

#endif

//go:build cgo && amd64

#include <immintrin.h>

#include "resample_avx2.h"

int ei_have_avx2(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}

// clip8 is Pillow's: the fixed-point sum (with its rounding half) shifted
// down to 8 bits and clamped. Sums wrap in uint32 (never overflowing C's
// rules); the true sum fits in int32, so the result is exact.
static inline uint8_t clip8(uint32_t sum) {
	int32_t v = (int32_t)(sum + (1u << 21)) >> 22;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

// dot_scalar is one output the plain way, for outputs whose 16-byte loads
// would read past the end of the source.
static void dot_scalar(const uint8_t *p, const int32_t *w, int ntaps, uint8_t *out) {
	uint32_t s[3] = {0, 0, 0};
	for (int j = 0; j < ntaps; j++) {
		for (int c = 0; c < 3; c++) {
			s[c] += (uint32_t)p[3 * j + c] * (uint32_t)w[4 * j];
		}
	}
	out[0] = clip8(s[0]), out[1] = clip8(s[1]), out[2] = clip8(s[2]);
}

// dot_avx2 is one output: four taps per step, each pixel's r, g, b
// spread over four int32 lanes (the fourth, zero, wastes a lane but makes
// the sum across taps one vector add, with no shuffling of channels).
__attribute__((target("avx2"))) static inline void dot_avx2(const uint8_t *p, const int32_t *w, int ntaps4, uint8_t *out) {
	const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
	__m256i a0 = _mm256_setzero_si256(), a1 = a0;
	for (int j = 0; j < ntaps4; j += 4) {
		__m128i px = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 3 * j)), spread);
		__m256i lo = _mm256_cvtepu8_epi32(px);                      // taps j, j+1
		__m256i hi = _mm256_cvtepu8_epi32(_mm_srli_si128(px, 8));   // taps j+2, j+3
		a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(lo, _mm256_loadu_si256((const __m256i *)(w + 4 * j))));
		a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(hi, _mm256_loadu_si256((const __m256i *)(w + 4 * j + 8))));
	}
	__m256i a = _mm256_add_epi32(a0, a1);
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
	// clip8 on all lanes: shift, then saturate to int16 and to uint8.
	s = _mm_srai_epi32(_mm_add_epi32(s, _mm_set1_epi32(1 << 21)), 22);
	s = _mm_packus_epi16(_mm_packs_epi32(s, s), s);
	uint32_t rgb = (uint32_t)_mm_cvtsi128_si32(s);
	out[0] = (uint8_t)rgb, out[1] = (uint8_t)(rgb >> 8), out[2] = (uint8_t)(rgb >> 16);
}

__attribute__((target("avx2"))) void ei_resample_h(const uint8_t *src, size_t src_len, size_t src_stride, int nrows,
                                                   uint8_t *dst, size_t dst_stride,
                                                   const int32_t *w4, int ntaps4, const int32_t *off, const int32_t *ntaps, int nout) {
	// A step reads 16 bytes from 3j: 3 * ntaps4 + 4 bytes in all.
	size_t reach = 3 * (size_t)ntaps4 + 4;
	for (int r = 0; r < nrows; r++) {
		size_t row = (size_t)r * src_stride;
		uint8_t *out = dst + (size_t)r * dst_stride;
		for (int o = 0; o < nout; o++) {
			const uint8_t *p = src + row + off[o];
			const int32_t *w = w4 + (size_t)o * 4 * ntaps4;
			if (row + off[o] + reach <= src_len) {
				dot_avx2(p, w, ntaps4, out + 3 * o);
			} else {
				dot_scalar(p, w, ntaps[o], out + 3 * o);
			}
		}
	}
}

// ei_resample_v: see resample_avx2.h. Eight samples per step in int32
// lanes, the rows of one output row added in order; what is left of a row
// over a multiple of 8 goes the plain way.
__attribute__((target("avx2"))) void ei_resample_v(const uint8_t *rows, size_t stride, const int32_t *w, int ntaps,
                                                   uint8_t *out) {
	size_t i = 0;
	for (; i + 8 <= stride; i += 8) {
		__m256i acc = _mm256_set1_epi32(1 << 21);
		for (int j = 0; j < ntaps; j++) {
			__m256i px = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(rows + (size_t)j * stride + i)));
			acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(px, _mm256_set1_epi32(w[j])));
		}
		acc = _mm256_srai_epi32(acc, 22);
		__m128i s = _mm_packs_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
		_mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(s, s));
	}
	for (; i < stride; i++) {
		uint32_t s = 0;
		for (int j = 0; j < ntaps; j++) {
			s += (uint32_t)rows[(size_t)j * stride + i] * (uint32_t)w[j];
		}
		out[i] = clip8(s);
	}
}

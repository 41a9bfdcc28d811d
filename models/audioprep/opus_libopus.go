//go:build cgo

package audioprep

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

typedef void *(*ms_create_fn)(int32_t fs, int channels, int streams, int coupled,
	const unsigned char *mapping, int *error);
typedef int (*ms_decode_fn)(void *st, const unsigned char *data, int32_t len,
	float *pcm, int frame_size, int decode_fec);
typedef void (*ms_destroy_fn)(void *st);
typedef const char *(*strerror_fn)(int error);

static ms_create_fn ms_create;
static ms_decode_fn ms_decode;
static ms_destroy_fn ms_destroy;
static strerror_fn opus_strerr;

// load_opus resolves the four entry points; 0 on success.
static int load_opus(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) return 1;
	ms_create = (ms_create_fn)dlsym(h, "opus_multistream_decoder_create");
	ms_decode = (ms_decode_fn)dlsym(h, "opus_multistream_decode_float");
	ms_destroy = (ms_destroy_fn)dlsym(h, "opus_multistream_decoder_destroy");
	opus_strerr = (strerror_fn)dlsym(h, "opus_strerror");
	if (!ms_create || !ms_decode || !ms_destroy || !opus_strerr) return 2;
	return 0;
}

static void *call_create(int32_t fs, int channels, int streams, int coupled,
		const unsigned char *mapping, int *error) {
	return ms_create(fs, channels, streams, coupled, mapping, error);
}
static int call_decode(void *st, const unsigned char *data, int32_t len, float *pcm, int frame_size) {
	return ms_decode(st, data, len, pcm, frame_size, 0);
}
static void call_destroy(void *st) { ms_destroy(st); }
static const char *call_strerror(int e) { return opus_strerr(e); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// libopusName is the library loaded: Debian's libopus0 (any libopus 1.x).
const libopusName = "libopus.so.0"

var loadOpus = sync.OnceValue(func() error {
	name := C.CString(libopusName)
	defer C.free(unsafe.Pointer(name))
	switch C.load_opus(name) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("Opus needs libopus, and %s could not be loaded (install it: apt-get install libopus0)", libopusName)
	default:
		return fmt.Errorf("Opus needs libopus, and %s lacks the multistream decoder", libopusName)
	}
})

// OpusAvailable reports whether Opus can be decoded here, and if not, why.
func OpusAvailable() error { return loadOpus() }

type libopusDecoder struct {
	st       unsafe.Pointer
	channels int
}

func newOpusDecoder(h *opusHead) (opusDecoder, error) {
	if err := loadOpus(); err != nil {
		return nil, err
	}
	mapping := C.CBytes(h.mapping)
	defer C.free(mapping)
	var e C.int
	st := C.call_create(opusRate, C.int(h.channels), C.int(h.streams), C.int(h.coupled), (*C.uchar)(mapping), &e)
	if st == nil || e != 0 {
		return nil, fmt.Errorf("libopus refused the stream layout: %s", C.GoString(C.call_strerror(e)))
	}
	return &libopusDecoder{st: st, channels: h.channels}, nil
}

func (d *libopusDecoder) decode(packet []byte, pcm []float32) (int, error) {
	if len(packet) == 0 {
		return 0, errors.New("empty packet")
	}
	n := C.call_decode(d.st, (*C.uchar)(unsafe.Pointer(&packet[0])), C.int32_t(len(packet)),
		(*C.float)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)/d.channels))
	if n < 0 {
		return 0, errors.New(C.GoString(C.call_strerror(C.int(n))))
	}
	return int(n), nil
}

func (d *libopusDecoder) close() {
	if d.st != nil {
		C.call_destroy(d.st)
		d.st = nil
	}
}

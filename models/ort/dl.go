package ort

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static void *ei_dlopen_global(const char *path) {
	return dlopen(path, RTLD_NOW | RTLD_GLOBAL);
}

static const char *ei_dlerror(void) {
	const char *e = dlerror();
	return e ? e : "unknown dlopen error";
}

typedef int (*ei_trim_fn)(size_t);

// ei_malloc_trim returns the C heap's free pages to the OS through glibc's
// malloc_trim; -1 when the C library has none (musl).
static int ei_malloc_trim(void) {
	ei_trim_fn trim = (ei_trim_fn)dlsym(RTLD_DEFAULT, "malloc_trim");
	return trim ? trim(0) : -1;
}

typedef int (*ei_cu_init_fn)(unsigned int);
typedef int (*ei_cu_count_fn)(int *);
typedef int (*ei_cu_err_fn)(int, const char **);

// ei_cuda_device_count asks the NVIDIA driver (libcuda) how many devices it
// sees, honouring CUDA_VISIBLE_DEVICES. It returns the CUresult of the first
// failing call, -1 when a symbol is missing, and 0 on success.
static int ei_cuda_device_count(void *lib, int *count, const char **errname) {
	ei_cu_init_fn cu_init = (ei_cu_init_fn)dlsym(lib, "cuInit");
	ei_cu_count_fn cu_count = (ei_cu_count_fn)dlsym(lib, "cuDeviceGetCount");
	ei_cu_err_fn cu_err = (ei_cu_err_fn)dlsym(lib, "cuGetErrorName");
	if (!cu_init || !cu_count) {
		return -1;
	}
	int rc = cu_init(0);
	if (rc == 0) {
		rc = cu_count(count);
	}
	if (rc != 0 && cu_err) {
		cu_err(rc, errname);
	}
	return rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// trimHeap hands the C heap's free pages back to the OS. Opening a session
// parses the whole model file into protobuf messages that ONNX Runtime
// frees once the session holds its weights, but glibc keeps the pages: for
// the full bge-base (a 436 MB file), RSS fell from 647 MB to 488 MB.
func trimHeap() { C.ei_malloc_trim() }

// dlopenGlobal loads a shared library with RTLD_GLOBAL. Once loaded, a
// later dlopen or DT_NEEDED of the same soname resolves to it, wherever it
// was found: that is how libraries outside the loader's search path (pip
// wheels) reach ONNX Runtime's CUDA provider without LD_LIBRARY_PATH, which
// the loader reads only at process start.
func dlopenGlobal(path string) (unsafe.Pointer, error) {
	cPath := C.CString(path)
	defer C.free(unsafe.Pointer(cPath))
	h := C.ei_dlopen_global(cPath)
	if h == nil {
		return nil, errors.New(C.GoString(C.ei_dlerror()))
	}
	return h, nil
}

// preload loads libs in dependency order. The order given is a good guess;
// a library whose dependency is not loaded yet fails and is retried after
// the others, until a pass makes no progress. It returns the paths loaded
// and an error naming every required library that could not be loaded.
func preload(libs []cudaLib) (loaded []string, err error) {
	pending := libs
	failures := map[string]string{}
	for len(pending) > 0 {
		var retry []cudaLib
		for _, lib := range pending {
			if _, err := dlopenGlobal(lib.path); err != nil {
				failures[lib.soname] = err.Error()
				retry = append(retry, lib)
				continue
			}
			delete(failures, lib.soname)
			loaded = append(loaded, lib.path)
		}
		if len(retry) == len(pending) {
			break
		}
		pending = retry
	}
	var missing []string
	for _, lib := range libs {
		if msg, failed := failures[lib.soname]; failed && lib.required {
			missing = append(missing, msg)
		}
	}
	if len(missing) > 0 {
		return loaded, fmt.Errorf("CUDA libraries not loadable: %s", strings.Join(missing, "; "))
	}
	return loaded, nil
}

// cudaDeviceCount loads the NVIDIA driver library (libcuda.so.1 in
// production) and counts the devices it sees.
func cudaDeviceCount(driver string) (int, error) {
	h, err := dlopenGlobal(driver)
	if err != nil {
		return 0, fmt.Errorf("no NVIDIA driver: %v", err)
	}
	var count C.int
	var name *C.char
	switch rc := C.ei_cuda_device_count(h, &count, &name); {
	case rc == 0:
		return int(count), nil
	case rc == -1:
		return 0, fmt.Errorf("%s lacks cuInit or cuDeviceGetCount", driver)
	case rc == 100: // CUDA_ERROR_NO_DEVICE
		return 0, nil
	case name != nil:
		return 0, fmt.Errorf("the NVIDIA driver failed to initialize: %s (%d)", C.GoString(name), int(rc))
	default:
		return 0, fmt.Errorf("the NVIDIA driver failed to initialize: CUresult %d", int(rc))
	}
}

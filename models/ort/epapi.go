package ort

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Slots of ONNX Runtime's OrtApi function table (onnxruntime_c_api.h,
// struct OrtApi; the table only grows, so slots are stable across versions).
// onnxruntime_go wraps none of the execution-provider device API, which is
// the only way into the CUDA provider of a runtime built without it (the
// ORT 1.29 build edgeinfer installs). TestOrtAPISlots checks every slot
// against the header onnxruntime_go ships.
enum {
	EI_CREATE_STATUS = 0,
	EI_GET_ERROR_MESSAGE = 2,
	EI_CREATE_ENV = 3,
	EI_RELEASE_STATUS = 93,
	EI_APPEND_CUDA_V1 = 152,
	EI_GET_KEY_VALUE = 297,
	EI_GET_EP_DEVICES = 303,
	EI_APPEND_EP_V2 = 304,
	EI_HW_TYPE = 307,
	EI_HW_VENDOR_ID = 308,
	EI_HW_DEVICE_ID = 310,
	EI_EP_NAME = 312,
	EI_EP_VENDOR = 313,
	EI_EP_OPTIONS = 315,
	EI_EP_DEVICE = 316,
};

// The API version edgeinfer asks for: onnxruntime_go v1.27's, which has
// every slot above.
#define EI_API_VERSION 24

typedef void *(*ei_fn)(void);
typedef struct {
	const void *const *(*get_api)(uint32_t);
	const char *(*get_version_string)(void);
} ei_api_base;

static const void *const *ei_api;

#define EI_CALL(slot, type) ((type)(ei_api[slot]))

// ei_api_init finds the OrtApi table of the already loaded runtime.
static const char *ei_api_init(const char *lib) {
	void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	if (!h) {
		return "the runtime library is not loaded";
	}
	const ei_api_base *(*get_base)(void) = (const ei_api_base *(*)(void))dlsym(h, "OrtGetApiBase");
	if (!get_base) {
		return "OrtGetApiBase not found";
	}
	ei_api = get_base()->get_api(EI_API_VERSION);
	return ei_api ? NULL : "the runtime does not offer API version 24";
}

// ei_take_message copies a status's message and releases the status.
static char *ei_take_message(void *status) {
	if (!status) {
		return NULL;
	}
	const char *msg = EI_CALL(EI_GET_ERROR_MESSAGE, const char *(*)(const void *))(status);
	char *copy = strdup(msg ? msg : "unknown ONNX Runtime error");
	EI_CALL(EI_RELEASE_STATUS, void (*)(void *))(status);
	return copy;
}

static char *ei_status_roundtrip(const char *msg) {
	return ei_take_message(EI_CALL(EI_CREATE_STATUS, void *(*)(int, const char *))(1, msg));
}

// ei_env returns ONNX Runtime's process-wide environment: CreateEnv hands
// back the one onnxruntime_go created.
static char *ei_env(void **env) {
	return ei_take_message(EI_CALL(EI_CREATE_ENV, void *(*)(int, const char *, void **))(3, "edgeinfer", env));
}

static char *ei_ep_devices(void *env, const void *const **devices, size_t *n) {
	return ei_take_message(EI_CALL(EI_GET_EP_DEVICES, void *(*)(const void *, const void *const **, size_t *))(env, devices, n));
}

static const char *ei_ep_name(const void *d) { return EI_CALL(EI_EP_NAME, const char *(*)(const void *))(d); }
static const char *ei_ep_vendor(const void *d) { return EI_CALL(EI_EP_VENDOR, const char *(*)(const void *))(d); }

static const char *ei_ep_option(const void *d, const char *key) {
	const void *kv = EI_CALL(EI_EP_OPTIONS, const void *(*)(const void *))(d);
	return kv ? EI_CALL(EI_GET_KEY_VALUE, const char *(*)(const void *, const char *))(kv, key) : NULL;
}

static int ei_hw_type(const void *d) {
	const void *hw = EI_CALL(EI_EP_DEVICE, const void *(*)(const void *))(d);
	return EI_CALL(EI_HW_TYPE, int (*)(const void *))(hw);
}

static uint32_t ei_hw_vendor_id(const void *d) {
	const void *hw = EI_CALL(EI_EP_DEVICE, const void *(*)(const void *))(d);
	return EI_CALL(EI_HW_VENDOR_ID, uint32_t (*)(const void *))(hw);
}

static uint32_t ei_hw_device_id(const void *d) {
	const void *hw = EI_CALL(EI_EP_DEVICE, const void *(*)(const void *))(d);
	return EI_CALL(EI_HW_DEVICE_ID, uint32_t (*)(const void *))(hw);
}

// ei_cuda_options mirrors OrtCUDAProviderOptions (the V1 struct, which an
// application fills itself); TestCUDAOptionsLayout checks the field order.
typedef struct {
	int device_id;
	int cudnn_conv_algo_search;
	size_t gpu_mem_limit;
	int arena_extend_strategy;
	int do_copy_in_default_stream;
	int has_user_compute_stream;
	void *user_compute_stream;
	void *default_memory_arena_cfg;
	int tunable_op_enable;
	int tunable_op_tuning_enable;
	int tunable_op_max_tuning_duration_ms;
} ei_cuda_options;

static char *ei_append_cuda_v1(void *options, int device, int algo_search, size_t mem_limit, int arena) {
	ei_cuda_options o = {0};
	o.device_id = device;
	o.cudnn_conv_algo_search = algo_search;
	o.gpu_mem_limit = mem_limit;
	o.arena_extend_strategy = arena;
	o.do_copy_in_default_stream = 1;
	return ei_take_message(EI_CALL(EI_APPEND_CUDA_V1, void *(*)(void *, const ei_cuda_options *))(options, &o));
}

static char *ei_append_ep(void *options, void *env, const void *device,
                          const char *const *keys, const char *const *values, size_t n) {
	const void *devices[1] = {device};
	return ei_take_message(EI_CALL(EI_APPEND_EP_V2,
		void *(*)(void *, void *, const void *const *, size_t, const char *const *, const char *const *, size_t))(
		options, env, devices, 1, keys, values, n));
}
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"unsafe"

	onnx "github.com/yalue/onnxruntime_go"
)

// ortAPISlots names the OrtApi slots used here, for TestOrtAPISlots.
var ortAPISlots = map[string]int{
	"CreateStatus":    C.EI_CREATE_STATUS,
	"GetErrorMessage": C.EI_GET_ERROR_MESSAGE,
	"CreateEnv":       C.EI_CREATE_ENV,
	"ReleaseStatus":   C.EI_RELEASE_STATUS,
	"SessionOptionsAppendExecutionProvider_CUDA": C.EI_APPEND_CUDA_V1,
	"GetKeyValue":  C.EI_GET_KEY_VALUE,
	"GetEpDevices": C.EI_GET_EP_DEVICES,
	"SessionOptionsAppendExecutionProvider_V2": C.EI_APPEND_EP_V2,
	"HardwareDevice_Type":                      C.EI_HW_TYPE,
	"HardwareDevice_VendorId":                  C.EI_HW_VENDOR_ID,
	"HardwareDevice_DeviceId":                  C.EI_HW_DEVICE_ID,
	"EpDevice_EpName":                          C.EI_EP_NAME,
	"EpDevice_EpVendor":                        C.EI_EP_VENDOR,
	"EpDevice_EpOptions":                       C.EI_EP_OPTIONS,
	"EpDevice_Device":                          C.EI_EP_DEVICE,
}

// EPDevice is a device that an execution provider can run on, as ONNX
// Runtime lists it.
type EPDevice struct {
	// Provider is the execution provider, e.g. CUDAExecutionProvider.
	Provider string
	Vendor   string
	// Hardware is cpu, gpu or npu.
	Hardware string
	// VendorID and DeviceID are the PCI IDs (NVIDIA is 0x10de).
	VendorID, DeviceID uint32
	// Ordinal is the provider's device_id option (for CUDA, the device
	// number of cuda:N), or -1 when it has none.
	Ordinal int

	ptr unsafe.Pointer
}

func (d EPDevice) String() string {
	s := fmt.Sprintf("%s on %s %04x:%04x", d.Provider, d.Hardware, d.VendorID, d.DeviceID)
	if d.Ordinal >= 0 {
		s += fmt.Sprintf(" (device_id %d)", d.Ordinal)
	}
	return s
}

// epAPI reaches the parts of ONNX Runtime's C API that onnxruntime_go does
// not wrap. It must be created after the runtime is initialized.
type epAPI struct {
	env unsafe.Pointer
}

func newEPAPI(libraryPath string) (*epAPI, error) {
	cPath := C.CString(libraryPath)
	defer C.free(unsafe.Pointer(cPath))
	if msg := C.ei_api_init(cPath); msg != nil {
		return nil, fmt.Errorf("ort: %s", C.GoString(msg))
	}
	var env unsafe.Pointer
	if err := takeError(C.ei_env(&env)); err != nil {
		return nil, fmt.Errorf("ort: environment: %w", err)
	}
	return &epAPI{env: env}, nil
}

// devices lists every execution-provider device the runtime knows,
// including those of registered provider libraries.
func (a *epAPI) devices() ([]EPDevice, error) {
	var list *unsafe.Pointer
	var n C.size_t
	if err := takeError(C.ei_ep_devices(a.env, &list, &n)); err != nil {
		return nil, fmt.Errorf("ort: list execution-provider devices: %w", err)
	}
	ptrs := unsafe.Slice(list, int(n))
	devices := make([]EPDevice, len(ptrs))
	for i, p := range ptrs {
		d := EPDevice{
			Provider: C.GoString(C.ei_ep_name(p)),
			Vendor:   C.GoString(C.ei_ep_vendor(p)),
			Hardware: hardwareName(int(C.ei_hw_type(p))),
			VendorID: uint32(C.ei_hw_vendor_id(p)),
			DeviceID: uint32(C.ei_hw_device_id(p)),
			Ordinal:  -1,
			ptr:      p,
		}
		key := C.CString("device_id")
		if v := C.ei_ep_option(p, key); v != nil {
			if id, err := strconv.Atoi(C.GoString(v)); err == nil {
				d.Ordinal = id
			}
		}
		C.free(unsafe.Pointer(key))
		devices[i] = d
	}
	return devices, nil
}

// appendProvider adds device's execution provider, with options, to so.
func (a *epAPI) appendProvider(so *onnx.SessionOptions, device EPDevice, options map[string]string) error {
	handle, err := sessionOptionsHandle(so)
	if err != nil {
		return err
	}
	// The key and value arrays hold only C pointers, so cgo may pass them.
	var keys, values []*C.char
	for k, v := range options {
		keys, values = append(keys, C.CString(k)), append(values, C.CString(v))
	}
	defer func() {
		for i := range keys {
			C.free(unsafe.Pointer(keys[i]))
			C.free(unsafe.Pointer(values[i]))
		}
	}()
	var cKeys, cValues **C.char
	if len(keys) > 0 {
		cKeys, cValues = &keys[0], &values[0]
	}
	if err := takeError(C.ei_append_ep(handle, a.env, device.ptr, cKeys, cValues, C.size_t(len(keys)))); err != nil {
		return fmt.Errorf("ort: add %s: %w", device.Provider, err)
	}
	return nil
}

// cudaOptionsFields are ei_cuda_options' fields, for TestCUDAOptionsLayout.
var cudaOptionsFields = []string{"device_id", "cudnn_conv_algo_search", "gpu_mem_limit", "arena_extend_strategy",
	"do_copy_in_default_stream", "has_user_compute_stream", "user_compute_stream", "default_memory_arena_cfg",
	"tunable_op_enable", "tunable_op_tuning_enable", "tunable_op_max_tuning_duration_ms"}

// appendCUDALegacy adds the CUDA provider for device id through the V1
// options struct. Unlike appendProvider it needs no device listed by ONNX
// Runtime (whose GPU discovery reads /sys/class/drm), but it cannot pass
// options beyond the struct's: Extra is ignored.
func appendCUDALegacy(so *onnx.SessionOptions, id int, o CUDAOptions) error {
	handle, err := sessionOptionsHandle(so)
	if err != nil {
		return err
	}
	algo := map[string]C.int{"": 0, "EXHAUSTIVE": 0, "HEURISTIC": 1, "DEFAULT": 2}[o.CuDNNConvAlgoSearch]
	arena := map[string]C.int{"": 0, "kNextPowerOfTwo": 0, "kSameAsRequested": 1}[o.ArenaExtendStrategy]
	limit := ^C.size_t(0) // no limit, ONNX Runtime's default
	if o.GPUMemLimit > 0 {
		limit = C.size_t(o.GPUMemLimit)
	}
	if err := takeError(C.ei_append_cuda_v1(handle, C.int(id), algo, limit, arena)); err != nil {
		return fmt.Errorf("ort: add %s: %w", CUDAProvider, err)
	}
	return nil
}

// statusRoundTrip creates and reads back an ONNX Runtime status; tests use
// it to prove the slots of the status functions.
func statusRoundTrip(msg string) string {
	c := C.CString(msg)
	defer C.free(unsafe.Pointer(c))
	return takeError(C.ei_status_roundtrip(c)).Error()
}

// sessionOptionsHandle is the OrtSessionOptions pointer inside
// onnxruntime_go's SessionOptions, whose only field it is (go.mod pins the
// version; TestSessionOptionsLayout guards the assumption, and the check
// below refuses rather than crashes if it ever breaks).
func sessionOptionsHandle(so *onnx.SessionOptions) (unsafe.Pointer, error) {
	t := reflect.TypeFor[onnx.SessionOptions]()
	if t.NumField() != 1 || t.Field(0).Type.Kind() != reflect.Pointer {
		return nil, errors.New("ort: onnxruntime_go's SessionOptions no longer holds just the OrtSessionOptions pointer")
	}
	h := *(*unsafe.Pointer)(unsafe.Pointer(so))
	if h == nil {
		return nil, errors.New("ort: session options are not initialized")
	}
	return h, nil
}

func hardwareName(t int) string {
	switch t {
	case 0:
		return "cpu"
	case 1:
		return "gpu"
	case 2:
		return "npu"
	}
	return "device type " + strconv.Itoa(t)
}

// takeError turns a message from the C side into an error, freeing it.
func takeError(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return errors.New(C.GoString(msg))
}

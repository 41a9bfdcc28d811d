// The C side of imageprep's libjpeg-turbo decoder (jpeg_libjpeg.go): a
// decompressor whose errors come back as return values, never as exit() or
// a message on stderr.
#ifndef EDGEINFER_JPEG_LIBJPEG_H
#define EDGEINFER_JPEG_LIBJPEG_H

#include <stddef.h>

// ei_jpeg is one decode; opaque to Go.
typedef struct ei_jpeg ei_jpeg;

// What failed, for the Go side to sort into imageprep's error kinds.
enum {
	EI_CORRUPT = 1,
	EI_UNSUPPORTED = 2,
	EI_TOO_LARGE = 3,
	EI_EMPTY = 4,
};

ei_jpeg *ei_jpeg_new(void);
void ei_jpeg_free(ei_jpeg *j);

// Each step returns 0 on success or one of the EI_ kinds; ei_jpeg_message
// then says what libjpeg found. The input must stay where it is from
// ei_jpeg_header until ei_jpeg_free.
int ei_jpeg_header(ei_jpeg *j, const unsigned char *data, unsigned long len,
                   int *width, int *height, int *components);
// ei_jpeg_start decodes at 1/denom of the size (1, 2, 4 or 8) into RGB, or
// into inverted CMYK when cmyk is set, and returns the output size.
int ei_jpeg_start(ei_jpeg *j, int denom, int cmyk, int *width, int *height);
// ei_jpeg_read writes every output row, stride bytes apart, into out.
int ei_jpeg_read(ei_jpeg *j, unsigned char *out, size_t stride);
const char *ei_jpeg_message(ei_jpeg *j);
// ei_jpeg_version names the library edgeinfer was compiled against.
const char *ei_jpeg_version(void);

#endif

//go:build cgo && !nolibjpeg

// libjpeg reports a fatal error by calling error_exit, whose default prints
// to stderr and calls exit(). Here it longjmps back to the step that was
// running (each exported function sets its own setjmp point, so a jump never
// crosses a Go frame), and warnings go nowhere but a counter.

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "jpeg_libjpeg.h"

// A progressive file may declare any number of scans, each one a pass over
// the whole coefficient buffer: a few kilobytes can cost minutes. Real
// encoders write about ten; TurboJPEG's limit for untrusted input is 500.
#define EI_MAX_SCANS 500

struct ei_jpeg {
	struct jpeg_decompress_struct d;
	struct jpeg_error_mgr err;
	struct jpeg_progress_mgr progress;
	jmp_buf jump;
	int created; // jpeg_create_decompress succeeded
	int kind;    // EI_ kind of the failure
	char msg[JMSG_LENGTH_MAX];
};

static int kind_of(int code) {
	switch (code) {
	case JERR_BAD_PRECISION:
	case JERR_SOF_UNSUPPORTED:
	case JERR_NOT_COMPILED:
	case JERR_ARITH_NOTIMPL:
	case JERR_CONVERSION_NOTIMPL:
	case JERR_COMPONENT_COUNT:
		return EI_UNSUPPORTED;
	case JERR_IMAGE_TOO_BIG:
	case JERR_OUT_OF_MEMORY:
		return EI_TOO_LARGE;
	case JERR_EMPTY_IMAGE:
		return EI_EMPTY;
	}
	return EI_CORRUPT;
}

static void ei_error_exit(j_common_ptr c) {
	ei_jpeg *j = (ei_jpeg *)c->client_data;
	j->kind = kind_of(c->err->msg_code);
	c->err->format_message(c, j->msg);
	longjmp(j->jump, 1);
}

// Warnings (level -1) are corrupt data that libjpeg decodes around, as
// Pillow accepts it, except the end of the input before the EOI marker:
// libjpeg pads the missing data with grey, Pillow refuses the file as
// truncated, even when only the EOI marker is missing.
static void ei_emit_message(j_common_ptr c, int level) {
	if (level >= 0) {
		return; // trace messages
	}
	c->err->num_warnings++;
	if (c->err->msg_code == JWRN_JPEG_EOF) {
		ei_error_exit(c);
	}
}

static void ei_output_message(j_common_ptr c) { (void)c; }

static void ei_progress(j_common_ptr c) {
	ei_jpeg *j = (ei_jpeg *)c->client_data;
	if (j->d.input_scan_number > EI_MAX_SCANS) {
		j->kind = EI_CORRUPT;
		snprintf(j->msg, sizeof j->msg, "more than %d progressive scans", EI_MAX_SCANS);
		longjmp(j->jump, 1);
	}
}

ei_jpeg *ei_jpeg_new(void) {
	ei_jpeg *j = calloc(1, sizeof *j);
	if (j == NULL) {
		return NULL;
	}
	j->d.err = jpeg_std_error(&j->err);
	j->err.error_exit = ei_error_exit;
	j->err.emit_message = ei_emit_message;
	j->err.output_message = ei_output_message;
	j->d.client_data = j;
	if (setjmp(j->jump)) {
		free(j);
		return NULL;
	}
	jpeg_create_decompress(&j->d);
	j->created = 1;
	j->progress.progress_monitor = ei_progress;
	j->d.progress = &j->progress;
	return j;
}

void ei_jpeg_free(ei_jpeg *j) {
	if (j == NULL) {
		return;
	}
	if (j->created) {
		jpeg_destroy_decompress(&j->d);
	}
	free(j);
}

const char *ei_jpeg_message(ei_jpeg *j) { return j->msg; }

#define EI_STR(x) EI_STR2(x)
#define EI_STR2(x) #x

const char *ei_jpeg_version(void) {
#ifdef LIBJPEG_TURBO_VERSION
	return "libjpeg-turbo " EI_STR(LIBJPEG_TURBO_VERSION) " (libjpeg API " EI_STR(JPEG_LIB_VERSION) ")";
#else
	return "libjpeg (API " EI_STR(JPEG_LIB_VERSION) ", not libjpeg-turbo: slower, pixels may differ from Pillow's)";
#endif
}

int ei_jpeg_header(ei_jpeg *j, const unsigned char *data, unsigned long len,
                   int *width, int *height, int *components) {
	if (setjmp(j->jump)) {
		return j->kind;
	}
	jpeg_mem_src(&j->d, data, len);
	jpeg_read_header(&j->d, TRUE);
	*width = (int)j->d.image_width;
	*height = (int)j->d.image_height;
	*components = j->d.num_components;
	return 0;
}

int ei_jpeg_start(ei_jpeg *j, int denom, int cmyk, int *width, int *height) {
	if (setjmp(j->jump)) {
		return j->kind;
	}
	// As Pillow asks: RGB out of greyscale (replicated), YCbCr or RGB; the
	// stored CMYK (YCCK converted) out of four components. Defaults
	// otherwise: accurate integer IDCT and fancy upsampling.
	j->d.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
	j->d.scale_num = 1;
	j->d.scale_denom = (unsigned int)denom;
	jpeg_start_decompress(&j->d);
	*width = (int)j->d.output_width;
	*height = (int)j->d.output_height;
	return 0;
}

int ei_jpeg_read(ei_jpeg *j, unsigned char *out, size_t stride) {
	if (setjmp(j->jump)) {
		return j->kind;
	}
	while (j->d.output_scanline < j->d.output_height) {
		JSAMPROW rows[16];
		JDIMENSION n = j->d.output_height - j->d.output_scanline;
		if (n > 16) {
			n = 16;
		}
		for (JDIMENSION i = 0; i < n; i++) {
			rows[i] = out + (size_t)(j->d.output_scanline + i) * stride;
		}
		if (jpeg_read_scanlines(&j->d, rows, n) == 0) {
			// Only a suspending data source returns no rows; ours never does.
			j->kind = EI_CORRUPT;
			snprintf(j->msg, sizeof j->msg, "no rows decoded");
			return j->kind;
		}
	}
	jpeg_finish_decompress(&j->d);
	return 0;
}

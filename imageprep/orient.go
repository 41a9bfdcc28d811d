package imageprep

import (
	"bytes"
	"encoding/binary"
)

// orientation reads the EXIF Orientation tag (1–8) of an encoded image,
// wherever its format keeps it: a JPEG APP1 "Exif" segment, a PNG eXIf
// chunk, a WebP EXIF chunk, or a TIFF's own first IFD. It returns 1 (as
// stored) when there is none or it cannot be read; a broken EXIF block
// never fails a decode, as it does not in Pillow.
func orientation(data []byte, format string) int {
	var tiff []byte
	switch format {
	case "jpeg":
		tiff = jpegExif(data)
	case "png":
		tiff = pngExif(data)
	case "webp":
		tiff = webpExif(data)
	case "tiff":
		tiff = data
	}
	if o := tiffOrientation(tiff); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

var exifHeader = []byte("Exif\x00\x00")

// jpegExif walks the marker segments before the scan data for an APP1
// segment holding EXIF.
func jpegExif(d []byte) []byte {
	if len(d) < 2 || d[0] != 0xFF || d[1] != 0xD8 {
		return nil
	}
	for i := 2; i+4 <= len(d); {
		if d[i] != 0xFF {
			return nil
		}
		marker := d[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(d[i+2:]))
		if n < 2 || i+2+n > len(d) {
			return nil
		}
		seg := d[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, exifHeader) {
			return seg[len(exifHeader):]
		}
		i += 2 + n
	}
	return nil
}

// pngExif finds the eXIf chunk (PNG extension 1.5). Pillow also honours
// one placed after the image data, so every chunk is looked at.
func pngExif(d []byte) []byte {
	const sigLen = 8
	for i := sigLen; i+8 <= len(d); {
		n := int(binary.BigEndian.Uint32(d[i:]))
		typ := string(d[i+4 : i+8])
		if n < 0 || n > len(d)-i-12 {
			return nil
		}
		switch typ {
		case "eXIf":
			return d[i+8 : i+8+n]
		case "IEND":
			return nil
		}
		i += 12 + n // length, type, data, CRC
	}
	return nil
}

// webpExif finds the EXIF chunk of an extended (VP8X) WebP file. Some
// writers keep JPEG's "Exif\0\0" prefix inside it.
func webpExif(d []byte) []byte {
	if len(d) < 12 || string(d[0:4]) != "RIFF" || string(d[8:12]) != "WEBP" {
		return nil
	}
	for i := 12; i+8 <= len(d); {
		n := int(binary.LittleEndian.Uint32(d[i+4:]))
		if n < 0 || n > len(d)-i-8 {
			return nil
		}
		if string(d[i:i+4]) == "EXIF" {
			return bytes.TrimPrefix(d[i+8:i+8+n], exifHeader)
		}
		i += 8 + n + n%2 // chunks are padded to an even size
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[0:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 0
	}
	count := int64(bo.Uint16(t[ifd:]))
	for e := ifd + 2; e+12 <= int64(len(t)) && e < ifd+2+12*count; e += 12 {
		const tagOrientation, typeShort = 0x0112, 3
		if bo.Uint16(t[e:]) == tagOrientation && bo.Uint16(t[e+2:]) == typeShort && bo.Uint32(t[e+4:]) >= 1 {
			return int(bo.Uint16(t[e+8:]))
		}
	}
	return 0
}

// orient returns img as displayed under EXIF orientation o, applying the
// same transposition as Pillow's ImageOps.exif_transpose: 2 mirrors, 3
// turns 180°, 4 flips, 5 transposes, 6 turns 90° clockwise, 7 transverses,
// 8 turns 90° counter-clockwise.
func orient(img *RGB, o int) *RGB {
	if o <= 1 || o > 8 {
		return img
	}
	w, h := img.W, img.H
	// src maps an output pixel to the input pixel it shows.
	var src func(x, y int) (int, int)
	ow, oh := w, h
	switch o {
	case 2:
		src = func(x, y int) (int, int) { return w - 1 - x, y }
	case 3:
		src = func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }
	case 4:
		src = func(x, y int) (int, int) { return x, h - 1 - y }
	case 5:
		src = func(x, y int) (int, int) { return y, x }
	case 6:
		src = func(x, y int) (int, int) { return y, h - 1 - x }
	case 7:
		src = func(x, y int) (int, int) { return w - 1 - y, h - 1 - x }
	case 8:
		src = func(x, y int) (int, int) { return w - 1 - y, x }
	}
	if o >= 5 {
		ow, oh = h, w
	}
	out := newRGB(ow, oh)
	for y := range oh {
		for x := range ow {
			sx, sy := src(x, y)
			copy(out.Pix[3*(y*ow+x):3*(y*ow+x)+3], img.Pix[3*(sy*w+sx):3*(sy*w+sx)+3])
		}
	}
	return out
}

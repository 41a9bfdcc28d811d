package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// partialSuffix marks a file being downloaded; the engine never opens it.
const partialSuffix = ".incomplete"

var errStalled = errors.New("no data received")

// fetch brings file meta into its partial file beside the target,
// resuming what an earlier attempt left there, and verifies it. On success
// the partial holds exactly the announced bytes; the caller renames it.
// An interrupted transfer keeps the partial for the next attempt; bytes
// that fail verification are deleted.
func (h Hub) fetch(ctx context.Context, dir string, meta FileMeta, stall time.Duration, progress Progress) error {
	part := localPath(dir, meta.Path) + partialSuffix
	if err := os.MkdirAll(filepath.Dir(part), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	sum := sha256.New()
	if offset > meta.Size { // not a prefix of this file
		if offset, err = 0, reset(f, sum); err != nil {
			return err
		}
	}
	if _, err := io.Copy(sum, io.NewSectionReader(f, 0, offset)); err != nil {
		return fmt.Errorf("%s: reading the partial download: %w", meta.Path, err)
	}
	progress.Update(meta.Path, offset, meta.Size)
	if offset < meta.Size {
		offset, err = h.transfer(ctx, f, meta, offset, sum, stall, progress)
		if err == nil && offset < meta.Size {
			err = retryable{fmt.Errorf("%s: the server ended the transfer at %d of %d bytes (partial kept; pull again to resume)", meta.Path, offset, meta.Size)}
		}
		if err != nil {
			if syncErr := f.Sync(); syncErr != nil {
				err = errors.Join(err, syncErr)
			}
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := verify(meta, offset, sum); err != nil {
		f.Close()
		os.Remove(part)
		return err
	}
	return nil
}

// transfer appends the bytes from offset on to f, asking for a range when
// resuming, and returns the new length of f.
func (h Hub) transfer(ctx context.Context, f *os.File, meta FileMeta, offset int64, sum hash.Hash, stall time.Duration, progress Progress) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()

	req, err := h.newRequest(ctx, http.MethodGet, meta.Location, !meta.cdn)
	if err != nil {
		return offset, err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return offset, h.interrupted(ctx, meta, offset, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
			return h.restart(ctx, f, meta, sum, stall, progress, fmt.Errorf("answered range %q to bytes=%d-", resp.Header.Get("Content-Range"), offset))
		}
	case resp.StatusCode == http.StatusOK:
		// A server that ignores Range sends the whole file: start over.
		if offset > 0 {
			if err := reset(f, sum); err != nil {
				return 0, err
			}
			offset = 0
			progress.Update(meta.Path, 0, meta.Size)
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return h.restart(ctx, f, meta, sum, stall, progress, errors.New("range not satisfiable"))
	default:
		return offset, downloadError(meta, resp)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	// One byte past the announced size is read so an over-long body shows.
	body := io.LimitReader(resp.Body, meta.Size-offset+1)
	buf := make([]byte, 256<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			watchdog.Reset(stall)
			if _, err := f.Write(buf[:n]); err != nil {
				return offset, err
			}
			sum.Write(buf[:n])
			offset += int64(n)
			progress.Update(meta.Path, offset, meta.Size)
		}
		if rerr == io.EOF {
			return offset, nil
		}
		if rerr != nil {
			return offset, h.interrupted(ctx, meta, offset, rerr)
		}
	}
}

// restart drops what f holds and downloads the whole file once more,
// without a range; used when a server answers a range it was not asked for.
func (h Hub) restart(ctx context.Context, f *os.File, meta FileMeta, sum hash.Hash, stall time.Duration, progress Progress, why error) (int64, error) {
	if err := reset(f, sum); err != nil {
		return 0, err
	}
	progress.Update(meta.Path, 0, meta.Size)
	n, err := h.transfer(ctx, f, meta, 0, sum, stall, progress)
	if err != nil {
		return n, fmt.Errorf("%w (after restarting: server %v)", err, why)
	}
	return n, nil
}

func reset(f *os.File, sum hash.Hash) error {
	sum.Reset()
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// interrupted explains a transfer that stopped early; the partial file is
// kept. A caller's cancellation or deadline is returned as is.
func (h Hub) interrupted(ctx context.Context, meta FileMeta, got int64, err error) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, errStalled) {
		err = errStalled
	} else if cause != nil {
		return fmt.Errorf("%s: stopped at %d of %d bytes (partial kept; pull again to resume): %w", meta.Path, got, meta.Size, cause)
	}
	return retryable{fmt.Errorf("%s: transfer interrupted at %d of %d bytes (partial kept; pull again to resume): %w", meta.Path, got, meta.Size, err)}
}

// downloadError explains a refused GET. The file was there when the hub was
// asked moments ago, so anything but a server error is final.
func downloadError(meta FileMeta, resp *http.Response) error {
	err := fmt.Errorf("%s: the download answered HTTP %d", meta.Path, resp.StatusCode)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fmt.Errorf("%w: %w", err, ErrNotFound)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w (a signed download link may have expired; pull again): %w", err, ErrUnauthorized)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return retryable{err}
	}
	return err
}

// verify checks a finished partial against the hub's size and sha256.
func verify(meta FileMeta, size int64, sum hash.Hash) error {
	if size != meta.Size {
		return fmt.Errorf("%s: received %d bytes, the hub announced %d; the download was discarded: %w", meta.Path, size, meta.Size, ErrVerify)
	}
	if meta.SHA256 == "" {
		return nil
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != meta.SHA256 {
		return fmt.Errorf("%s: sha256 is %s, the hub announced %s; the download was discarded: %w", meta.Path, got, meta.SHA256, ErrVerify)
	}
	return nil
}

// rangeStart reads the first byte position of a Content-Range header,
// "bytes 100-199/200".
func rangeStart(h string) (int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil
}

// fileSHA256 hashes a file on disk.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

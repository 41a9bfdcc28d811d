package pull

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the hub huggingface_hub talks to when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// Errors a pull can wrap; test with errors.Is.
var (
	// ErrNotFound: the hub has no such repository, revision or file.
	ErrNotFound = errors.New("not found on the hub")
	// ErrUnauthorized: the hub wants a token (private or gated repository).
	ErrUnauthorized = errors.New("not authorized by the hub")
	// ErrVerify: the bytes received do not match the size or sha256 the hub announced.
	ErrVerify = errors.New("verification failed")
)

// Hub reads files from a Hugging Face hub: huggingface.co or a mirror that
// serves its layout, {endpoint}/{repo}/resolve/{revision}/{path}.
type Hub struct {
	// Endpoint is the hub's base URL, without a trailing slash.
	Endpoint string
	// Token, when set, is sent as a bearer token to the endpoint (never to
	// the CDN a large file redirects to).
	Token string
	// UserAgent names the client in requests.
	UserAgent string
	// Client sends the requests; nil means a client with header timeouts
	// and no overall timeout (a large file takes as long as it takes).
	Client *http.Client
}

// HubFromEnv configures a hub as huggingface_hub does: HF_ENDPOINT (default
// https://huggingface.co, trailing slashes dropped); the token from HF_TOKEN,
// else HUGGING_FACE_HUB_TOKEN, else the file `huggingface-cli login` writes
// ($HF_TOKEN_PATH, default $HF_HOME/token, HF_HOME defaulting to
// ~/.cache/huggingface).
func HubFromEnv() Hub {
	endpoint := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	return Hub{Endpoint: endpoint, Token: tokenFromEnv(), UserAgent: "edgeinfer"}
}

func tokenFromEnv() string {
	for _, key := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if v := strings.TrimSpace(os.Getenv(key)); v != "" {
			return v
		}
	}
	tokenPath := os.Getenv("HF_TOKEN_PATH")
	if tokenPath == "" {
		home := os.Getenv("HF_HOME")
		if home == "" {
			cache := os.Getenv("XDG_CACHE_HOME")
			if cache == "" {
				userHome, err := os.UserHomeDir()
				if err != nil {
					return ""
				}
				cache = filepath.Join(userHome, ".cache")
			}
			home = filepath.Join(cache, "huggingface")
		}
		tokenPath = filepath.Join(home, "token")
	}
	raw, err := os.ReadFile(tokenPath)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

// defaultClient waits at most a minute for response headers; body reads are
// guarded by the per-transfer stall timeout instead.
var defaultClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}()

func (h Hub) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return defaultClient
}

// FileMeta is what the hub says about one file at one revision.
type FileMeta struct {
	Path string
	// Size is the file's size; for an LFS file, the size of the real file,
	// not of its pointer.
	Size int64
	// SHA256 is the content hash of an LFS file (hex); empty for files kept
	// in git, whose ETag is a git blob ID.
	SHA256 string
	// ETag identifies this version of the file.
	ETag string
	// Commit is the commit the revision resolved to (X-Repo-Commit).
	Commit string
	// Location is where the bytes are fetched: the resolve URL itself, or
	// the CDN URL an LFS file redirects to.
	Location string
	// cdn is set when Location is not a hub URL: no token goes there.
	cdn bool
}

// ResolveURL is the address of a file in the hub layout. The revision is
// escaped as one path segment (a branch may contain '/'), the file path
// segment by segment.
func (h Hub) ResolveURL(repo, revision, file string) string {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", strings.TrimRight(h.Endpoint, "/"), repo, url.PathEscape(revision), strings.Join(segs, "/"))
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Stat asks the hub about one file the way huggingface_hub's
// get_hf_file_metadata does: a HEAD request on the resolve URL that follows
// relative redirects (a renamed repository) but not absolute ones (the CDN
// holding an LFS file), reading X-Repo-Commit, X-Linked-Etag or ETag, and
// X-Linked-Size or Content-Length.
func (h Hub) Stat(ctx context.Context, repo, revision, file string) (FileMeta, error) {
	target := h.ResolveURL(repo, revision, file)
	noRedirect := *h.client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for hops := 0; ; hops++ {
		req, err := h.newRequest(ctx, http.MethodHead, target, true)
		if err != nil {
			return FileMeta{}, err
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			return FileMeta{}, retryable{fmt.Errorf("%s: asking the hub: %w", file, err)}
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if isRedirect(resp.StatusCode) && loc != "" {
			next, err := resp.Request.URL.Parse(loc)
			if err != nil {
				return FileMeta{}, fmt.Errorf("%s: bad redirect %q: %w", file, loc, err)
			}
			if u, _ := url.Parse(loc); u != nil && u.Host == "" {
				if hops >= 10 {
					return FileMeta{}, fmt.Errorf("%s: too many redirects", file)
				}
				target = next.String()
				continue
			}
			m, err := h.meta(file, resp, next.String())
			m.cdn = true
			return m, err
		}
		if resp.StatusCode != http.StatusOK {
			return FileMeta{}, h.statusError(repo, revision, file, resp)
		}
		return h.meta(file, resp, target)
	}
}

func (h Hub) meta(file string, resp *http.Response, location string) (FileMeta, error) {
	m := FileMeta{Path: file, Location: location, Commit: resp.Header.Get("X-Repo-Commit")}
	m.ETag = normalizeETag(resp.Header.Get("X-Linked-Etag"))
	if m.ETag == "" {
		m.ETag = normalizeETag(resp.Header.Get("ETag"))
	}
	// The hub's ETag is a git blob SHA-1 (40 hex) for files kept in git and
	// the content's SHA-256 (64 hex) for LFS files.
	if sha256Hex.MatchString(m.ETag) {
		m.SHA256 = m.ETag
	}
	size := resp.Header.Get("X-Linked-Size")
	if size == "" && resp.StatusCode == http.StatusOK {
		size = resp.Header.Get("Content-Length")
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 {
		return FileMeta{}, fmt.Errorf("%s: the hub did not give the file's size, so a download could not be verified", file)
	}
	m.Size = n
	return m, nil
}

// normalizeETag strips the weak prefix and quotes of an ETag header.
func normalizeETag(s string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(s), "W/"), `"`)
}

func isRedirect(code int) bool { return code >= 300 && code < 400 }

// newRequest builds a request; the token goes only to hub URLs, as
// huggingface_hub drops it when a download leaves the resolve URL.
func (h Hub) newRequest(ctx context.Context, method, target string, toHub bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, err
	}
	// identity: sizes and byte ranges must refer to the stored bytes, and Go
	// would otherwise ask for gzip and decode it behind our back.
	req.Header.Set("Accept-Encoding", "identity")
	if h.UserAgent != "" {
		req.Header.Set("User-Agent", h.UserAgent)
	}
	if toHub && h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	return req, nil
}

// statusError turns a refused request into an error naming the file and
// what to do, using the hub's X-Error-Code where it sends one.
func (h Hub) statusError(repo, revision, file string, resp *http.Response) error {
	code := resp.Header.Get("X-Error-Code")
	msg := resp.Header.Get("X-Error-Message")
	if msg != "" {
		msg = " (" + msg + ")"
	}
	where := fmt.Sprintf("%s@%s", repo, revision)
	switch {
	case code == "EntryNotFound":
		return fmt.Errorf("%s: no such file in %s: %w", file, where, ErrNotFound)
	case code == "RevisionNotFound":
		return fmt.Errorf("%s: revision %q not found in %s: %w", file, revision, repo, ErrNotFound)
	case code == "GatedRepo":
		return fmt.Errorf("%s: %s is gated: accept its terms on the hub, then set HF_TOKEN%s: %w", file, repo, msg, ErrUnauthorized)
	case code == "RepoNotFound" || resp.StatusCode == http.StatusUnauthorized:
		// The hub answers 401 both for a missing repository and for a
		// private one without a token.
		hint := "set HF_TOKEN if it is private"
		if h.Token != "" {
			hint = "check that HF_TOKEN can read it"
		}
		return fmt.Errorf("%s: repository %s not found or not readable (HTTP %d; %s)%s: %w", file, repo, resp.StatusCode, hint, msg, ErrUnauthorized)
	case resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: access to %s refused (HTTP 403; check HF_TOKEN)%s: %w", file, where, msg, ErrUnauthorized)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: not found at %s (HTTP 404)%s: %w", file, where, msg, ErrNotFound)
	}
	err := fmt.Errorf("%s: the hub answered HTTP %d%s", file, resp.StatusCode, msg)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return retryable{err}
	}
	return err
}

// retryable marks an error worth another attempt: a dropped connection, a
// stalled transfer, a 5xx or 429 answer.
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

func isRetryable(err error) bool {
	var r retryable
	return errors.As(err, &r)
}

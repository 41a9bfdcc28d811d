package httpapi

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveLimited serves h under l on a loopback listener and returns its
// address.
func serveLimited(t *testing.T, h http.Handler, l Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := HTTPServer(h, l)
	go func() { _ = srv.Serve(LimitListener(ln, l.MaxConnections)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectClosed reads until the server closes c; guard only bounds a broken
// server, it is not the expected time.
func expectClosed(t *testing.T, c net.Conn, what string) string {
	t.Helper()
	const guard = 30 * time.Second
	_ = c.SetReadDeadline(time.Now().Add(guard))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection open for %v", what, guard)
	}
	return string(got)
}

// okHandler answers 200 after reading the whole body, 400 if it cannot.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, "body could not be read", http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "ok")
})

func TestDefaultLimitsAreAllSet(t *testing.T) {
	l := DefaultLimits()
	if l.MaxConnections <= 0 || l.MaxHeaderBytes <= 0 || l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= 0 ||
		l.WriteStallTimeout <= 0 || l.IdleTimeout <= 0 {
		t.Fatalf("a default limit is unset: %+v", l)
	}
}

func TestHeaderTooLarge(t *testing.T) {
	addr := serveLimited(t, okHandler, Limits{MaxHeaderBytes: 4 << 10})
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
}

// A slow-loris client trickling its headers is dropped without an answer.
func TestSlowHeadersAreDropped(t *testing.T) {
	addr := serveLimited(t, okHandler, Limits{ReadHeaderTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	if got := expectClosed(t, c, "slow headers"); strings.Contains(got, "200 OK") {
		t.Fatalf("answered an unfinished request: %q", got)
	}
}

// A client that sends headers promptly but stalls inside the body is cut off
// by the read timeout.
func TestSlowBodyIsDropped(t *testing.T) {
	addr := serveLimited(t, okHandler, Limits{ReadHeaderTimeout: time.Second, ReadTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b"); err != nil {
		t.Fatal(err)
	}
	if got := expectClosed(t, c, "slow body"); strings.Contains(got, "200 OK") {
		t.Fatalf("answered a request whose body never arrived: %q", got)
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	addr := serveLimited(t, okHandler, Limits{IdleTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("status %d, close %v: want a kept-alive 200", res.StatusCode, res.Close)
	}
	expectClosed(t, c, "idle keep-alive connection")
}

// A client that stops reading a response makes the server's writes fail
// instead of holding the handler forever.
func TestStalledReaderFailsWrites(t *testing.T) {
	writeErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	addr := serveLimited(t, h, Limits{WriteStallTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing; the socket buffers fill, then a write stalls.
	select {
	case err := <-writeErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("write failed with %v, want a timeout", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the handler still writes to a client that reads nothing")
	}
}

func TestLimitListenerHoldsExtraConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ll := LimitListener(ln, 2)
	defer ll.Close()
	for range 3 {
		dial(t, ln.Addr().String())
	}
	first, err := ll.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ll.Accept(); err != nil {
		t.Fatal(err)
	}
	third := make(chan net.Conn, 1)
	go func() {
		c, err := ll.Accept()
		if err == nil {
			third <- c
		}
	}()
	select {
	case <-third:
		t.Fatal("accepted a third connection while two were open")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-third:
		c.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("closing a connection did not free its slot")
	}
}

// Closing the listener must end an Accept waiting for a slot, or Serve
// would never return on shutdown.
func TestLimitListenerCloseEndsAWaitingAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ll := LimitListener(ln, 1)
	dial(t, ln.Addr().String())
	if _, err := ll.Accept(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ll.Accept(); done <- err }()
	ll.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept returned %v, want net.ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Accept still waits after Close")
	}
}

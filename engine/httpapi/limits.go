package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits bound what one client can hold of the server: connections, header
// bytes, and the time it may take to send a request, to read a response, or
// to sit idle. Body size, items per request, tokens per input and image
// pixels are bounded by Options.MaxBodyBytes and the engine's validation.
type Limits struct {
	// MaxConnections caps open connections; further clients wait in the
	// listen backlog until one closes.
	MaxConnections int
	// MaxHeaderBytes caps the request line and headers (431 beyond it).
	MaxHeaderBytes int
	// ReadHeaderTimeout bounds sending the request line and headers, so a
	// slow-loris client that trickles headers is dropped.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteStallTimeout bounds each write of a response: a client that stops
	// reading loses its connection, while a long stream that keeps being
	// read is never cut.
	WriteStallTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request.
	IdleTimeout time.Duration
}

// DefaultLimits are the limits `edgeinfer serve` applies.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:    4096,
		MaxHeaderBytes:    64 << 10,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteStallTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// HTTPServer returns an http.Server for h under l. Serve it on
// LimitListener(ln, l.MaxConnections).
func HTTPServer(h http.Handler, l Limits) *http.Server {
	if l.WriteStallTimeout > 0 {
		h = writeStallGuard(h, l.WriteStallTimeout)
	}
	return &http.Server{
		Handler:           h,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// writeStallGuard moves the connection's write deadline forward before
// every write, instead of http.Server.WriteTimeout's one deadline for the
// whole response, which would cut long generation streams.
func writeStallGuard(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}, r)
	})
}

type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	// A writer without deadlines (a test recorder) just writes.
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

func (w *deadlineWriter) Flush() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	_ = w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// LimitListener accepts at most n connections at a time; n <= 0 means no
// limit.
func LimitListener(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done: // closed while every slot was taken
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

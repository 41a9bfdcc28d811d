package httpapi

import (
	"net/http"
	"net/url"
	"strings"
)

// miniflareHeaderPrefix marks the original request headers in miniflare's
// remote-proxy protocol.
const miniflareHeaderPrefix = "Mf-Header-"

// unwrapMiniflareProxy serves requests that arrive through miniflare's
// remote-proxy client, which is how miniflare (and so vitest-pool-workers)
// backs `ai: {binding, remoteProxyConnectionString}`: the client POSTs every
// binding call to the connection string itself, moving the original URL into
// MF-URL and each original header X into MF-Header-X. Restoring both lets
// env.AI.run and env.AI.models reach their usual routes.
func unwrapMiniflareProxy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		original := r.Header.Get("MF-URL")
		if original == "" || r.Header.Get("MF-Binding") == "" {
			next.ServeHTTP(w, r)
			return
		}
		u, err := url.Parse(original)
		if err != nil || u.Path == "" {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
		r2.RequestURI = r2.URL.RequestURI()
		for name, values := range r.Header {
			if orig, ok := strings.CutPrefix(name, miniflareHeaderPrefix); ok {
				r2.Header[http.CanonicalHeaderKey(orig)] = values
				delete(r2.Header, name)
			}
		}
		next.ServeHTTP(w, r2)
	})
}

package httpapi

import (
	"net/http"
	"net/url"
	"strings"
)

// miniflareHeaderPrefix marks the original request headers in miniflare's
// remote-proxy protocol.
const miniflareHeaderPrefix = "Mf-Header-"

// unwrapForwardedBinding restores binding calls that a local Workers runtime
// forwards inside another request, so they reach their usual routes
// (/run, /ai-gateway/run, /ai-api/models/search):
//
//   - wrangler dev 3.x sends every env.AI call, GET or POST, to
//     /client/v4/accounts/{id}/ai/run/proxy with the binding's URL in
//     X-Forwarded;
//   - miniflare's remote-proxy client, behind `ai: {binding,
//     remoteProxyConnectionString}` (so also vitest-pool-workers), sends it to
//     the connection string itself with the URL in MF-URL and each original
//     header X as MF-Header-X.
func unwrapForwardedBinding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if original := r.Header.Get("MF-URL"); original != "" && r.Header.Get("MF-Binding") != "" {
			if r2, ok := withURL(r, original); ok {
				for name, values := range r.Header {
					if orig, ok := strings.CutPrefix(name, miniflareHeaderPrefix); ok {
						r2.Header[http.CanonicalHeaderKey(orig)] = values
						delete(r2.Header, name)
					}
				}
				r = r2
			}
		} else if original := r.Header.Get("X-Forwarded"); original != "" && isWranglerProxyPath(r.URL.Path) {
			if r2, ok := withURL(r, original); ok {
				r = r2
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isWranglerProxyPath matches /client/v4/accounts/{id}/ai/run/proxy.
func isWranglerProxyPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/client/v4/accounts/")
	if !ok {
		return false
	}
	account, tail, ok := strings.Cut(rest, "/")
	return ok && account != "" && tail == "ai/run/proxy"
}

// withURL returns a copy of r addressed to the path and query of original.
func withURL(r *http.Request, original string) (*http.Request, bool) {
	u, err := url.Parse(original)
	if err != nil || u.Path == "" {
		return nil, false
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	r2.RequestURI = r2.URL.RequestURI()
	return r2, true
}

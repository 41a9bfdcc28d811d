package httpapi

import (
	"net/http"
	"strconv"

	"github.com/edgeinfer/edgeinfer/engine"
)

const defaultPerPage = 50

// handleSearch serves GET …/ai/models/search with the task, search, author,
// page and per_page filters of the Cloudflare API.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := positiveParam(q.Get("page"), 1, "page")
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	perPage, err := positiveParam(q.Get("per_page"), defaultPerPage, "per_page")
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	objects := s.searchObjects(r)
	total := len(objects)
	lo := min((page-1)*perPage, total)
	hi := min(lo+perPage, total)
	writeJSON(w, http.StatusOK, envelope{Result: objects[lo:hi], Success: true, Errors: []envelopeError{}, Messages: []string{},
		ResultInfo: &resultInfo{Page: page, PerPage: perPage, Count: hi - lo, TotalCount: total}})
}

// handleBindingSearch serves env.AI.models(), which wants {result: […]}.
func (s *Server) handleBindingSearch(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"result": s.searchObjects(r)})
}

func (s *Server) searchObjects(r *http.Request) []engine.SearchObject {
	q := r.URL.Query()
	cat := s.eng.Catalog()
	entries := cat.Search(engine.SearchQuery{Task: q.Get("task"), Search: q.Get("search"), Author: q.Get("author")})
	objects := make([]engine.SearchObject, 0, len(entries))
	for _, e := range entries {
		objects = append(objects, cat.SearchObject(e))
	}
	return objects
}

func positiveParam(v string, def int, name string) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, engine.BadInput(name, "must be a positive integer, got %q", v)
	}
	return n, nil
}

// handleSchema serves GET …/ai/models/schema?model=… with the model's
// input and output JSON Schemas.
func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request) {
	model := r.URL.Query().Get("model")
	if model == "" {
		writeEnvelopeError(w, engine.BadInput("model", "query parameter is required"))
		return
	}
	entry, err := s.eng.Catalog().Resolve(model)
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	schema, err := s.eng.Catalog().ModelSchema(entry)
	if err != nil {
		writeEnvelopeError(w, engine.Internal(err))
		return
	}
	writeResult(w, schema)
}

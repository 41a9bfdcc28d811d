package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/edgeinfer/edgeinfer/engine"
)

// controlRequest is the body of the model control routes.
type controlRequest struct {
	Model string `json:"model"`
}

func (s *Server) readControl(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return "", err
	}
	var req controlRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return "", engine.BadInput("/", "body must be {\"model\": \"@cf/…\"}")
	}
	if req.Model == "" {
		return "", engine.BadInput("model", "is required")
	}
	return req.Model, nil
}

// handleLoad serves POST /edgeinfer/v1/models/load: load a model now.
func (s *Server) handleLoad(w http.ResponseWriter, r *http.Request) {
	model, err := s.readControl(w, r)
	if err == nil {
		ctx, cancel := s.requestContext(r)
		defer cancel()
		err = s.eng.Load(ctx, model)
	}
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	writeResult(w, map[string]string{"model": model, "state": "loaded"})
}

// handleUnload serves POST /edgeinfer/v1/models/unload.
func (s *Server) handleUnload(w http.ResponseWriter, r *http.Request) {
	model, err := s.readControl(w, r)
	if err == nil {
		err = s.eng.Unload(model)
	}
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	writeResult(w, map[string]string{"model": model, "state": "unloaded"})
}

// handleModels serves GET /edgeinfer/v1/models: every model's residency.
func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	writeResult(w, s.eng.Models())
}

// handleUsage serves GET /edgeinfer/v1/usage: usage per API token (by a
// short hash, never the token) and model, with a neurons estimate.
func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) {
	if s.gw == nil {
		writeEnvelopeError(w, engine.Errorf(engine.KindNotFound, "Usage is kept by `edgeinfer serve`'s gateway"))
		return
	}
	rep, err := s.gw.Usage(r.Context(), bearerToken(r))
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	writeResult(w, rep)
}

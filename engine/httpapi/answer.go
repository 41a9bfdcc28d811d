package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway"
)

// framing writes results and errors the way one surface frames them.
type framing struct {
	result func(http.ResponseWriter, any)
	fail   func(http.ResponseWriter, error)
}

var (
	restFraming    = framing{result: writeResult, fail: writeEnvelopeError}
	bindingFraming = framing{result: func(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, v) }, fail: writeBindingError}
)

// answer serves one Workers AI call: a batch poll ({request_id}), a batch
// submission (queueRequest), or an inference through the gateway's cache,
// rate limits and usage metering.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, model string, in engine.Input, opts requestOptions, f framing) {
	if err := applyGatewayHeaders(r.Header, &opts.gateway); err != nil {
		f.fail(w, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	ctx = engine.WithOptions(ctx, opts.RunOptions)
	if out, ok, err := s.batchCall(ctx, r, model, in, opts.gateway.queue); ok {
		if err != nil {
			f.fail(w, err)
		} else {
			f.result(w, out)
		}
		return
	}
	res, err := s.infer(ctx, r, model, in, opts.gateway.cache)
	if err != nil {
		f.fail(w, err)
		return
	}
	if res.CacheStatus != "" {
		w.Header().Set("cf-aig-cache-status", res.CacheStatus)
	}
	if entry, ok := s.eng.Catalog().Lookup(model); ok && entry.Schema == engine.SchemaOpenAIChat {
		answerChat(w, res, cancel, model, in, f)
		return
	}
	if res.Stream != nil {
		writeSSE(w, res.Stream, cancel)
		return
	}
	f.result(w, resultOf(res))
}

// answerChat answers a model whose Workers AI schema is OpenAI's chat
// completion: a chat.completion object, or chat.completion.chunk events
// followed by Workers AI's usage event and [DONE].
func answerChat(w http.ResponseWriter, res gateway.Response, cancel func(), model string, in engine.Input, f framing) {
	id, created := "chatcmpl-"+newRequestID(), time.Now().Unix()
	if res.Stream != nil {
		var opts struct {
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		_ = json.Unmarshal(in.JSON, &opts) // the engine validated the input
		writeChatChunks(w, res.Stream, cancel, chunkStream{id: id, created: created, model: model,
			includeUsage: opts.StreamOptions.IncludeUsage, workersUsage: true})
		return
	}
	gen, ok := openAIOutput[engine.GenerationOutput](res)
	if !ok {
		f.result(w, resultOf(res))
		return
	}
	f.result(w, chatCompletion(gen, id, created, model))
}

// batchCall handles the Batch API: {request_id} polls a job (with or
// without queueRequest, as env.AI.run(model, {request_id}) sends it), and
// queueRequest submits {requests:[…]}. ok is false for any other call.
func (s *Server) batchCall(ctx context.Context, r *http.Request, model string, in engine.Input, queue bool) (out any, ok bool, err error) {
	id, poll := gateway.PollID(in.JSON)
	if !poll && !queue {
		return nil, false, nil
	}
	if s.gw == nil {
		return nil, true, engine.Errorf(engine.KindNotFound, "The Batch API (queueRequest) needs `edgeinfer serve`, which keeps the job store")
	}
	if in.JSON == nil {
		return nil, true, engine.BadInput("requests", "a queued request must be a JSON object {\"requests\": [...]}")
	}
	if poll {
		out, err = s.gw.Poll(ctx, model, bearerToken(r), id)
	} else {
		out, err = s.gw.Submit(ctx, model, bearerToken(r), in.JSON)
	}
	return out, true, err
}

// infer runs an inference through the gateway when there is one, else
// straight through the engine (the response then carries Output alone).
func (s *Server) infer(ctx context.Context, r *http.Request, model string, in engine.Input, cache gateway.CacheOptions) (gateway.Response, error) {
	if s.gw != nil {
		return s.gw.Run(ctx, gateway.Request{Model: model, Input: in, Token: bearerToken(r), Cache: cache})
	}
	out, err := s.eng.Run(ctx, model, in)
	if err != nil {
		return gateway.Response{}, err
	}
	if stream, ok := out.(*engine.TextStream); ok {
		return gateway.Response{Stream: stream}, nil
	}
	return gateway.Response{Output: out}, nil // encoded once, when written
}

// resultOf is what a response writes: the gateway's encoded answer, else the
// engine output itself.
func resultOf(res gateway.Response) any {
	if res.JSON != nil {
		return res.JSON
	}
	return res.Output
}

// bearerToken is the API token a request presents, "" for none.
func bearerToken(r *http.Request) string {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(token)
}

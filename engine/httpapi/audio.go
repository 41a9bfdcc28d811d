package httpapi

import (
	"errors"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway"
)

// Multipart limits of the OpenAI audio routes: the file may be
// engine.MaxAudioBytes, each text field maxFormField bytes, and a form has
// at most maxFormParts parts.
const (
	maxFormField = 64 << 10
	maxFormParts = 32
)

// audioForm is an OpenAI transcription or translation request.
type audioForm struct {
	file           []byte
	model          string
	language       string
	prompt         string
	responseFormat string
	temperature    float64
	granularities  []string
}

// handleAudio serves OpenAI's POST /v1/audio/transcriptions (task
// "transcribe") and /v1/audio/translations ("translate") over the catalog's
// speech-recognition models, as the openai SDKs send them: a multipart form
// with file and model. "whisper-1" is a catalog alias of
// @cf/openai/whisper-large-v3-turbo.
func (s *Server) handleAudio(task string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form, err := readAudioForm(w, r)
		if err != nil {
			writeOpenAIError(w, err)
			return
		}
		entry, in, err := s.transcriptionRequest(form, task)
		if err != nil {
			writeOpenAIError(w, err)
			return
		}
		ctx, cancel := s.requestContext(r)
		defer cancel()
		res, err := s.infer(ctx, r, entry.ID, engine.Input{Value: in}, gateway.CacheOptions{})
		if err != nil {
			writeOpenAIError(w, audioFieldIsFile(err))
			return
		}
		out, ok := openAIOutput[engine.Transcription](res)
		if !ok || out.TranscriptionOutput == nil {
			writeOpenAIError(w, engine.Internal(errors.New("speech recognition returned no transcription")))
			return
		}
		writeAudioAnswer(w, form, task, out.TranscriptionOutput)
	}
}

// transcriptionRequest resolves the form's model and turns the form into
// the engine's request.
func (s *Server) transcriptionRequest(form *audioForm, task string) (*engine.Entry, *engine.TranscriptionInput, error) {
	entry, err := s.eng.Catalog().Resolve(form.model)
	if err != nil {
		return nil, nil, err
	}
	if entry.Task != engine.TaskSpeechRecognition {
		return nil, nil, engine.BadInput("model", "%s is not a speech-recognition model", form.model)
	}
	in := &engine.TranscriptionInput{Audio: form.file, Task: task, Language: form.language, InitialPrompt: form.prompt,
		ConditionOnPreviousText: true}
	if task == "translate" {
		in.Language = "" // OpenAI's translations take no language: the source is detected
	}
	if form.temperature > 0 {
		// OpenAI: 0 lets the model raise the temperature as needed (Whisper's
		// fallback ladder); any other value is used alone.
		in.Temperature = []float64{form.temperature}
	}
	for _, g := range form.granularities {
		in.WordTimestamps = in.WordTimestamps || g == "word"
	}
	return entry, in, nil
}

// readAudioForm reads the multipart form part by part, so that no part is
// held beyond its limit and nothing is spooled to disk.
func readAudioForm(w http.ResponseWriter, r *http.Request) (*audioForm, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, engine.BadInput("file", "the request must be multipart/form-data with a file field")
	}
	r.Body = http.MaxBytesReader(w, r.Body, engine.MaxAudioBytes+maxFormParts*maxFormField)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, engine.BadInput("file", "the request must be multipart/form-data with a file field")
	}
	form := &audioForm{responseFormat: "json"}
	var fileSeen bool
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, formReadError(err)
		}
		if i >= maxFormParts {
			return nil, engine.TooLarge("", "the form has more than %d parts", maxFormParts)
		}
		if part.FormName() == "file" {
			if form.file, err = readPart(part, "file", engine.MaxAudioBytes); err != nil {
				return nil, err
			}
			fileSeen = true
			continue
		}
		if err := form.setField(part); err != nil {
			return nil, err
		}
	}
	return form, form.check(fileSeen)
}

// setField reads one text field of the form; unknown fields are ignored,
// as OpenAI's newer fields (chunking_strategy, include[]) are.
func (f *audioForm) setField(part *multipart.Part) error {
	name := part.FormName()
	raw, err := readPart(part, name, maxFormField)
	if err != nil {
		return err
	}
	v := strings.TrimSpace(string(raw))
	switch name {
	case "model":
		f.model = v
	case "language":
		f.language = v
	case "prompt":
		f.prompt = string(raw)
	case "response_format":
		f.responseFormat = v
	case "temperature":
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(t) || t < 0 || t > 1 {
			return engine.BadInput("temperature", "must be a number between 0 and 1, got %q", v)
		}
		f.temperature = t
	case "timestamp_granularities[]", "timestamp_granularities":
		if v != "word" && v != "segment" {
			return engine.BadInput("timestamp_granularities", "must be \"word\" or \"segment\", got %q", v)
		}
		f.granularities = append(f.granularities, v)
	}
	return nil
}

// check validates the form as a whole.
func (f *audioForm) check(fileSeen bool) error {
	if !fileSeen {
		return engine.BadInput("file", "is required")
	}
	if err := engine.CheckAudio("file", f.file); err != nil {
		return err
	}
	if f.model == "" {
		return engine.BadInput("model", "is required")
	}
	switch f.responseFormat {
	case "json", "text", "srt", "verbose_json", "vtt":
	default:
		return engine.BadInput("response_format", "must be one of json, text, srt, verbose_json, vtt, got %q", f.responseFormat)
	}
	if len(f.granularities) > 0 && f.responseFormat != "verbose_json" {
		return engine.BadInput("timestamp_granularities", "needs response_format verbose_json")
	}
	return nil
}

// readPart reads a part of at most limit bytes.
func readPart(p *multipart.Part, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, limit+1))
	if err != nil {
		return nil, formReadError(err)
	}
	if int64(len(b)) > limit {
		return nil, engine.TooLarge(name, "is over the limit of %d bytes", limit)
	}
	return b, nil
}

// formReadError is the error for a form that could not be read: too large
// (413) or malformed (400).
func formReadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return engine.TooLarge("file", "the request body is over the limit of %d bytes", tooBig.Limit)
	}
	return engine.BadInput("file", "the multipart form could not be read: %v", err)
}

// audioFieldIsFile renames the engine's "audio" field to the form's "file"
// in an error, so an OpenAI client sees the parameter it sent.
func audioFieldIsFile(err error) error {
	var e *engine.Error
	if !errors.As(err, &e) || e.Field != "audio" {
		return err
	}
	c := *e
	c.Field = "file"
	c.Message = strings.Replace(c.Message, "'audio'", "'file'", 1)
	return &c
}

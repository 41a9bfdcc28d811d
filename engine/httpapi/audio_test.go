package httpapi

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

const restRun = "/client/v4/accounts/acct/ai/run/"

func TestRESTTakesRawAudioAndUint8Arrays(t *testing.T) {
	srv := newTestServer(t, Options{MaxBodyBytes: 1000})
	audio := "RIFF" + strings.Repeat("\x00", 3996)
	r := do(t, "POST", srv.URL+restRun+"@cf/openai/whisper-tiny-en", "audio/wav", audio, nil)
	var env restEnvelope
	if err := json.Unmarshal(r.body, &env); err != nil || r.status != 200 || !env.Success {
		t.Fatalf("raw body: %d %s", r.status, r.body)
	}
	var legacy struct {
		Text      string
		WordCount int `json:"word_count"`
		Words     []engine.TranscriptionWord
		VTT       string
	}
	if err := json.Unmarshal(env.Result, &legacy); err != nil {
		t.Fatal(err)
	}
	// The fake's second segment has no word timings; the engine spreads its
	// words over 2-4 s.
	if legacy.Text != " 4000 bytes transcribe auto " || legacy.WordCount != 4 || len(legacy.Words) != 3 ||
		legacy.Words[2].Word != "auto" || legacy.Words[2].End != 4 || legacy.Words[1].Start != 2 || !strings.HasPrefix(legacy.VTT, "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n4000 bytes\n\n") {
		t.Fatalf("answer = %s", env.Result)
	}
	// The same audio as a JSON array is 4x the server's body limit, which
	// speech-recognition models raise; other models keep it.
	nums := make([]string, 4000)
	for i := range nums {
		nums[i] = strconv.Itoa(int(audio[i]))
	}
	body := `{"audio":[` + strings.Join(nums, ",") + `]}`
	r = do(t, "POST", srv.URL+restRun+"@cf/openai/whisper", "application/json", body, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"text":" 4000 bytes transcribe auto "`) {
		t.Fatalf("uint8 array: %d %s", r.status, r.body)
	}
	r = do(t, "POST", srv.URL+restRun+"@cf/baai/bge-small-en-v1.5", "application/json", `{"text":"`+strings.Repeat("a", 2000)+`"}`, nil)
	if r.status != 413 {
		t.Fatalf("embedding over the limit: %d %s", r.status, r.body)
	}
}

func TestRESTAudioErrorsNameTheField(t *testing.T) {
	srv := newTestServer(t, Options{})
	for _, tc := range []struct {
		model, ct, body string
		status          int
		want            string
	}{
		{"@cf/openai/whisper-tiny-en", "audio/wav", "bad audio", 400, "'audio'"},
		{"@cf/openai/whisper-tiny-en", "application/json", `{"audio":[1,300]}`, 400, "'audio[1]'"},
		{"@cf/openai/whisper-large-v3-turbo", "application/json", `{"audio":"UklGRg==","beam_size":20}`, 400, "'beam_size'"},
		{"@cf/openai/whisper-large-v3-turbo", "application/json", `{"audio":"UklGRg==","task":"dance"}`, 400, "'task'"},
		{"@cf/openai/whisper-large-v3-turbo", "audio/wav", strings.Repeat("a", engine.MaxAudioBytes+1), 413, "'audio'"},
	} {
		r := do(t, "POST", srv.URL+restRun+tc.model, tc.ct, tc.body, nil)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) || !restShape(r.body) {
			t.Errorf("%s %.30q: %d %s, want %d naming %s", tc.model, tc.body, r.status, r.body, tc.status, tc.want)
		}
	}
}

func TestBindingStreamsAudioWithUserInputs(t *testing.T) {
	srv := newTestServer(t, Options{})
	q := url.Values{"version": {"3"}, "userInputs": {`{"language":"fr","task":"translate"}`}}
	r := do(t, "POST", srv.URL+"/run?"+q.Encode(), "audio/ogg", "OggS"+strings.Repeat("x", 996),
		map[string]string{"cf-consn-model-id": "@cf/openai/whisper-large-v3-turbo"})
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var turbo struct {
		Info struct {
			Language string  `json:"language"`
			Duration float64 `json:"duration"`
		} `json:"transcription_info"`
		Text     string
		Segments []struct{ Start, End float64 }
		VTT      string
	}
	if err := json.Unmarshal(r.body, &turbo); err != nil {
		t.Fatal(err)
	}
	if turbo.Text != " 1000 bytes translate fr " || turbo.Info.Duration != 1 || len(turbo.Segments) != 2 || turbo.Segments[1].End != 1 ||
		turbo.VTT != "WEBVTT\n\n00:00:00.000 --> 00:00:00.500\n1000 bytes\n\n00:00:00.500 --> 00:00:01.000\ntranslate fr\n\n" {
		t.Fatalf("answer = %s", r.body)
	}
	// And the JSON form of the binding, base64 audio.
	r = do(t, "POST", srv.URL+"/run?version=3", "application/json", `{"inputs":{"audio":"T2dnUw==","language":"de"},"options":{}}`,
		map[string]string{"cf-consn-model-id": "@cf/openai/whisper-large-v3-turbo"})
	if r.status != 200 || !strings.Contains(string(r.body), `"text":" 4 bytes transcribe de "`) {
		t.Fatalf("JSON binding: %d %s", r.status, r.body)
	}
}

// audioRequest builds an OpenAI multipart form as the openai SDK sends it.
func audioRequest(t *testing.T, url string, file []byte, fields map[string][]string) response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if file != nil {
		fw, err := mw.CreateFormFile("file", "speech.wav")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	for name, vs := range fields {
		for _, v := range vs {
			mw.WriteField(name, v)
		}
	}
	mw.Close()
	return do(t, "POST", url, mw.FormDataContentType(), buf.String(), nil)
}

func TestOpenAITranscriptionFormats(t *testing.T) {
	srv := newTestServer(t, Options{})
	file := []byte("RIFF" + strings.Repeat("\x00", 3996))
	post := func(format string, extra map[string][]string) response {
		fields := map[string][]string{"model": {"whisper-1"}, "response_format": {format}, "language": {"en"}, "prompt": {"Hi"}}
		for k, v := range extra {
			fields[k] = v
		}
		return audioRequest(t, srv.URL+"/v1/audio/transcriptions", file, fields)
	}
	r := post("json", nil)
	if r.status != 200 || string(r.body) != `{"text":" 4000 bytes transcribe en Hi","usage":{"type":"duration","seconds":4}}` {
		t.Fatalf("json: %d %q", r.status, r.body)
	}
	r = post("text", nil)
	if r.status != 200 || string(r.body) != " 4000 bytes transcribe en Hi\n" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("text: %d %q", r.status, r.body)
	}
	r = post("srt", nil)
	if want := "1\n00:00:00,000 --> 00:00:02,000\n4000 bytes\n\n2\n00:00:02,000 --> 00:00:04,000\ntranscribe en Hi\n\n"; r.status != 200 || string(r.body) != want {
		t.Fatalf("srt: %d %q", r.status, r.body)
	}
	r = post("vtt", nil)
	if want := "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n4000 bytes\n\n00:00:02.000 --> 00:00:04.000\ntranscribe en Hi\n\n"; r.status != 200 || string(r.body) != want {
		t.Fatalf("vtt: %d %q", r.status, r.body)
	}
	r = post("verbose_json", map[string][]string{"timestamp_granularities[]": {"word", "segment"}})
	var v struct {
		Task, Language, Text string
		Duration             float64
		Segments             []struct {
			ID, Seek   int
			Start, End float64
			Tokens     []int64
		}
		Words []engine.TranscriptionWord
	}
	if err := json.Unmarshal(r.body, &v); err != nil || r.status != 200 {
		t.Fatalf("verbose_json: %d %s", r.status, r.body)
	}
	if v.Task != "transcribe" || v.Language != "english" || v.Duration != 4 || len(v.Segments) != 2 || v.Segments[1].Seek != 100 ||
		len(v.Segments[0].Tokens) != 3 || len(v.Words) != 4 || v.Words[1].Word != "transcribe" || v.Words[3].End != 4 {
		t.Fatalf("verbose_json = %s", r.body)
	}
	r = post("verbose_json", map[string][]string{"timestamp_granularities[]": {"word"}})
	if strings.Contains(string(r.body), `"segments"`) || !strings.Contains(string(r.body), `"words"`) {
		t.Fatalf("word granularity alone: %s", r.body)
	}
	r = audioRequest(t, srv.URL+"/v1/audio/translations", file, map[string][]string{"model": {"@cf/openai/whisper"}, "language": {"de"}})
	if r.status != 200 || !strings.Contains(string(r.body), `" 4000 bytes translate auto "`) {
		t.Fatalf("translation: %d %s", r.status, r.body)
	}
}

func TestOpenAITranscriptionErrors(t *testing.T) {
	srv := newTestServer(t, Options{})
	wav := []byte("RIFF....")
	url := srv.URL + "/v1/audio/transcriptions"
	for _, tc := range []struct {
		name   string
		file   []byte
		fields map[string][]string
		status int
		param  string
	}{
		{"no file", nil, map[string][]string{"model": {"whisper-1"}}, 400, "file"},
		{"empty file", []byte{}, map[string][]string{"model": {"whisper-1"}}, 400, "file"},
		{"no model", wav, nil, 400, "model"},
		{"not an ASR model", wav, map[string][]string{"model": {"@cf/baai/bge-small-en-v1.5"}}, 400, "model"},
		{"unknown format", wav, map[string][]string{"model": {"whisper-1"}, "response_format": {"xml"}}, 400, "response_format"},
		{"temperature 2", wav, map[string][]string{"model": {"whisper-1"}, "temperature": {"2"}}, 400, "temperature"},
		{"granularity", wav, map[string][]string{"model": {"whisper-1"}, "response_format": {"verbose_json"}, "timestamp_granularities[]": {"char"}}, 400, "timestamp_granularities"},
		{"granularity without verbose", wav, map[string][]string{"model": {"whisper-1"}, "timestamp_granularities[]": {"word"}}, 400, "timestamp_granularities"},
		{"undecodable audio", []byte("bad bytes"), map[string][]string{"model": {"whisper-1"}}, 400, "file"},
		{"too large", make([]byte, engine.MaxAudioBytes+1), map[string][]string{"model": {"whisper-1"}}, 413, "file"},
	} {
		r := audioRequest(t, url, tc.file, tc.fields)
		var e openAIError
		if err := json.Unmarshal(r.body, &e); err != nil || r.status != tc.status || e.Error.Param != tc.param || e.Error.Type != "invalid_request_error" {
			t.Errorf("%s: %d %s, want %d with param %s", tc.name, r.status, r.body, tc.status, tc.param)
		}
	}
	r := do(t, "POST", url, "application/json", `{"model":"whisper-1"}`, nil)
	if r.status != http.StatusBadRequest || !openAIShape(r.body) {
		t.Fatalf("JSON body: %d %s", r.status, r.body)
	}
}

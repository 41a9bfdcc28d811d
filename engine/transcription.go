package engine

import "context"

// TaskSpeechRecognition is Workers AI's Automatic Speech Recognition task
// (whisper, whisper-tiny-en, whisper-large-v3-turbo): audio in, text,
// segments, words and subtitles out.
const TaskSpeechRecognition Task = "automatic-speech-recognition"

// TranscriptionInput is a validated speech-recognition request.
type TranscriptionInput struct {
	// Audio is the uploaded file's bytes, any container models/audioprep
	// detects.
	Audio []byte
	// Task is "transcribe" (the default) or "translate" (into English).
	Task string
	// Language is an ISO code ("en"); "" asks a multilingual model to
	// detect it. The backend rejects codes its model lacks with
	// BadInput("language", "… valid codes: …").
	Language  string
	VADFilter bool
	// InitialPrompt conditions the first window; Prefix starts its text.
	InitialPrompt, Prefix string
	// BeamSize 0 is the model's default (1: greedy); the backend checks
	// its range.
	BeamSize int
	// ConditionOnPreviousText feeds each window the previous one's text
	// (Whisper's default: true).
	ConditionOnPreviousText bool
	// Temperature is the fallback ladder; nil is {0, 0.2, 0.4, 0.6, 0.8, 1.0}.
	Temperature []float64
	// Thresholds; nil is Whisper's default: 0.6, 2.4, -1.0 and off.
	NoSpeechThreshold, CompressionRatioThreshold, LogProbThreshold, HallucinationSilenceThreshold *float64
	// WordTimestamps asks for Words in each segment; the engine sets it
	// when the answer carries words.
	WordTimestamps bool
}

// TranscriptionWord is one word with its times in seconds.
type TranscriptionWord struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// TranscriptionSegment is one decoded stretch of audio, as Whisper's
// transcribe loop reports it. Times are in seconds.
type TranscriptionSegment struct {
	ID               int
	Seek             int // the window's start, in mel frames
	Start, End       float64
	Text             string
	Tokens           []int64
	Temperature      float64
	AvgLogprob       float64
	CompressionRatio float64
	NoSpeechProb     float64
	Words            []TranscriptionWord
}

// TranscriptionOutput is what a Transcriber returns; the engine shapes it
// into each schema's JSON and the OpenAI formats.
type TranscriptionOutput struct {
	Language            string
	LanguageProbability float64
	// Duration is the audio's length and DurationAfterVAD the speech kept
	// by the VAD filter (Duration without it), in seconds.
	Duration, DurationAfterVAD float64
	Text                       string
	Segments                   []TranscriptionSegment
}

// Transcriber is implemented by speech-recognition backends.
type Transcriber interface {
	Transcribe(ctx context.Context, in *TranscriptionInput) (*TranscriptionOutput, error)
}

package engine

import "context"

// TaskImageToText is Workers AI's Image-to-Text task (llava): an image and
// an optional prompt in, a description out. It runs on text-generation
// backends that take images.
const TaskImageToText Task = "image-to-text"

// defaultImagePrompt is the prompt when a request sends only an image.
const defaultImagePrompt = "Describe this image."

// DefaultImageToTextMaxTokens is the task's max_tokens default.
const DefaultImageToTextMaxTokens = 512

// ImageToTextInput is one image-to-text request.
type ImageToTextInput struct {
	Image       []byte
	Prompt      string
	Raw         bool
	MaxTokens   int
	Temperature float64
}

// ImageToTextOutput is the Workers AI image-to-text result.
type ImageToTextOutput struct {
	Description string `json:"description"`
}

func decodeImageToText(raw []byte, lim generationLimits) (*ImageToTextInput, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	img, err := requiredImage(f)
	if err != nil {
		return nil, err
	}
	in := imageToTextDefaults(img, lim)
	if err := checkIsImage("image", img); err != nil {
		return nil, err
	}
	if p, ok, err := f.str("prompt"); err != nil {
		return nil, err
	} else if ok && p != "" {
		in.Prompt = p
	}
	if len([]rune(in.Prompt)) > maxPromptChars {
		return nil, TooLarge("prompt", "must be at most %d characters", maxPromptChars)
	}
	if in.Raw, err = f.boolean("raw", false); err != nil {
		return nil, err
	}
	if v, ok, err := f.integer("max_tokens", 1, 1<<31-1); err != nil {
		return nil, err
	} else if ok {
		in.MaxTokens = int(v)
	}
	if lim.contextWindow > 0 && in.MaxTokens > lim.contextWindow {
		return nil, BadInput("max_tokens", "must be at most the model's context window of %d tokens, got %d", lim.contextWindow, in.MaxTokens)
	}
	if v, ok, err := f.number("temperature", 0, 5); err != nil {
		return nil, err
	} else if ok {
		in.Temperature = v
	}
	return in, nil
}

// imageToTextDefaults is a request for img with the model's defaults.
func imageToTextDefaults(img []byte, lim generationLimits) *ImageToTextInput {
	maxTokens := lim.maxTokens
	if maxTokens == DefaultMaxTokens {
		maxTokens = DefaultImageToTextMaxTokens // the task's default, unless the model sets its own
	}
	return &ImageToTextInput{Image: img, Prompt: defaultImagePrompt, MaxTokens: maxTokens, Temperature: lim.temperature}
}

// describeImage runs an image-to-text request as a generation with the
// image on its prompt.
func describeImage(ctx context.Context, m Generator, in *ImageToTextInput) (*ImageToTextOutput, error) {
	out, err := m.Generate(ctx, &GenerationInput{Prompt: in.Prompt, Raw: in.Raw, MaxTokens: in.MaxTokens,
		Temperature: in.Temperature, Images: [][]byte{in.Image}}, func(string) error { return nil })
	if err != nil {
		return nil, err
	}
	text, _ := out.Response.(string)
	return &ImageToTextOutput{Description: text}, nil
}

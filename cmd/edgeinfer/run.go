package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/spf13/cobra"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	var jsonPath, imagePath string
	cmd := &cobra.Command{
		Use:   "run MODEL [PROMPT]",
		Short: "Run one model in-process and print its output (LLM output streams)",
		Example: `  edgeinfer run @cf/meta/llama-2-7b-chat-int8 "Tell me a joke"
  edgeinfer run @cf/baai/bge-base-en-v1.5 --json - <<< '{"text":["a","b"]}'
  edgeinfer run @cf/microsoft/resnet-50 --image cat.jpg
  edgeinfer run @cf/meta/m2m100-1.2b --json in.json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, eng, err := g.openEngine()
			if err != nil {
				return err
			}
			defer eng.Close()
			in, err := runInput(eng.Catalog(), args, jsonPath, imagePath, cmd.InOrStdin())
			if err != nil {
				return err
			}
			out, err := eng.Run(cmd.Context(), args[0], in)
			if err != nil {
				d := engine.Describe(err)
				return fmt.Errorf("%d %d: %s", d.Status, d.Code, d.Message)
			}
			return printOutput(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().StringVar(&jsonPath, "json", "", "read the model input (a Workers AI JSON object) from FILE, or - for stdin")
	cmd.Flags().StringVar(&imagePath, "image", "", "classify this image file")
	return cmd
}

// runInput builds the input from the flags: --json, --image, or a PROMPT
// that becomes the natural input of the model's task.
func runInput(cat *engine.Catalog, args []string, jsonPath, imagePath string, stdin io.Reader) (engine.Input, error) {
	switch {
	case jsonPath == "-":
		b, err := io.ReadAll(stdin)
		return engine.Input{JSON: b}, err
	case jsonPath != "":
		b, err := os.ReadFile(jsonPath)
		return engine.Input{JSON: b}, err
	case imagePath != "":
		b, err := os.ReadFile(imagePath)
		return engine.Input{Binary: b}, err
	case len(args) < 2:
		return engine.Input{}, errors.New("give a PROMPT, --json FILE or --image FILE")
	}
	entry, err := cat.Resolve(args[0])
	if err != nil {
		return engine.Input{}, err
	}
	var in map[string]any
	switch entry.Task {
	case engine.TaskTextGeneration:
		in = map[string]any{"prompt": args[1], "stream": true}
	case engine.TaskTextEmbeddings:
		in = map[string]any{"text": args[1]}
	case engine.TaskTranslation:
		return engine.Input{}, errors.New("translation needs --json with text, source_lang and target_lang")
	default:
		return engine.Input{}, fmt.Errorf("%s takes --image FILE", entry.ID)
	}
	b, err := json.Marshal(in)
	return engine.Input{JSON: b}, err
}

// printOutput streams generations piece by piece and prints anything else
// as indented JSON.
func printOutput(w io.Writer, out any) error {
	stream, ok := out.(*engine.TextStream)
	if !ok {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for ev := range stream.Events {
		switch {
		case ev.Err != nil:
			d := engine.Describe(ev.Err)
			return fmt.Errorf("%d %d: %s", d.Status, d.Code, d.Message)
		case ev.Usage != nil:
			fmt.Fprintf(w, "\n\n[%d prompt tokens, %d completion tokens]\n", ev.Usage.PromptTokens, ev.Usage.CompletionTokens)
		case ev.Reasoning != "":
			fmt.Fprint(w, ev.Reasoning) // a reasoning model thinks aloud first
		default:
			fmt.Fprint(w, ev.Response)
		}
	}
	return nil
}

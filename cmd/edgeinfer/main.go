// Command edgeinfer serves Workers AI models locally: the REST API, the
// binding protocol, the OpenAI routes and a CLI over one engine.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "edgeinfer:", err)
		os.Exit(1)
	}
}

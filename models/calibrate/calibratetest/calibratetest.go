// Package calibratetest is what the backends' calibration tests share:
// load a model with its engine's config and read the table the load
// measured.
package calibratetest

import (
	"context"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
)

// Load loads model through b as eng configures it (calibration on, for
// these tests) and returns it with the calibration the load cached for the
// CPU. The model closes when the test ends.
func Load(t testing.TB, eng *engine.Engine, b engine.Backend, model string) (engine.Model, calibrate.Result) {
	t.Helper()
	entry, ok := eng.Catalog().Lookup(model)
	if !ok {
		t.Fatalf("%s is not in the catalog", model)
	}
	spec := eng.Spec(entry)
	loaded, err := b.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loaded.Close() })
	r, err := calibrate.Read(calibrate.Path(spec.Paths.Home, model, "cpu"))
	if err != nil {
		t.Fatal(err)
	}
	return loaded, r
}

// Chosen counts the chosen rows of each stage that measured a throughput.
func Chosen(r calibrate.Result) map[string]int {
	chosen := map[string]int{}
	for _, row := range r.Table {
		if row.Chosen && row.ItemsPerSec > 0 {
			chosen[row.Stage]++
		}
	}
	return chosen
}

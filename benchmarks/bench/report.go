package bench

import (
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Markdown renders points as a table.
func Markdown(points []Point) string {
	var b strings.Builder
	b.WriteString("| model | concurrency | req/s | items/s | tokens/s | p50 ms | p95 ms | p99 ms | TTFT p50 ms | mean batch | mean queue ms | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range points {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %s | %.1f | %.1f | %.1f | %s | %s | %s | %d |\n",
			p.Model, p.Concurrency, p.RequestsPerSec, p.ItemsPerSec, optional(p.TokensPerSec), p.P50ms, p.P95ms, p.P99ms,
			optional(p.TTFTp50ms), optional(p.MeanBatch), optional(p.MeanQueueMs), p.Errors)
	}
	for _, p := range points {
		if p.FirstError != "" {
			fmt.Fprintf(&b, "\nfirst error for %s at concurrency %d: %s\n", p.Model, p.Concurrency, p.FirstError)
		}
	}
	return b.String()
}

func optional(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// WriteJSON writes the points to path.
func WriteJSON(path string, points []Point) error {
	b, err := json.MarshalIndent(points, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Charts writes throughput.png (items/s against concurrency, one line per
// model) and latency.png (p50/p95/p99 per model at its highest concurrency).
func Charts(dir string, points []Point) error {
	byModel := map[string][]Point{}
	var models []string
	for _, p := range points {
		if _, ok := byModel[p.Model]; !ok {
			models = append(models, p.Model)
		}
		byModel[p.Model] = append(byModel[p.Model], p)
	}
	tp := plot.New()
	tp.Title.Text = "Throughput against concurrency"
	tp.X.Label.Text = "concurrent clients"
	tp.Y.Label.Text = "items/s"
	var lines []any
	for _, m := range models {
		xys := make(plotter.XYs, len(byModel[m]))
		for i, p := range byModel[m] {
			xys[i] = plotter.XY{X: float64(p.Concurrency), Y: p.ItemsPerSec}
		}
		lines = append(lines, shortName(m), xys)
	}
	if err := plotutil.AddLinePoints(tp, lines...); err != nil {
		return err
	}
	if err := tp.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, "throughput.png")); err != nil {
		return err
	}
	lp := plot.New()
	lp.Title.Text = "Latency at the highest concurrency"
	lp.Y.Label.Text = "ms"
	w := vg.Points(12)
	for i, q := range []struct {
		name string
		get  func(Point) float64
	}{{"p50", func(p Point) float64 { return p.P50ms }}, {"p95", func(p Point) float64 { return p.P95ms }}, {"p99", func(p Point) float64 { return p.P99ms }}} {
		vals := make(plotter.Values, len(models))
		for j, m := range models {
			ps := byModel[m]
			vals[j] = q.get(ps[len(ps)-1])
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = []color.Color{plotutil.Color(0), plotutil.Color(1), plotutil.Color(2)}[i]
		bars.Offset = w * vg.Length(i-1)
		lp.Add(bars)
		lp.Legend.Add(q.name, bars)
	}
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = shortName(m)
	}
	lp.NominalX(names...)
	lp.Legend.Top = true
	return lp.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, "latency.png"))
}

func shortName(model string) string {
	return model[strings.LastIndex(model, "/")+1:]
}

package pull

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Progress follows the transfers of one pull; it is engine.PullProgress,
// which backends that pull from their runtime's registry report to as well.
type Progress = engine.PullProgress

// Silent is a Progress that shows nothing.
var Silent Progress = silent{}

type silent struct{}

func (silent) Update(string, int64, int64) {}
func (silent) Done(string, error)          {}

// Display shows a pull on a terminal or in a log: live, one bar per file
// and one overall, redrawn in place; or plain lines as files start and
// finish plus a status line per active file at a fixed interval.
type Display struct {
	w     io.Writer
	live  bool
	every time.Duration
	start time.Time

	mu     sync.Mutex
	files  []*transfer
	byName map[string]*transfer
	drawn  int // lines of the last live frame, to move back over

	stop chan struct{}
	wg   sync.WaitGroup
}

type transfer struct {
	name        string
	done, total int64
	initial     int64 // on disk before this run: not part of the rate
	started     time.Time
	ended       time.Duration
	finished    bool
	err         error
	note        string // why the transfer is waiting, until it moves again
}

// NewDisplay starts a display on w. live redraws bars in place (for a
// terminal); otherwise lines are appended. every is the redraw or status
// interval; 0 means 125ms live and 10s plain. Close it when the pull ends.
func NewDisplay(w io.Writer, live bool, every time.Duration) *Display {
	if every <= 0 {
		every = 10 * time.Second
		if live {
			every = 125 * time.Millisecond
		}
	}
	d := &Display{w: w, live: live, every: every, start: time.Now(), byName: map[string]*transfer{}, stop: make(chan struct{})}
	d.wg.Add(1)
	go d.tick()
	return d
}

func (d *Display) tick() {
	defer d.wg.Done()
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.mu.Lock()
			if d.live {
				d.redraw()
			} else {
				d.status()
			}
			d.mu.Unlock()
		}
	}
}

// Update implements Progress.
func (d *Display) Update(name string, done, total int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.byName[name]
	if !ok {
		t = &transfer{name: name, initial: done, started: time.Now()}
		d.byName[name] = t
		d.files = append(d.files, t)
	}
	if done != t.done {
		t.note = ""
	}
	t.done, t.total = done, total
	t.initial = min(t.initial, done)
	if !ok && !d.live && done < total {
		if done > 0 {
			fmt.Fprintf(d.w, "%s: resuming at %s of %s\n", name, formatBytes(done), formatBytes(total))
		} else {
			fmt.Fprintf(d.w, "%s: downloading %s\n", name, formatBytes(total))
		}
	}
}

// Retrying implements RetryNotifier.
func (d *Display) Retrying(name string, err error, wait time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	note := fmt.Sprintf("retrying in %s: %v", wait.Round(time.Millisecond), err)
	if t, ok := d.byName[name]; ok {
		t.note = note
	}
	if !d.live {
		fmt.Fprintf(d.w, "%s: %s\n", name, note)
	}
}

// Done implements Progress.
func (d *Display) Done(name string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.byName[name]
	if !ok {
		t = &transfer{name: name, started: time.Now()}
		d.byName[name] = t
		d.files = append(d.files, t)
	}
	t.finished, t.err, t.ended = true, err, time.Since(t.started)
	if !d.live {
		fmt.Fprintf(d.w, "%s: %s\n", name, t.outcome())
	}
}

// Close stops the display after drawing its final state.
func (d *Display) Close() {
	close(d.stop)
	d.wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.live {
		d.redraw()
		return
	}
	if len(d.files) > 0 {
		done, total, _ := d.totals()
		fmt.Fprintf(d.w, "total: %s of %s, %d files, in %s\n", formatBytes(done), formatBytes(total), len(d.files), time.Since(d.start).Round(100*time.Millisecond))
	}
}

// redraw moves the cursor back over the last frame and draws the next.
func (d *Display) redraw() {
	if len(d.files) == 0 {
		return
	}
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", d.drawn)
	}
	width := d.nameWidth()
	for _, t := range d.files {
		b.WriteString("\x1b[2K")
		b.WriteString(barLine(width, t.name, t.done, t.total, clip(t.tail(), maxTailWidth)))
		b.WriteByte('\n')
	}
	done, total, finished := d.totals()
	b.WriteString("\x1b[2K")
	b.WriteString(barLine(width, "total", done, total, fmt.Sprintf("%d/%d files", finished, len(d.files))))
	b.WriteByte('\n')
	d.drawn = len(d.files) + 1
	io.WriteString(d.w, b.String())
}

// status prints one line per active transfer and one overall.
func (d *Display) status() {
	active := 0
	for _, t := range d.files {
		if !t.finished {
			active++
			fmt.Fprintf(d.w, "%s: %d%% %s of %s, %s\n", t.name, percent(t.done, t.total), formatBytes(t.done), formatBytes(t.total), t.rate())
		}
	}
	if active > 0 {
		done, total, finished := d.totals()
		fmt.Fprintf(d.w, "total: %d%% %s of %s, %d/%d files done\n", percent(done, total), formatBytes(done), formatBytes(total), finished, len(d.files))
	}
}

func (d *Display) totals() (done, total int64, finished int) {
	for _, t := range d.files {
		done += t.done
		total += t.total
		if t.finished && t.err == nil {
			finished++
		}
	}
	return done, total, finished
}

// Live lines are kept short: a wrapped line would throw off the count of
// lines to move back over.
const (
	maxNameWidth = 36
	maxTailWidth = 48
)

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func (d *Display) nameWidth() int {
	w := len("total")
	for _, t := range d.files {
		w = max(w, len(t.name))
	}
	return min(w, maxNameWidth)
}

func (t *transfer) tail() string {
	if t.finished {
		return t.outcome()
	}
	if t.note != "" {
		return t.note
	}
	return t.rate()
}

// outcome is the end of a finished transfer, in words.
func (t *transfer) outcome() string {
	switch {
	case t.err != nil:
		return "failed: " + t.err.Error()
	case t.done == t.initial:
		return fmt.Sprintf("already complete (%s)", formatBytes(t.total))
	}
	return fmt.Sprintf("done, %s in %s (%s)", formatBytes(t.total), t.ended.Round(100*time.Millisecond), t.rate())
}

func (t *transfer) rate() string {
	elapsed := time.Since(t.started)
	if t.finished {
		elapsed = t.ended
	}
	if elapsed <= 0 {
		return "-"
	}
	return formatBytes(int64(float64(max(t.done-t.initial, 0))/elapsed.Seconds())) + "/s"
}

const barWidth = 24

// barLine is one line of the live display: name, bar, percent, bytes, tail.
func barLine(nameWidth int, name string, done, total int64, tail string) string {
	if len(name) > nameWidth {
		name = "..." + name[len(name)-nameWidth+3:]
	}
	p := percent(done, total)
	fill := barWidth * p / 100
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	return fmt.Sprintf("%-*s [%s] %3d%% %9s / %-9s %s", nameWidth, name, bar, p, formatBytes(done), formatBytes(total), tail)
}

func percent(done, total int64) int {
	if total <= 0 {
		return 100
	}
	return int(min(100*done/total, 100))
}

// formatBytes writes a size in decimal units, as download tools do.
func formatBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, unit := range []string{"kB", "MB", "GB"} {
		f /= 1000
		if f < 1000 {
			return fmt.Sprintf("%.1f %s", f, unit)
		}
	}
	return fmt.Sprintf("%.1f TB", f/1000)
}

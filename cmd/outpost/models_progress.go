package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/outposthq/outpost/inference/registry"
)

// progressBar draws a pull's progress on stderr: a redrawn bar with bytes,
// percentage, rate and ETA on a terminal, a plain line every 10% (or 10 s
// when the size is unknown) otherwise, so logs stay readable.
type progressBar struct {
	w        io.Writer
	tty      bool
	drawn    bool
	lastLine time.Time
	lastPct  int
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, tty: isTerminal(w), lastPct: -1}
}

func (b *progressBar) update(p registry.Progress) {
	rate := 0.0
	if secs := p.Elapsed.Seconds(); secs > 0 {
		rate = float64(p.Done-p.Resumed) / secs
	}
	eta := "?"
	if p.Total > 0 && rate > 0 {
		eta = time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	size := formatSize(p.Done)
	pct := -1
	if p.Total > 0 {
		pct = int(100 * p.Done / p.Total)
		size += " / " + formatSize(p.Total)
	}
	resumed := ""
	if p.Resumed > 0 {
		resumed = fmt.Sprintf(" (resumed at %s)", formatSize(p.Resumed))
	}
	if b.tty {
		bar := ""
		if pct >= 0 {
			const width = 30
			fill := width * pct / 100
			bar = "[" + strings.Repeat("=", fill) + strings.Repeat(" ", width-fill) + "] " + fmt.Sprintf("%3d%% ", pct)
		}
		fmt.Fprintf(b.w, "\r\033[K%s %s%s  %s/s  ETA %s%s", p.Name, bar, size, formatSize(int64(rate)), eta, resumed)
		b.drawn = true
		return
	}
	due := pct >= 0 && (pct/10 > b.lastPct/10 || b.lastPct < 0) || pct < 0 && time.Since(b.lastLine) >= 10*time.Second
	if !due && !(p.Total > 0 && p.Done == p.Total && b.lastPct != 100) {
		return
	}
	b.lastPct, b.lastLine = pct, time.Now()
	pctText := ""
	if pct >= 0 {
		pctText = fmt.Sprintf("%d%% ", pct)
	}
	fmt.Fprintf(b.w, "pull %s: %s%s  %s/s  ETA %s%s\n", p.Name, pctText, size, formatSize(int64(rate)), eta, resumed)
}

func (b *progressBar) finish() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
	}
}

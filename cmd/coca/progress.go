package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports how far a command over many images is. On a terminal
// it redraws one bar in place; elsewhere (a log file, a pipe, CI) it
// writes a plain line every few seconds and a last one at the end, never
// a carriage return.
type progress struct {
	w        io.Writer
	what     string
	total    int
	start    time.Time
	on, tty  bool
	lastLine time.Time
	drawn    bool
}

// progressEvery is how often a non-terminal gets a progress line.
const progressEvery = 10 * time.Second

// newProgress reports on w when on is set.
func newProgress(w io.Writer, what string, total int, on bool) *progress {
	return &progress{w: w, what: what, total: total, start: time.Now(), on: on, tty: isTerminal(w), lastLine: time.Now()}
}

// update reports done of total items.
func (p *progress) update(done int) {
	if !p.on {
		return
	}
	rate := float64(done) / max(time.Since(p.start).Seconds(), 1e-9)
	if p.tty {
		const width = 30
		n := width * min(done, p.total) / max(p.total, 1)
		fmt.Fprintf(p.w, "\r\033[K%s [%s%s] %d/%d images, %.2f images/s", p.what, strings.Repeat("=", n), strings.Repeat(" ", width-n), done, p.total, rate)
		p.drawn = true
		if done >= p.total {
			fmt.Fprintln(p.w)
			p.drawn = false
		}
		return
	}
	if done >= p.total || time.Since(p.lastLine) >= progressEvery {
		fmt.Fprintf(p.w, "%s: %d/%d images, %.2f images/s\n", p.what, done, p.total, rate)
		p.lastLine = time.Now()
	}
}

// clear ends a bar drawn on a terminal, so that a message can follow on a
// line of its own.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	if c, ok := w.(*cliOutput); ok {
		w = c.w
	}
	f, ok := w.(*os.File)
	return ok && isTerminalFd(f.Fd())
}

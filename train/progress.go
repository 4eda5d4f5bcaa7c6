package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar, redrawn in place on a terminal
// and printed as plain lines elsewhere (logs, CI).
type progress struct {
	w        io.Writer
	total    int
	start    int
	t0       time.Time
	tty      bool
	lastLine time.Time
}

func newProgress(w io.Writer, total, start int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, total: total, start: start, t0: time.Now(), tty: tty}
}

func (p *progress) update(step int, loss, con, capl, lr, ips float64) {
	frac := float64(step) / float64(max(p.total, 1))
	const width = 24
	filled := int(frac * width)
	bar := strings.Repeat("█", filled) + strings.Repeat("·", width-filled)
	eta := "?"
	if done := step - p.start; done > 0 {
		rem := time.Duration(float64(time.Since(p.t0)) / float64(done) * float64(p.total-step))
		eta = rem.Round(time.Second).String()
	}
	line := fmt.Sprintf("%s %5d/%d loss %.3f (con %.3f, cap %.3f) lr %.2e %5.0f img/s ETA %s",
		bar, step, p.total, loss, con, capl, lr, ips, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		return
	}
	if time.Since(p.lastLine) >= 5*time.Second || step == p.total {
		fmt.Fprintln(p.w, line)
		p.lastLine = time.Now()
	}
}

func (p *progress) clear() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

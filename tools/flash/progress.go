package flash

import (
	"fmt"
	"io"
	"time"
)

// Progress reports bytes done, rate and ETA to W, at most every Every
// (default 500 ms) and once at the end.
type Progress struct {
	W     io.Writer
	Label string
	Total int64
	Every time.Duration
	Now   func() time.Time // default time.Now

	start, last time.Time
	done        int64
}

// Add records n more bytes.
func (p *Progress) Add(n int64) {
	if p == nil || p.W == nil {
		return
	}
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	p.done += n
	every := p.Every
	if every == 0 {
		every = 500 * time.Millisecond
	}
	if now.Sub(p.last) >= every || p.done == p.Total {
		p.last = now
		fmt.Fprintf(p.W, "\r%s", p.Line(now))
		if p.done == p.Total {
			fmt.Fprintln(p.W)
		}
	}
}

func (p *Progress) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Line formats the current state: "label  12.0/48.0 MiB  25%  4.0 MiB/s  ETA 9s".
func (p *Progress) Line(now time.Time) string {
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el
	}
	pct, eta := 0.0, "?"
	if p.Total > 0 {
		pct = 100 * float64(p.done) / float64(p.Total)
	}
	if rate > 0 && p.Total >= p.done {
		eta = (time.Duration(float64(p.Total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("%s %7.1f/%.1f MiB %3.0f%% %6.1f MiB/s ETA %s ", p.Label,
		float64(p.done)/(1<<20), float64(p.Total)/(1<<20), pct, rate/(1<<20), eta)
}

// reader counts what passes through it.
type progressReader struct {
	r io.Reader
	p *Progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.Add(int64(n))
	return n, err
}

package flash

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/update"
)

// PushOptions configures Push.
type PushOptions struct {
	// Bundle is the signed update bundle.
	Bundle string
	// Host is the phone: "host:port" or a base URL ("http://10.0.0.5:8081").
	Host string
	// Token is the phone's device token.
	Token          string
	AllowDowngrade bool
	// Progress, when non-nil, receives progress and status lines.
	Progress io.Writer
	// Client defaults to an http.Client with a 10 s timeout for status
	// polls; the upload itself is bounded by ctx.
	Client *http.Client
	// Wait bounds how long Push waits for the phone to come back
	// (default 5 min); Poll is the status poll interval (default 2 s).
	Wait, Poll time.Duration
	// NoWait returns as soon as the phone accepted the update.
	NoWait bool
}

// PushResult reports a push.
type PushResult struct {
	Before update.Status
	Accept update.Result
	// After is the status once the phone came back (zero with NoWait).
	After update.Status
}

func baseURL(host string) string {
	if strings.Contains(host, "://") {
		return strings.TrimRight(host, "/")
	}
	return "http://" + host
}

// Status fetches a phone's update status; the phone answers the holder
// of its device token only.
func Status(ctx context.Context, c *http.Client, host, token string) (update.Status, error) {
	var st update.Status
	req, err := http.NewRequestWithContext(ctx, "GET", baseURL(host)+"/update/status", nil)
	if err != nil {
		return st, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return st, fmt.Errorf("flash: status: %s: %w", resp.Status, update.ErrUnauthorized)
	}
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("flash: status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// Push sends a bundle to a running phone, then waits for it to reboot
// and come back: on the new version (committed) it succeeds; on the old
// one it returns ErrRolledBack.
func Push(ctx context.Context, o PushOptions) (*PushResult, error) {
	c := o.Client
	if c == nil {
		c = &http.Client{}
	}
	f, err := os.Open(o.Bundle)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mb, _, err := update.ReadBundleHeader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Bundle, err)
	}
	m, err := update.ParseManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Bundle, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	res := &PushResult{}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	res.Before, err = Status(sctx, c, o.Host, o.Token)
	cancel()
	if errors.Is(err, update.ErrUnauthorized) {
		return nil, fmt.Errorf("%w: %s: %w", ErrPushRefused, o.Host, err)
	}
	if err != nil {
		return nil, fmt.Errorf("flash: %s: %w", o.Host, err)
	}
	say(o.Progress, "phone %s: board %s, version %s, slot %s\n", o.Host, res.Before.Board, res.Before.Version, res.Before.Slot)
	if res.Before.Board != m.Board {
		return res, fmt.Errorf("%w: bundle for %q, the phone is %q", update.ErrWrongBoard, m.Board, res.Before.Board)
	}
	q := url.Values{}
	if o.AllowDowngrade {
		q.Set("allow-downgrade", "1")
	}
	u := baseURL(o.Host) + "/update"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	p := &Progress{W: o.Progress, Label: "push  ", Total: fi.Size()}
	req, err := http.NewRequestWithContext(ctx, "POST", u, &progressReader{r: f, p: p})
	if err != nil {
		return nil, err
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+o.Token)
	resp, err := c.Do(req)
	if err != nil {
		return res, fmt.Errorf("flash: push to %s: %w", o.Host, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return res, fmt.Errorf("%w: %s: %s", ErrPushRefused, resp.Status, e.Error)
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&res.Accept); err != nil {
		return res, fmt.Errorf("flash: push answer: %w", err)
	}
	root, _ := m.Part("root")
	if res.Accept.SHA256 != root.SHA256 {
		return res, fmt.Errorf("flash: the phone echoed sha256 %s, the bundle has %s", res.Accept.SHA256, root.SHA256)
	}
	say(o.Progress, "phone wrote %s into slot %s, sha256 %s\n", res.Accept.Version, res.Accept.Slot, res.Accept.SHA256)
	if o.NoWait {
		return res, nil
	}
	return res, waitBack(ctx, c, o, res)
}

// waitBack polls the phone until it runs the new version committed, or
// the old one again after a rollback.
func waitBack(ctx context.Context, c *http.Client, o PushOptions, res *PushResult) error {
	wait, poll := o.Wait, o.Poll
	if wait == 0 {
		wait = 5 * time.Minute
	}
	if poll == 0 {
		poll = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	say(o.Progress, "waiting for the phone to reboot and report healthy\n")
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", ErrNotBack, wait)
		case <-t.C:
		}
		sctx, scancel := context.WithTimeout(ctx, poll+5*time.Second)
		st, err := Status(sctx, c, o.Host, o.Token)
		scancel()
		if err != nil {
			continue // rebooting
		}
		res.After = st
		switch {
		case st.Slot == res.Accept.Slot && st.Version == res.Accept.Version && !st.Trial:
			say(o.Progress, "phone is back: version %s, slot %s, committed\n", st.Version, st.Slot)
			return nil
		case st.Slot != res.Accept.Slot && st.State != nil && st.State.RolledBack == res.Accept.Slot:
			say(o.Progress, "phone is back on %s (slot %s): the update rolled back\n", st.Version, st.Slot)
			return fmt.Errorf("%w: running %s in slot %s", ErrRolledBack, st.Version, st.Slot)
		}
	}
}

func say(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

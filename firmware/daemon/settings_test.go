package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
)

// logBuf collects a daemon's log lines for a test.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: level}))
}

// TestDTMFInfoReachesSIP: with dtmf: info the phone sends digits as SIP
// INFO (application/dtmf-relay), which the far end reports as such,
// although both ends offer telephone-event; with the default, RFC 4733.
func TestDTMFInfoReachesSIP(t *testing.T) {
	for _, mode := range []string{"info", "rfc4733"} {
		t.Run(mode, func(t *testing.T) {
			p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002"})
			port := uint16(32060)
			if mode == "rfc4733" {
				port = 32460
			}
			a := startLiveWith(t, []config.Account{pbxAccount(p, "1001", "pw1001", "")}, port, hzA,
				func(c *config.Config) { c.DTMF = mode }, nil)
			var logs logBuf
			b := startLiveWith(t, []config.Account{pbxAccount(p, "1002", "pw1002", "")}, port+200, hzB, nil, logs.logger(slog.LevelInfo))
			waitFor(t, "both registered", 10*time.Second, func() bool { return a.lineState(0) == "registered" && b.lineState(0) == "registered" })
			ctx := context.Background()
			if err := a.d.ph.Call(ctx, "1002"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "B ringing", 5*time.Second, func() bool { return b.state() == "ringing" })
			if err := b.d.ph.Answer(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "both talking", 5*time.Second, func() bool { return a.state() == "talking" && b.state() == "talking" })
			if err := a.d.ph.SendDTMF(ctx, "5"); err != nil {
				t.Fatal(err)
			}
			want := "digit=5 source=" + mode
			waitFor(t, "B receives the digit", 5*time.Second, func() bool { return strings.Contains(logs.String(), want) })
		})
	}
}

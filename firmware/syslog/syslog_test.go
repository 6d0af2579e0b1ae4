package syslog

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// readDeadline only bounds a test that would otherwise hang on a bug.
const readDeadline = 10 * time.Second

// blockDial never connects: it waits for the handler to close.
func blockDial(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	h, err := New(Config{Server: pc.LocalAddr().String(), Facility: "local3", Hostname: "phone 1"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	log := slog.New(h).With("line", 0)
	log.Debug("not sent")
	log.Info("api listening", "laddr", "127.0.0.1:8080")
	log.WithGroup("reg").Warn("registration failed", "code", 403)
	log.Error("line did not start")

	_ = pc.SetReadDeadline(time.Now().Add(readDeadline))
	want := []struct {
		sev  int
		text string
	}{{6, `msg="api listening" line=0 laddr=127.0.0.1:8080`}, {4, `msg="registration failed" line=0 reg.code=403`}, {3, `msg="line did not start" line=0`}}
	buf := make([]byte, 4096)
	for _, w := range want {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := parse5424(buf[:n])
		if err != nil {
			t.Fatalf("%q: %v", buf[:n], err)
		}
		if m.Fac != 19 || m.Sev != w.sev || m.Host != "phone1" || m.App != "phoned" || m.Msg != w.text {
			t.Errorf("got %+v, want local3 (19), severity %d, host phone1, msg %q", m, w.sev, w.text)
		}
		if m.Time == "-" {
			t.Errorf("no timestamp in %q", buf[:n])
		}
	}
	// Sent counts after the write returns, which may be after the
	// datagram arrived: only what cannot change is checked.
	if s := h.Stats(); s.Dropped != 0 || s.Errors != 0 {
		t.Errorf("stats %+v, want none dropped or failed", s)
	}
}

func TestTCPFramingAndReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h, err := New(Config{Server: ln.Addr().String(), Transport: "tcp", RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	log := slog.New(h)
	long := strings.Repeat("x", 3000) // beyond a UDP message, within a TCP one
	log.Info("first", "k", "with space")
	log.Info(long)

	c1, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	_ = c1.SetReadDeadline(time.Now().Add(readDeadline))
	r := bufio.NewReader(c1)
	for _, want := range []string{`msg=first k="with space"`, "msg=" + long} {
		b, err := readFrame(r)
		if err != nil {
			t.Fatal(err)
		}
		m, err := parse5424(b)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if m.Fac != 1 || m.Sev != 6 || m.Msg != want {
			t.Errorf("got %+v, want user.info %q", m, want)
		}
	}
	// The server goes away: the handler notices on a write, reconnects,
	// and what is logged then arrives on the new connection.
	c1.Close()
	stop := make(chan struct{})
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		tick := time.NewTicker(5 * time.Millisecond) // pacing, not synchronisation
		defer tick.Stop()
		for {
			log.Info("after")
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	c2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(readDeadline))
	b, err := readFrame(bufio.NewReader(c2))
	close(stop)
	<-logged
	if err != nil {
		t.Fatal(err)
	}
	if m, err := parse5424(b); err != nil || m.Msg != "msg=after" {
		t.Errorf("after reconnect: %+v, %v", m, err)
	}
	if s := h.Stats(); s.Errors == 0 {
		t.Errorf("stats %+v: the failed write is not counted", s)
	}
}

// TestNeverBlocks: with the server unreachable, logging returns at once
// and what does not fit the queue is counted as dropped.
func TestNeverBlocks(t *testing.T) {
	h, err := New(Config{Server: "192.0.2.1", Transport: "tcp", QueueLen: 4, Dial: blockDial})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(h)
	for range 10 {
		log.Info("x")
	}
	if s := h.Stats(); s.Dropped != 6 || s.Sent != 0 || s.Connected {
		t.Errorf("stats %+v, want 6 dropped", s)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	_ = h.Close() // idempotent
	log.Info("after close")
	if s := h.Stats(); s.Dropped != 7 {
		t.Errorf("stats %+v, want 7 dropped after Close", s)
	}
}

// TestTee: the daemon's log goes to stderr and to the server, both from
// one logger.
func TestTee(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	h, err := New(Config{Server: pc.LocalAddr().String(), Level: slog.LevelWarn})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var local bytes.Buffer
	log := slog.New(slog.NewMultiHandler(slog.NewTextHandler(&local, nil), h))
	log.Info("local only")
	log.Warn("both")
	_ = pc.SetReadDeadline(time.Now().Add(readDeadline))
	buf := make([]byte, 2048)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := parse5424(buf[:n]); err != nil || m.Msg != "msg=both" || m.Sev != 4 {
		t.Errorf("%+v, %v", m, err)
	}
	if !strings.Contains(local.String(), "local only") || !strings.Contains(local.String(), "both") {
		t.Errorf("local log %q", local.String())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{}, {Server: "h", Transport: "tls"}, {Server: "h", Facility: "local9"}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// FuzzHandler: whatever a record holds, the message is valid RFC 5424
// within the size limit, and the record's text survives in MSG.
func FuzzHandler(f *testing.F) {
	f.Add("registration failed", "err", "403 Forbidden")
	f.Add("x\ny", "k=v", "level=ERROR time=now")
	f.Add("", "", "\x00\xff")
	f.Fuzz(func(t *testing.T, msg, key, val string) {
		h, err := New(Config{Server: "192.0.2.1:514", Hostname: key, AppName: val, QueueLen: 1, Dial: blockDial})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		slog.New(h).Error(msg, key, val)
		b := <-h.core.queue
		if len(b) > MaxUDPMessage {
			t.Fatalf("%d bytes", len(b))
		}
		m, err := parse5424(b)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if m.Sev != 3 {
			t.Errorf("severity %d", m.Sev)
		}
	})
}

package sip

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	siplib "github.com/emiago/sipgo/sip"
)

// TestSocketWatch: the watch sees sipgo set out to open a UDP socket of
// its own (the exact log line sipgo v1.7.2 writes right before it), not a
// TCP dial, and passes records on at the wrapped handler's own level.
// The request is pinned to an address no interface has, so the bind
// fails and no socket is opened.
func TestSocketWatch(t *testing.T) {
	var out bytes.Buffer
	var seen []string
	w := &socketWatch{
		next:  slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}),
		onUDP: func(d string) { seen = append(seen, d) },
	}
	tpl := siplib.NewTransportLayer(net.DefaultResolver, siplib.NewParser(), nil,
		siplib.WithTransportLayerLogger(slog.New(w)))
	defer tpl.Close()
	req := siplib.NewRequest(siplib.OPTIONS, siplib.Uri{Scheme: "sip", Host: "192.0.2.7", Port: 5060})
	req.AppendHeader(&siplib.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP",
		Host: "192.0.2.200", Port: 5099, Params: siplib.NewParams()})
	req.SetTransport("UDP")
	req.Laddr = siplib.Addr{IP: net.IPv4(192, 0, 2, 200), Port: 5099} // TEST-NET-1: not ours
	if c, err := tpl.ClientRequestConnection(context.Background(), req); err == nil {
		c.Close()
		t.Log("the host has 192.0.2.200: a socket was opened and closed")
	}
	if len(seen) != 1 || !strings.Contains(seen[0], "Creating connection") || !strings.Contains(seen[0], "192.0.2.200:5099") {
		t.Errorf("watch saw %q, want one UDP creation from 192.0.2.200:5099", seen)
	}
	if strings.Contains(out.String(), "Creating connection") {
		t.Errorf("debug record passed to an info handler:\n%s", out.String())
	}

	seen = nil
	slog.New(w).Debug("Creating connection", "laddr", ":0", "raddr", "192.0.2.7:5060", "network", "tcp")
	if len(seen) != 0 {
		t.Errorf("a TCP dial counted as a UDP socket: %q", seen)
	}
	slog.New(w).With("caller", "x").Warn("something", "k", 1)
	if !strings.Contains(out.String(), "something") || !strings.Contains(out.String(), "caller=x") {
		t.Errorf("warning not passed on with its attributes:\n%s", out.String())
	}
}

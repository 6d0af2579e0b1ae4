package sip

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"
)

// FuzzUARequest sends arbitrary bytes to a running UA's SIP socket: it
// must never panic, and must answer an OPTIONS afterwards. Goroutines
// are checked for leaks after Close.
func FuzzUARequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(tortureDir, "*.dat"))
	hostile, _ := filepath.Glob(filepath.Join(hostileDir, "*"))
	admission, _ := filepath.Glob(filepath.Join("testdata", "admission", "*.sip"))
	for _, p := range append(append(files, hostile...), admission...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("INVITE sip:a@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@10.0.0.9>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"))
	f.Add([]byte("PRACK sip:a@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK2\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: 2\r\nCSeq: 2 PRACK\r\nRAck: 99999999999 x\r\nContent-Length: 0\r\n\r\n"))

	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		f.Fatal(err)
	}
	pn, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.2"}})
	xn, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.9"}})
	r.AddNet(pn)
	r.AddNet(xn)
	if err := r.Start(); err != nil {
		f.Fatal(err)
	}
	pm, _ := portmgr.New(portmgr.Config{Net: pn})
	ua, err := New(Config{Mapper: pm, Prack: true, EarlyMedia: true, Account: Account{User: "a"}, RateLimit: -1})
	if err != nil {
		f.Fatal(err)
	}
	if err := ua.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	go func() {
		for range ua.Events() {
		}
	}()
	conn, err := xn.ListenPacket("udp4", "10.0.0.9:5060")
	if err != nil {
		f.Fatal(err)
	}
	before := runtime.NumGoroutine()
	to := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060}
	f.Cleanup(func() {
		ua.Close()
		pm.Close()
		conn.Close()
		r.Stop()
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1400 {
			data = data[:1400]
		}
		conn.WriteTo(data, to)
		// The UA is alive: it answers OPTIONS.
		opt := "OPTIONS sip:a@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK" + time.Now().Format("150405.000000000") + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:x@10.0.0.9>;tag=1\r\nTo: <sip:a@10.0.0.2>\r\nCall-ID: alive" + time.Now().Format("150405.000000000") + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
		conn.WriteTo([]byte(opt), to)
		buf := make([]byte, 65535)
		deadline := time.Now().Add(5 * time.Second)
		for {
			conn.SetReadDeadline(deadline)
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("UA stopped answering OPTIONS after %q", data)
			}
			if bytesContains(buf[:n], "SIP/2.0 200") && bytesContains(buf[:n], "Call-ID: alive") {
				break
			}
		}
		// Calls made by fuzzed INVITEs are hung up so they do not pile up.
		for _, c := range ua.Calls() {
			c.Hangup()
		}
		if g := runtime.NumGoroutine(); g > before+400 {
			t.Fatalf("goroutines grew from %d to %d", before, g)
		}
	})
}

func bytesContains(b []byte, s string) bool {
	return len(b) >= len(s) && string(b) != "" && indexOf(b, s) >= 0
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

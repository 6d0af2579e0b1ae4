package update

import (
	"context"
	"net"
	"testing"
)

func TestSSDPServe(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- ServeSSDP(ctx, conn, "id1", "http://127.0.0.1:1/update/status", func() Status {
			return Status{Board: "qemu-arm64", Version: "v1", Slot: "B"}
		})
	}()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Junk and other targets get no answer; then a real search does.
	c.WriteTo([]byte("junk"), conn.LocalAddr())
	c.WriteTo([]byte("M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nST: upnp:rootdevice\r\n\r\n"), conn.LocalAddr())
	c.WriteTo(SearchRequest(), conn.LocalAddr())
	buf := make([]byte, 2048)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseSSDP(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("X-Deskphone-Slot") != "B" || m.Header.Get("Location") != "http://127.0.0.1:1/update/status" || m.Header.Get("St") != SSDPTarget {
		t.Fatalf("answer %+v", m)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("serve: %v", err)
	}
}

func FuzzParseSSDP(f *testing.F) {
	f.Add(SearchRequest())
	f.Add(SearchResponse("x", "http://h/", Status{Board: "b"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseSSDP(b)
	})
}

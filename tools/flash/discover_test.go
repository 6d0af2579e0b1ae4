package flash

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/update"
)

// TestDiscover runs two phones' SSDP responders on loopback and sends the
// search to each (unicast: multicast is not assumed in the sandbox).
func TestDiscover(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var addrs []net.Addr
	done := make(chan struct{}, 2)
	for i, slot := range []string{"A", "B"} {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, c.LocalAddr())
		loc := "http://127.0.0.1:808" + string(rune('0'+i)) + "/update/status"
		go func() {
			update.ServeSSDP(ctx, c, "id"+slot, loc, func() update.Status {
				return update.Status{Board: "qemu-arm64", Version: "v1", Slot: slot}
			})
			done <- struct{}{}
		}()
	}
	var found []Phone
	for _, a := range addrs {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// The reads end at the deadline; a generous one keeps the test
		// robust on a loaded machine (it returns early only on error).
		ps, err := Discover(ctx, DiscoverOptions{Conn: c, To: a, Timeout: 300 * time.Millisecond})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, ps...)
	}
	if len(found) != 2 || found[0].Slot != "A" || found[1].Slot != "B" || found[0].Board != "qemu-arm64" {
		t.Fatalf("found %+v", found)
	}
	cancel()
	<-done
	<-done
}

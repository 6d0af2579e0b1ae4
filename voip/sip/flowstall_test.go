package sip

import (
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// TestFlowReaderStall: a flow connection whose reader does not come back
// after a read that returned data (sipgo's reader stops on a message it
// cannot parse, and may leave the socket open) fails and is closed after
// flowReaderStall; one whose reader keeps reading never does.
func TestFlowReaderStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := newFlowConn(a, time.Second)
		go func() {
			b.Write([]byte("OPTIONS sip:a@b SIP/2.0\r\n\r\n"))
		}()
		buf := make([]byte, 1024)
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
		// The reader is gone: nothing reads c again.
		time.Sleep(flowReaderStall - time.Millisecond)
		synctest.Wait()
		if c.failed() {
			t.Fatal("failed before the stall bound")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if !c.failed() || !errors.Is(c.err(), errReaderGone) {
			t.Fatalf("after the stall: failed=%v err=%v", c.failed(), c.err())
		}
		if _, err := b.Write([]byte("x")); err == nil {
			t.Error("the stalled connection was not closed")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := newFlowConn(a, time.Second)
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 1024)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		b.Write([]byte("\r\n\r\n"))
		time.Sleep(10 * flowReaderStall) // the reader waits in Read
		synctest.Wait()
		if c.failed() {
			t.Fatalf("a connection with a waiting reader failed: %v", c.err())
		}
		c.Close()
		<-done
	})
}

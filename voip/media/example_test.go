package media_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/media"
)

// A call's media: the sockets come from the port manager (here plain
// loopback sockets), the remote address and payload types from SDP.
func ExampleNew() {
	conn, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer conn.Close() // the owner closes the socket, after the session
	far, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer far.Close()

	s, err := media.New(media.Config{
		Conn:            conn,
		Remote:          far.LocalAddr().(*net.UDPAddr).AddrPort(),
		Codec:           codec.PCMU,
		DTMFPayloadType: 101,
		Ptime:           20 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	var speaker hal.FrameSource = s // the audio device pulls received audio
	_ = speaker
	_ = s.WriteFrame(make([]int16, 160)) // or s.Run(ctx, mic)
	_ = s.SendDTMF(context.Background(), '5', 100*time.Millisecond)
	fmt.Println(s.Stats().Sent)
	// Output: 8
}

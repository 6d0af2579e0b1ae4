package portmgrtest

import (
	"net"
	"strconv"

	"github.com/pion/transport/v4"
	"github.com/pion/turn/v4"
)

// TURNServer is a pion TURN server (UDP, long-term credentials
// TURNUser/TURNPass in realm TURNRealm) at TURNAddr:TURNPort, relaying
// from the same IP.
type TURNServer struct {
	// Net must have the IP TURNAddr.
	Net transport.Net
	srv *turn.Server
}

// Start listens and serves.
func (s *TURNServer) Start() error {
	c, err := s.Net.ListenPacket("udp4", net.JoinHostPort(TURNAddr.String(), strconv.Itoa(TURNPort)))
	if err != nil {
		return err
	}
	key := turn.GenerateAuthKey(TURNUser, TURNRealm, TURNPass)
	s.srv, err = turn.NewServer(turn.ServerConfig{
		Realm:         TURNRealm,
		LoggerFactory: LoggerFactory(),
		AuthHandler: func(user, realm string, _ net.Addr) ([]byte, bool) {
			return key, user == TURNUser && realm == TURNRealm
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: c,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.IP(TURNAddr.AsSlice()),
				Address:      TURNAddr.String(),
				Net:          s.Net,
			},
		}},
	})
	if err != nil {
		_ = c.Close()
	}
	return err
}

// Close stops the server.
func (s *TURNServer) Close() {
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

package portmgr_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/turn/v4"
)

// TestTURNOverStream relays media through a TURN server reached over TCP
// and over TLS (the client-to-server leg; the peer side stays UDP), on
// loopback with real sockets: a pion TURN server listening on a TCP or
// TLS socket only, a port manager that always relays, and a UDP peer.
// The peer's datagram to the relayed address reaches the mapping's Conn,
// and the mapping's reply reaches the peer from the relayed address.
func TestTURNOverStream(t *testing.T) {
	for _, tr := range []string{"tcp", "tls"} {
		t.Run(tr, func(t *testing.T) {
			cert, pool := selfSigned(t)
			var ln net.Listener
			var err error
			if tr == "tls" {
				ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
			} else {
				ln, err = net.Listen("tcp", "127.0.0.1:0")
			}
			if err != nil {
				t.Fatal(err)
			}
			key := turn.GenerateAuthKey("u", "r", "p")
			srv, err := turn.NewServer(turn.ServerConfig{
				Realm: "r",
				AuthHandler: func(user, realm string, _ net.Addr) ([]byte, bool) {
					return key, user == "u"
				},
				ListenerConfigs: []turn.ListenerConfig{{
					Listener: ln,
					RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
						RelayAddress: net.ParseIP("127.0.0.1"), Address: "127.0.0.1",
					},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			n, err := stdnet.NewNet()
			if err != nil {
				t.Fatal(err)
			}
			m, err := portmgr.New(portmgr.Config{
				Net:        n,
				BindAddr:   netip.MustParseAddr("127.0.0.1"),
				SIPPorts:   portmgr.Range{Min: 47160, Max: 47169},
				MediaPorts: portmgr.Range{Min: 47170, Max: 47199},
				PoolSize:   -1,
				Strategies: []portmgr.Strategy{portmgr.StrategyTURN},
				TURN: portmgr.TURNConfig{Server: ln.Addr().String(), Username: "u", Password: "p", Transport: tr,
					TLSConfig: &tls.Config{RootCAs: pool, ServerName: "turn.test", MinVersion: tls.VersionTLS12}},
				EnableGateway: false,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			mp, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Release(mp)
			if mp.Via() != portmgr.StrategyTURN {
				// The first learn may still run: relay explicitly.
				if err := m.Relay(ctx, mp); err != nil {
					t.Fatal(err)
				}
			}
			relayed := mp.External()
			peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			if err := m.Relay(ctx, mp, netip.MustParseAddr("127.0.0.1")); err != nil { // permission
				t.Fatal(err)
			}
			if _, err := peer.WriteToUDPAddrPort([]byte("hello"), relayed); err != nil {
				t.Fatal(err)
			}
			_ = mp.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 100)
			k, from, err := mp.Conn.ReadFrom(buf)
			if err != nil || string(buf[:k]) != "hello" {
				t.Fatalf("mapping read %q from %v, %v; want hello via %s relay %v", buf[:k], from, err, tr, relayed)
			}
			if _, err := mp.Conn.WriteTo([]byte("back"), from); err != nil {
				t.Fatal(err)
			}
			_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			k, src, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil || string(buf[:k]) != "back" || src != relayed {
				t.Fatalf("peer read %q from %v, %v; want back from %v", buf[:k], src, err, relayed)
			}
		})
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "turn.test"}, DNSNames: []string{"turn.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: c}, pool
}

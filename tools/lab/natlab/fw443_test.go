package natlab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 14 item 5 against real components: a network that lets only
// TCP to port 443 out (the phone registers over TLS with Kamailio's tls
// module and relays its media through coturn over TLS on 443), and two
// phones behind one NAT calling each other, with a NAT that hairpins
// and one that does not. Each cell starts what it needs on addresses of
// its own in the server namespace.

// Server addresses of the fw443 cells (the server namespace's /24):
// each TCP-443 cell has its own pair, as the cells run side by side.
var (
	fw443Kam  = [2]string{"203.0.113.143", "203.0.113.145"} // Kamailio (nathelper) on udp:5060 and tls:443
	fw443Turn = [2]string{"203.0.113.144", "203.0.113.146"} // coturn with TLS only, on 443
)

func fw443Cells(run func(string, func(*testing.T)), e *env) {
	run("fw443/tcp443-only/kamailio-tls", func(t *testing.T) { e.tcp443Call(t, false) })
	run("fw443/tcp443-only-stun-configured/kamailio-tls", func(t *testing.T) { e.tcp443Call(t, true) })
	run("same-nat/hairpin/kamailio-nathelper", func(t *testing.T) { e.sameNATCall(t, true) })
	run("same-nat/no-hairpin/kamailio-nathelper", func(t *testing.T) { e.sameNATCall(t, false) })
}

// testPKI writes a CA and a server certificate for ips (and their key)
// into dir, made now, and returns the paths: nothing checked in.
func testPKI(dir string, ips ...string) (caFile, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "natlab fw443 test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ips[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, ip := range ips {
		leaf.IPAddresses = append(leaf.IPAddresses, net.ParseIP(ip))
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, b := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: leafDER},
		keyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
			return "", "", "", err
		}
	}
	return caFile, certFile, keyFile, nil
}

// kamailioTLSCfg is the lab's nathelper Kamailio on addr with TCP and
// the tls module on addr:443 besides UDP on 5060 (tls.cfg names the
// certificate; no client certificates asked).
func kamailioTLSCfg(addr, tlsCfg string) string {
	cfg := fmt.Sprintf(kamailioCfg, addr, kamailioNATRoute, SIPPassword, kamailioNATReply, PBXEarly)
	cfg = strings.Replace(cfg, "disable_tcp=yes\n", "enable_tls=yes\nlisten=tls:"+addr+":443\ntcp_connection_lifetime=3605\n", 1)
	return strings.Replace(cfg, "loadmodule \"nathelper.so\"\n", "loadmodule \"nathelper.so\"\nloadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \""+tlsCfg+"\")\n", 1)
}

// waitTCP waits up to 10 s for a TCP listener on addr in ns.
func (l *Lab) waitTCP(ns, addr string, p *Proc) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("%s exited: %s", p.Name, p.Tail(2000))
		}
		if out, _ := l.Output(ns, "ss", "-Hltn"); strings.Contains(out, addr) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s: nothing listening on tcp %s after 10 s: %s", p.Name, addr, p.Tail(2000))
}

// fw443Rules lets only TCP to port 443 leave the LAN through the NAT
// (a table of its own beside the NAT recipe: a drop in any table is
// final), counting what it lets out and what it drops.
const fw443Rules = `table ip fw443 {
  chain f_fwd { type filter hook forward priority filter - 1; policy accept;
    iifname "lan" oifname "wan" tcp dport 443 counter accept
    iifname "lan" oifname "wan" meta l4proto udp counter drop
    iifname "lan" oifname "wan" counter drop
  }
}
`

var nftCounter = regexp.MustCompile(`counter packets (\d+) bytes (\d+)`)

// fwCounters reads the firewall's counters: packets let out to TCP 443,
// UDP dropped, other dropped.
func fwCounters(s *Site) string {
	out, err := s.lab.Output(s.NAT, "nft", "list", "table", "ip", "fw443")
	if err != nil {
		return "no counters: " + err.Error()
	}
	m := nftCounter.FindAllStringSubmatch(out, -1)
	if len(m) != 3 {
		return "counters: " + out
	}
	return fmt.Sprintf("firewall: %s packets out to tcp/443, %s udp packets dropped, %s other dropped", m[0][1], m[1][1], m[2][1])
}

// tcp443Call: phoned behind a port-restricted NAT whose firewall lets
// only TCP to port 443 out registers over TLS at Kamailio's tls module
// on 443 (CA file from the test's own PKI) and calls a public phoned
// (UDP) through coturn reached over TLS on 443 (nat.turn.transport tls
// with nat.turn.ca_file); audio both ways by content, and the public
// phone's RTP must come from the relay. Without a STUN server the port
// manager relays media from the start; with one configured (stun, the
// lab's coturn, which the firewall keeps out of reach) discovery finds
// nothing, the phone offers its local address and the media-liveness
// rule must move the call to the relay.
func (e *env) tcp443Call(t *testing.T, stun bool) {
	start := time.Now()
	name := shortName(t)
	kamTLS, turnTLS := fw443Kam[0], fw443Turn[0]
	if stun {
		kamTLS, turnTLS = fw443Kam[1], fw443Turn[1]
	}
	scenario := "TCP 443 only: TLS to kamailio, TURN over TLS -> public phoned"
	if stun {
		scenario = "TCP 443 only, STUN configured: TLS to kamailio, TURN over TLS -> public phoned"
	}
	row := Row{Section: "restrictive network", Scenario: scenario, Phone: "phoned"}
	dir := filepath.Join(e.lab.Dir, name+".pki")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile, err := testPKI(dir, kamTLS, turnTLS)
	if err != nil {
		t.Fatal(err)
	}
	e.serverAddr(t, kamTLS)
	e.serverAddr(t, turnTLS)
	tlsCfg := filepath.Join(dir, "tls.cfg")
	if err := os.WriteFile(tlsCfg, []byte(fmt.Sprintf("[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = %s\ncertificate = %s\n\n[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n", keyFile, certFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	kam := e.startKamailio17(t, name+"-kamailio", kamTLS, kamailioTLSCfg(kamTLS, tlsCfg))
	if err := e.lab.waitTCP(e.in.Server, kamTLS+":443", kam); err != nil {
		t.Fatal(err)
	}
	turn, err := e.lab.Start(e.in.Server, name+"-coturn", nil, "turnserver", "-n", "--no-cli", "--no-udp", "--no-tcp", "--no-dtls",
		"--no-tlsv1", "--no-tlsv1_1", "--listening-ip="+turnTLS, "--relay-ip="+turnTLS, "--tls-listening-port=443",
		"--cert="+certFile, "--pkey="+keyFile, "--min-port=49152", "--max-port=65535",
		"--lt-cred-mech", "--user="+TURNUser+":"+TURNPassword, "--realm="+Realm,
		"--fingerprint", "--no-multicast-peers", "--log-file=stdout", "--simple-log",
		"--pidfile="+filepath.Join(dir, "coturn.pid"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(turn.Stop)
	if err := e.lab.waitTCP(e.in.Server, turnTLS+":443", turn); err != nil {
		t.Fatal(err)
	}
	s := e.site(t, PortRestricted)
	if err := e.lab.RunStdin(s.NAT, fw443Rules, "nft", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	pub := e.site(t, NoNAT)
	u, v := e.user(), e.user()
	account := fmt.Sprintf("  - user: \"%s\"\n    password: \"%s\"\n    domain: \"%s\"\n    registrar: \"%s:443\"\n    transport: tls\n    tls_ca_file: \"%s\"\n    expires: 60s\n",
		u, SIPPassword, kamTLS, kamTLS, caFile)
	nat := fmt.Sprintf("  turn: {server: \"%s:443\", username: %s, password: %s, transport: tls, ca_file: \"%s\"}\n", turnTLS, TURNUser, TURNPassword, caFile)
	if stun {
		nat = fmt.Sprintf("  stun_servers: [\"%s:3478\"]\n", STUN1) + nat
	}
	p := e.startPhoned17(t, s, name+"-fw", u, account, nat, 700)
	q := e.startPhoned17(t, pub, name+"-pub", v,
		fmt.Sprintf("  - user: \"%s\"\n    password: \"%s\"\n    domain: \"%s\"\n    registrar: \"%s:5060\"\n    expires: 60s\n", v, SIPPassword, kamTLS, kamTLS),
		fmt.Sprintf("  stun_servers: [\"%s:3478\"]\n", STUN1), 1300)
	wp, wq := watchPath(p, s), watchPath(q, pub)
	res := Call(&PhonedEndpoint{P: p, Hz: 700}, &PhonedEndpoint{P: q, Hz: 1300}, "", e.timing)
	pp, qp := wp(), wq()
	row.Outcome, row.FirstAudio = Fail, res.FirstAudio
	row.Detail = fmt.Sprintf("behind the firewall: %s; public: %s; media %s; %s", pp, qp, res.Detail, fwCounters(s))
	if res.OK && strings.HasPrefix(qp, "path the far end's TURN relay") && strings.HasPrefix(pp, "path own TURN relay") {
		row.Outcome = Pass
	}
	if !res.OK {
		row.Detail += "; kamailio: " + kam.Tail(600)
	}
	e.record(t, row, start)
}

// pathStatus is the part of the status the path watch reads.
type pathStatus struct {
	NAT *struct {
		MediaStrategy string `json:"media_strategy"`
		Hairpinning   bool   `json:"hairpinning"`
	} `json:"nat"`
	Calls []struct {
		RTP struct {
			Remote string `json:"remote"`
		} `json:"rtp"`
		MediaPath   string `json:"media_path"`
		RelayReason string `json:"relay_reason"`
	} `json:"calls"`
}

// watchPath samples p's status every 200 ms until the returned function
// is called, and then says which media path the phone's last call used:
// the relay when the call moved there (media_path relay) or its media
// mappings are relayed from the start (media strategy turn), else its
// RTP remote classified as the LAN (direct), the NAT's public address
// (a hairpin through the NAT), a TURN relay (the far end's relayed
// address), or another host.
func watchPath(p *Phoned, s *Site) func() string {
	var (
		mu     sync.Mutex // guards following
		remote string
		hp     *bool
		media  string
		path   string // media_path of the call
		why    string // relay_reason
	)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			if res, err := p.client.Get("http://127.0.0.1:8080/api/status"); err == nil {
				var st pathStatus
				if json.NewDecoder(res.Body).Decode(&st) == nil {
					mu.Lock()
					if len(st.Calls) > 0 && st.Calls[0].RTP.Remote != "" {
						remote = st.Calls[0].RTP.Remote
						path, why = st.Calls[0].MediaPath, st.Calls[0].RelayReason
					}
					if st.NAT != nil {
						h := st.NAT.Hairpinning
						hp, media = &h, st.NAT.MediaStrategy
					}
					mu.Unlock()
				}
				res.Body.Close()
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() string {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		var how string
		switch {
		case path == "relay":
			how = "own TURN relay (moved by the liveness rule: " + why + ")"
		case media == "turn":
			how = "own TURN relay (media strategy turn, relayed from the start)"
		default:
			how = classify(remote, s)
		}
		out := "path " + how + " (" + p.User + "'s rtp remote " + remote + ")"
		if hp != nil {
			out += fmt.Sprintf(", phone reports hairpinning %v, media strategy %s", *hp, media)
		}
		return out
	}
}

// classify names the media path of an RTP remote address seen from a
// phone of site s.
func classify(remote string, s *Site) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return "unknown"
	}
	ip := ap.Addr().String()
	lan := s.PhoneIP[:strings.LastIndex(s.PhoneIP, ".")+1]
	switch {
	case strings.HasPrefix(ip, lan):
		return "direct on the LAN"
	case ip == s.WANIP:
		return "hairpin through the NAT"
	case ip == STUN1 || ip == STUN2 || ip == fw443Turn[0] || ip == fw443Turn[1]:
		return "the far end's TURN relay"
	}
	return "direct to " + ip
}

// startPhonedPorts starts phoned in s as startPhoned17 does, with its
// own SIP and media port ranges and nat section (after upnp: false).
func (e *env) startPhonedPorts(t *testing.T, s *Site, name, user string, sip, media [2]int, nat string, hz int) *Phoned {
	t.Helper()
	wav := filepath.Join(e.lab.Dir, name+".wav")
	cfg := fmt.Sprintf(`accounts:
  - user: "%s"
    password: "%s"
    domain: "%s"
    registrar: "%s:5060"
    expires: 60s
ports:
  sip: {min: %d, max: %d}
  media: {min: %d, max: %d}
audio:
  input: "tone:%d"
  output: "wav:%s"
api:
  listen: "127.0.0.1:8080"
log:
  level: debug
nat:
  upnp: false
%s`, user, SIPPassword, KamailioNAT, KamailioNAT, sip[0], sip[1], media[0], media[1], hz, wav, nat)
	path := filepath.Join(e.lab.Dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	proc, err := e.lab.Start(s.Phone, name, nil, e.phoned, "-config", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Stop)
	p := &Phoned{Proc: proc, WAV: wav, Site: s, User: user, client: &http.Client{
		Timeout:   3 * time.Second,
		Transport: &http.Transport{DialContext: DialContext(s.Phone), DisableKeepAlives: true},
	}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := p.Status(); err == nil {
			return p
		}
		if proc.Exited() || time.Now().After(deadline) {
			t.Fatalf("phoned %s did not serve its API: %s", name, proc.Tail(3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameNATCall: two phoned on one LAN behind one port-restricted NAT,
// both with STUN and the lab's TURN relay, registered at the nathelper
// Kamailio; A calls B. Each advertises the NAT's public address, so
// their media must loop in the NAT: with hairpin it flows through the
// NAT directly, without it nothing arrives and the media-liveness rule
// moves the call to the relay. Pass is audio both ways by content; the
// detail says which path each phone's RTP took.
func (e *env) sameNATCall(t *testing.T, hairpin bool) {
	start := time.Now()
	name := shortName(t)
	kind := "no hairpin"
	if hairpin {
		kind = "hairpin"
	}
	row := Row{Section: "same nat", Scenario: fmt.Sprintf("two phones behind one port-restricted NAT, %s / kamailio-nathelper", kind), Phone: "phoned"}
	sites, err := e.in.AddSameNATSite(fmt.Sprintf("s%d", e.n.Add(1)), fmt.Sprintf("s%d", e.n.Add(1)), e.udp, hairpin)
	t.Cleanup(func() { // registered first: runs after the phones stop
		for _, s := range sites {
			if s != nil {
				if err := s.Close(); err != nil {
					t.Errorf("site close: %v", err)
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	nat := e.natYAML()
	pa := e.startPhonedPorts(t, sites[0], name+"-a", e.user(), SameNATPorts[0].SIP, SameNATPorts[0].Media, nat, 700)
	pb := e.startPhonedPorts(t, sites[1], name+"-b", e.user(), SameNATPorts[1].SIP, SameNATPorts[1].Media, nat, 1300)
	// The port manager's discovery (with the hairpin test) settles a
	// few seconds after start; the call waits for it so the report
	// holds the NAT's behaviour.
	for _, p := range []*Phoned{pa, pb} {
		p.WaitFor(t.Context(), 10*time.Second, ReportSettled)
	}
	wa, wb := watchPath(pa, sites[0]), watchPath(pb, sites[1])
	res := Call(&PhonedEndpoint{P: pa, Hz: 700}, &PhonedEndpoint{P: pb, Hz: 1300}, "", e.timing)
	row.Outcome, row.FirstAudio = Fail, res.FirstAudio
	row.Detail = fmt.Sprintf("A: %s; B: %s; media %s", wa(), wb(), res.Detail)
	if res.OK {
		row.Outcome = Pass
	}
	e.record(t, row, start)
}

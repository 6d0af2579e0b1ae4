package natlab

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The IPv6-only segment (issue 17): phoned and baresip on a network that
// has no IPv4 at all (their interfaces carry only IPv6 addresses; the
// namespaces' loopback keeps 127.0.0.1 for the phones' local control
// APIs), registered at a Kamailio that listens only on IPv6. phoned
// registers over IPv6 and calls baresip, and baresip calls phoned, with
// audio checked by content both ways (SDP c=IN IP6 on both sides). No
// NAT: the addresses are unique-local (fd64:<site>::/64), as global
// IPv6 addresses would be used, without translation.
//
//	s<i>-nat: bridge br6, fd64:<i>::1/64, Kamailio on udp:[fd64:<i>::1]:5060,
//	          coturn (STUN only) on [fd64:<i>::1]:3478
//	   |-- s<i>-ph: phoned,  fd64:<i>::2/64
//	   `-- s<j>-ph: baresip, fd64:<i>::3/64
func ipv6Cells(run func(string, func(*testing.T)), e *env) {
	run("ipv6-only/phoned-to-baresip/kamailio-plain", func(t *testing.T) { e.ipv6Call(t, false) })
	run("ipv6-only/baresip-to-phoned/kamailio-plain", func(t *testing.T) { e.ipv6Call(t, true) })
}

// v6Segment is one IPv6-only segment: its router (with Kamailio) and two
// phone hosts.
type v6Segment struct {
	registrar string // Kamailio's address, bare
	phoned    *Site
	baresip   *Site
}

// ipv6Segment builds a segment, starts its Kamailio and registers the
// cleanups (processes first, then the namespaces).
func (e *env) ipv6Segment(t *testing.T) *v6Segment {
	t.Helper()
	l := e.lab
	i, err := e.in.takeIndex()
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.in.takeIndex()
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("fd64:%x::", i)
	var nss []string
	t.Cleanup(func() {
		for _, ns := range nss {
			if err := l.DelNS(ns); err != nil {
				t.Errorf("segment close: %v", err)
			}
		}
	})
	// Namespace names come from the site counter, like every other
	// site's: the address index (i, j) is a different sequence, and
	// "s<i>" could name another cell's live site.
	names := map[int]int64{i: e.n.Add(1), j: e.n.Add(1)}
	router, err := l.AddNS(fmt.Sprintf("s%d-nat", names[i]))
	if err != nil {
		t.Fatal(err)
	}
	nss = append(nss, router)
	// nodad: the addresses are usable at once, not tentative for a
	// second of duplicate address detection.
	for _, s := range [][]string{
		{"ip", "link", "add", "br6", "type", "bridge"},
		{"ip", "link", "set", "br6", "up"},
		{"ip", "-6", "addr", "add", prefix + "1/64", "dev", "br6", "nodad"},
		{"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"},
	} {
		if err := l.Run(router, s...); err != nil {
			t.Fatal(err)
		}
	}
	seg := &v6Segment{registrar: prefix + "1"}
	for k, idx := range []int{i, j} {
		ns, err := l.AddNS(fmt.Sprintf("s%d-ph", names[idx]))
		if err != nil {
			t.Fatal(err)
		}
		nss = append(nss, ns)
		port := fmt.Sprintf("v6p%d", k)
		ip := fmt.Sprintf("%s%d", prefix, 2+k)
		steps := [][]string{
			{"ip", "-6", "addr", "add", ip + "/64", "dev", "eth0", "nodad"},
			{"ip", "-6", "route", "add", "default", "via", prefix + "1"},
		}
		if err := l.Veth(ns, "eth0", router, port); err != nil {
			t.Fatal(err)
		}
		if err := l.Run(router, "ip", "link", "set", port, "master", "br6"); err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			if err := l.Run(ns, s...); err != nil {
				t.Fatal(err)
			}
		}
		// The interface has no IPv4 address and there is no IPv4 route.
		site := &Site{Kind: "ipv6-only", Name: fmt.Sprintf("s%d", names[idx]), Phone: ns, PhoneIP: "[" + ip + "]", WANIP: ip, lab: l, in: e.in, idx: idx}
		if k == 0 {
			seg.phoned = site
		} else {
			seg.baresip = site
		}
	}
	if _, err := e.kamailio6(t, router, "kamailio6-"+shortName(t), seg.registrar); err != nil {
		t.Fatal(err)
	}
	// coturn as the segment's STUN server, on IPv6 only: phoned's IPv6
	// sockets ask it (and find no translation).
	p, err := l.Start(router, "coturn6-"+shortName(t), nil, "turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls",
		"--stun-only", "--listening-ip="+seg.registrar, "--listening-port=3478",
		"--log-file=stdout", "--simple-log", "--pidfile="+filepath.Join(l.Dir, "coturn6-"+shortName(t)+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if err := l.waitUDP(router, "["+seg.registrar+"]:3478", p); err != nil {
		t.Fatal(err)
	}
	return seg
}

// kamailio6 starts the lab's plain Kamailio configuration listening only
// on [addr]:5060 in namespace ns.
func (e *env) kamailio6(t *testing.T, ns, name, addr string) (*Proc, error) {
	t.Helper()
	l := e.lab
	cfg := fmt.Sprintf(kamailioCfg, "["+addr+"]", "\t;", SIPPassword, "\t;", PBXEarly)
	path := filepath.Join(l.Dir, name+".cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	rundir := filepath.Join(l.Dir, name+".run")
	if err := os.MkdirAll(rundir, 0o755); err != nil {
		return nil, err
	}
	if err := l.Run(ns, "kamailio", "-c", "-f", path); err != nil {
		return nil, fmt.Errorf("kamailio config check: %w", err)
	}
	p, err := l.Start(ns, name, nil, "kamailio", "-DD", "-E", "-f", path,
		"-m", "32", "-M", "4", "-P", filepath.Join(rundir, "k.pid"), "-Y", rundir)
	if err != nil {
		return nil, err
	}
	t.Cleanup(p.Stop)
	return p, l.waitUDP(ns, "["+addr+"]:5060", p)
}

// ipv6Call runs one call on a fresh IPv6-only segment: phoned calls
// baresip, or (reverse) baresip calls phoned. Audio is checked by content
// both ways, as in every call cell.
func (e *env) ipv6Call(t *testing.T, reverse bool) {
	start := time.Now()
	name := shortName(t)
	seg := e.ipv6Segment(t)
	p, err := seg.phoned.StartPhoned(name+"-p", PhonedOptions{Binary: e.phoned, User: e.user(), Registrar: seg.registrar,
		ToneHz: 700, NAT: fmt.Sprintf("  upnp: false\n  stun_servers: [\"[%s]:3478\"]\n", seg.registrar)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Proc.Stop)
	b, err := seg.baresip.StartBaresip(name+"-b", BaresipOptions{User: e.user(), Registrar: "[" + seg.registrar + "]", ToneHz: 1300})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	var caller, callee Endpoint = &PhonedEndpoint{P: p, Hz: 700}, &BaresipEndpoint{B: b, Hz: 1300}
	scenario := "IPv6-only: phoned -> baresip / kamailio-plain"
	if reverse {
		caller, callee = callee, caller
		scenario = "IPv6-only: baresip -> phoned / kamailio-plain"
	}
	row := Row{Section: "ipv6", Scenario: scenario, Phone: "phoned+baresip"}
	var contact string
	if st, ok := p.WaitFor(t.Context(), 10*time.Second, Registered); ok {
		contact = st.Registration.Contact
		if st.NAT != nil {
			contact += fmt.Sprintf(" (nat report: type %q, external sip %s via %s, media via %s)",
				st.NAT.Type, st.NAT.ExternalSIP, st.NAT.Strategy, st.NAT.MediaStrategy)
		}
	}
	res := Call(caller, callee, "["+seg.registrar+"]", e.timing)
	row.Outcome, row.Detail, row.FirstAudio = Fail, res.Detail, res.FirstAudio
	if contact != "" {
		row.Detail = "phoned contact " + contact + "; " + row.Detail
	}
	if res.OK {
		row.Outcome = Pass
	}
	e.record(t, row, start)
}

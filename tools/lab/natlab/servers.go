package natlab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Credentials used by every lab account: each user's SIP password is
// SIPPassword, and TURN has one long-term user.
const (
	Realm        = "lab"
	SIPPassword  = "labsecret"
	TURNUser     = "turnuser"
	TURNPassword = "turnsecret"
)

// kamailioCfg is the registrar/proxy. With nat, it does the usual
// nathelper handling: rport forced, NATed REGISTER contacts stored with
// their source address (received), NATed INVITE contacts rewritten in
// requests and replies. Without, it saves and uses contacts as sent.
// Media is never touched (no RTP relay): the phones must get their own
// media through the NATs.
const kamailioCfg = `#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=2
listen=udp:%[1]s:5060
disable_tcp=yes
auto_aliases=no
alias="%[1]s"
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "nathelper.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 300)
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("rr", "enable_full_lr", 1)
modparam("tm", "fr_timer", 5000)
modparam("tm", "fr_inv_timer", 30000)

request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (!sanity_check("1511", "7")) { exit; }
	xlog("L_INFO", "REQ $rm $ru from $si:$sp\n");
	route(NAT);
	if (has_totag()) {
		if (loose_route()) { route(RELAY); exit; }
		if (is_method("ACK")) { if (t_check_trans()) { route(RELAY); } exit; }
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) { if (t_check_trans()) { route(RELAY); } exit; }
	t_check_trans();
	if (is_method("OPTIONS") && uri==myself && $rU==$null) { sl_send_reply("200", "OK"); exit; }
	if (is_method("REGISTER")) {
		if (!pv_www_authenticate("$td", "%[3]s", "0")) { www_challenge("$td", "0"); exit; }
		consume_credentials();
		if (!save("location")) { sl_reply_error(); }
		exit;
	}
	if (is_method("INVITE|MESSAGE|SUBSCRIBE")) {
		if (!pv_proxy_authenticate("$fd", "%[3]s", "0")) { proxy_challenge("$fd", "0"); exit; }
		consume_credentials();
	}
	if (is_method("INVITE")) { record_route(); }
	# The early-media test extension: tools/pbx's "early" service on the
	# public segment answers 183 with SDP and an announcement, then 200.
	if (is_method("INVITE") && $rU == "early") { $ru = "sip:early@%[5]s:5060"; route(RELAY); }
	if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
	route(RELAY);
}

route[RELAY] {
	if (is_method("INVITE")) { t_on_reply("REPLY"); }
	if (!t_relay()) { sl_reply_error(); }
	exit;
}

route[NAT] {
%[2]s
}

onreply_route[REPLY] {
%[4]s
}
`

const kamailioNATRoute = `	force_rport();
	if (nat_uac_test("19")) {
		if (is_method("REGISTER")) { fix_nated_register(); }
		else if (is_first_hop()) { fix_nated_contact(); }
		xlog("L_INFO", "NAT detected for $rm from $si:$sp\n");
	}`

const kamailioNATReply = `	if (nat_uac_test("1")) { fix_nated_contact(); }`

// Kamailio starts a registrar/proxy on addr in the server namespace,
// with nathelper handling when nat is set.
func (in *Internet) Kamailio(addr string, nat bool) (*Proc, error) {
	route, reply := "\t;", "\t;"
	name := "kamailio-plain"
	if nat {
		route, reply, name = kamailioNATRoute, kamailioNATReply, "kamailio-nat"
	}
	cfg := fmt.Sprintf(kamailioCfg, addr, route, SIPPassword, reply, PBXEarly)
	path := filepath.Join(in.lab.Dir, name+".cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	rundir := filepath.Join(in.lab.Dir, name+".run")
	if err := os.MkdirAll(rundir, 0o755); err != nil {
		return nil, err
	}
	if err := in.lab.Run(in.Server, "kamailio", "-c", "-f", path); err != nil {
		return nil, fmt.Errorf("kamailio config check: %w", err)
	}
	p, err := in.lab.Start(in.Server, name, nil, "kamailio", "-DD", "-E", "-f", path,
		"-m", "32", "-M", "4", "-P", filepath.Join(rundir, "k.pid"), "-Y", rundir)
	if err != nil {
		return nil, err
	}
	return p, in.lab.waitUDP(in.Server, addr+":5060", p)
}

// Coturn starts coturn on both STUN addresses (RFC 5780 behaviour
// discovery needs the second) with TURN long-term credentials.
func (in *Internet) Coturn() (*Proc, error) {
	p, err := in.lab.Start(in.Server, "coturn", nil, "turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls",
		"--listening-ip="+STUN1, "--listening-ip="+STUN2, "--relay-ip="+STUN1,
		"--listening-port=3478", "--alt-listening-port=3479",
		"--min-port=49152", "--max-port=65535", // hundreds of relayed phones per run
		"--lt-cred-mech", "--user="+TURNUser+":"+TURNPassword, "--realm="+Realm,
		"--fingerprint", "--no-multicast-peers", "--log-file=stdout", "--simple-log",
		"--pidfile="+filepath.Join(in.lab.Dir, "coturn.pid"))
	if err != nil {
		return nil, err
	}
	return p, in.lab.waitUDP(in.Server, STUN1+":3478", p)
}

// EarlyAnnouncement is how long the PBX's early service plays its
// announcement (400+450 Hz) before it answers.
const EarlyAnnouncement = 5 * time.Second

// PBX starts tools/cmd/pbx (binary) on PBXEarly in the server namespace:
// Kamailio routes calls to "early" there.
func (in *Internet) PBX(binary string) (*Proc, error) {
	p, err := in.lab.Start(in.Server, "pbx-early", nil, binary, "-listen", PBXEarly+":5060", "-realm", Realm,
		"-no-invite-auth", "-early", EarlyAnnouncement.String(), "-log-level", "debug")
	if err != nil {
		return nil, err
	}
	return p, in.lab.waitUDP(in.Server, PBXEarly+":5060", p)
}

// waitUDP waits up to 10 s for a UDP socket bound to addr in ns.
func (l *Lab) waitUDP(ns, addr string, p *Proc) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("%s exited: %s", p.Name, p.Tail(2000))
		}
		out, _ := l.Output(ns, "ss", "-Hlun")
		if strings.Contains(out, addr) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s: nothing listening on udp %s after 10 s: %s", p.Name, addr, p.Tail(2000))
}

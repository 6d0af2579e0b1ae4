// Package resolve finds the servers a SIP request goes to, as RFC 3263
// §4 describes, and keeps the failover state of one server name.
//
// # Resolution (RFC 3263 §4.1, §4.2)
//
// A URI host that is an IP literal is the one target; a URI with an
// explicit port skips NAPTR and SRV and uses the host's addresses at that
// port. Otherwise:
//
//	NAPTR example.com          order/preference, flag "s",
//	  SIP+D2U  -> _sip._udp.example.com     services SIP+D2U (UDP),
//	  SIP+D2T  -> _sip._tcp.example.com     SIP+D2T (TCP), SIPS+D2T (TLS);
//	  SIPS+D2T -> _sips._tcp.example.com    sips URIs: SIPS+D2T only
//	     |
//	SRV _sip._udp.example.com  priority, then weighted random (RFC 2782)
//	  10 60 5060 pbx1.example.com
//	  10 40 5060 pbx2.example.com
//	  20  0 5060 backup.example.com
//	     |
//	A / AAAA pbx1.example.com  (from the additional section when sent)
//
// Without usable NAPTR records the SRV names of the transports the
// client supports are asked in its order of preference (UDP, TCP, TLS);
// without SRV records the host's own addresses at the default port (5060,
// 5061 for TLS). A transport forced by the URI or the configuration
// limits every step to it; otherwise the transport comes from the record
// that named the target. SIP+D2S (SCTP) is not supported and ignored.
// With Config.IPv6 AAAA records are asked too and a name with both
// families yields IPv6 and IPv4 addresses alternately, IPv6 first (RFC
// 8305 §4); an AAAA query that fails (SERVFAIL, no answer) does not hide
// the A records. SetConfig.Usable lets Pick pass over addresses of a
// family the caller cannot reach.
//
// Queries go to Config.Servers, or to the nameservers of
// /etc/resolv.conf read at each resolution (with its search list), over
// UDP with a retry over TCP for a truncated answer; a name DNS does not
// know is then looked up with the fallback resolver (the hosts file).
// The client is our own (client.go): one try per server within
// Config.Timeout (resolv.conf's timeout: and attempts: are not used), a
// random ID per query, a connected UDP socket (only the server's
// datagrams arrive; one with another ID is ignored), TCP framed with a
// 2-byte length (RFC 1035 §4.2.2), and the answer must repeat the
// question. Messages are built and parsed with
// golang.org/x/net/dns/dnsmessage, which bounds every read and refuses
// compression loops; NAPTR RDATA (RFC 3403 §4.1) has a parser of its own
// (wire.go). Bad answers are errors that say why, never a panic.
// Answers are bounded (32 targets, 8 NAPTR records) and the TTL of an
// answer is the smallest TTL of its records, at least 5 s.
//
// # Failover (RFC 3263 §4.3)
//
// A Set holds one name's targets. Pick gives the first target that is
// not being avoided, resolving again when the answer's TTL ran out or a
// target failed since; Failed avoids a target that timed out, answered
// 503 or gave a transport error for SetConfig.Hold (5 min by default, or
// the Retry-After when longer), so the next Pick moves to the next
// target. When every target is being avoided Pick says so and returns
// the one whose hold ends first, for the caller to use after backing
// off. A re-resolution that fails keeps the previous targets, so a DNS
// outage does not take a working registration down.
package resolve

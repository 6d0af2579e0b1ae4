// Package portmgr is the phone's port manager, modelled on the RTC Client
// API's IRTCPortManager3 (GetMappingEx / UpdateRemoteAddressEx2 /
// ReleaseMappingEx) and extended past it: it finds, on its own, an
// external address that works behind every kind of NAT.
//
// It owns every UDP socket the phone uses. Sockets are bound inside the
// configured SIP and media port ranges (RTC's MinSipDynamicPort /
// MaxSipDynamicPort and MinMediaPort / MaxMediaPort); RTP takes an even
// port and RTCP the next odd one. Each socket both sends and receives
// (symmetric UDP), so the NAT binding a packet leaves through is the one
// the far end answers to. One reader goroutine per socket demultiplexes
// (RFC 7983: first byte 0..3 and stun.IsMessage): STUN goes to the
// manager, TURN traffic from the relay server to the TURN client, and
// everything else to the Mapping's Conn: queued (a copy) for its
// ReadFrom, or, when the user installed a receiver with the Conn's
// Receive method (voip/media does), handed to it in the reader goroutine
// itself, without a copy, a channel or an allocation
// (BenchmarkDemuxReceive).
//
// A Mapping tells its user the local address, the external address to
// advertise in Via, Contact and SDP, the socket, and the strategy that
// produced the external address. The strategies, tried per mapping in a
// configurable order (DefaultStrategies), are: a configured static
// address; a gateway port mapping (PCP, NAT-PMP, UPnP IGD; package
// gateway) renewed at half-life; STUN binding requests sent from the
// mapping's own socket (RFC 8489, several servers with failover); and a
// TURN relay (RFC 8656, pion/turn) through the mapping's own socket when
// RFC 5780 discovery (package natcheck) finds endpoint-dependent
// (symmetric) mapping, or when the UA's media-liveness rule asks for it
// in a call (Relay: the far end's media never arrived directly).
//
// Map never waits on the network for media: a pool of media pairs is kept
// warm with their external addresses learnt, and when it is empty Map
// binds a fresh pair and returns the best known address at once. The SIP
// socket is bound in New and its address learnt in the background; Map
// for SIP waits at most Config.SIPMapWait for it.
//
// One scheduler drives every refresh: SIP flow keepalives (CRLF or STUN
// to the next hop, plus a STUN re-check of the external address that
// detects NAT reboots; behind a NAT the CRLF goes out at the re-check's
// interval, so a NAT that flushed its state but kept the port hears the
// registrar again within it, with no NAT at the keepalive interval, and
// to a registrar on loopback not at all), idle media keepalives (RFC 6263 STUN
// indications), and gateway lease renewals, at an interval derived from
// the configured or measured binding lifetime. UpdateRemote on a media
// mapping sends early UDP (RTC's EnableEarlyUDPPackets) so early media
// passes the caller's NAT. Changes of external addresses are reported on
// Events; Report summarises the NAT for the status page.
//
// IPv6: each socket has the family of the route toward the far end Map
// is given (an IPv6 far end gets an IPv6 socket in the same ranges; a far
// end with port 0 only chooses the family), STUN asks servers of the
// socket's family only, and the gateway, static and TURN strategies apply
// to sockets of their own family (docs/nat.md, "IPv6 (dual stack)").
// Reachable tells whether the phone has a source address of a family.
//
// All sockets come from a transport.Net, so the same code runs on the
// host network (stdnet) and on pion's emulated networks (vnet) in tests;
// see package portmgrtest and docs/nat.md.
package portmgr

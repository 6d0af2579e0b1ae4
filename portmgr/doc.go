// Package portmgr is the phone's port manager, modelled on the RTC Client
// API's IRTCPortManager (GetMapping / UpdateRemoteAddress / ReleaseMapping).
//
// It owns every UDP socket the phone uses. Sockets are bound inside the
// configured SIP and media port ranges (RTC's MinSipDynamicPort /
// MaxSipDynamicPort and MinMediaPort / MaxMediaPort); RTP takes an even
// port and RTCP the next odd one. Each socket both sends and receives
// (symmetric UDP), so the NAT binding a packet leaves through is the one
// the far end answers to.
//
// A Mapping tells its user the local address, the external address to
// advertise in Via, Contact and SDP, the socket, and the strategy that
// produced the external address. STUN messages arriving on a mapped
// socket are taken off it by a demultiplexer (RFC 7983 style first-byte
// test, then stun.IsMessage) before the SIP stack or the RTP session
// sees them.
//
// All sockets come from a transport.Net, so the same code runs on the
// host network (stdnet) and on pion's emulated networks (vnet) in tests.
package portmgr

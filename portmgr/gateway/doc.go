// Package gateway asks the home router to forward a public port to the
// phone: UPnP IGD (WANIPConnection AddPortMapping, with
// github.com/huin/goupnp), NAT-PMP (RFC 6886) and PCP (RFC 6887), both
// written here. Each protocol lives in its own file and implements Client;
// a Lease is renewed by the port manager at half its lifetime and deleted
// on release. Every UDP socket can come from Config.Listen, so the port
// manager keeps them inside its port ranges.
package gateway

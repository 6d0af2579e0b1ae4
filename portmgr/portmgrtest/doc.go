// Package portmgrtest holds test doubles for the port manager: vnet
// topologies with one NAT per site by NAT type (full cone, restricted
// cone, port-restricted cone, symmetric), an RFC 5780 STUN server with two
// public IPs (OTHER-ADDRESS, CHANGE-REQUEST, RESPONSE-ORIGIN), a pion TURN
// server with long-term credentials, fake UPnP IGD / NAT-PMP / PCP
// gateways that count every request, and SocketLog, a Net that records
// every socket opened on it. It imports nothing of portmgr but its
// internal STUN client, since portmgr's own tests import it; the helpers
// that need portmgr are in portmgr/mappertest.
package portmgrtest

// Package dhcp is the phone's DHCPv4 client (RFC 2131, the options of
// RFC 2132 it needs): Client acquires a lease, keeps it (renewing at T1,
// rebinding at T2) and releases it at a clean shutdown.
//
// On Linux it also holds the interface side: PacketConn frames IPv4 and
// UDP itself on a packet socket (the client has no address to bind a UDP
// socket to yet), and ApplyLease and DropLease set and remove a lease's
// address, default route and resolver configuration by rtnetlink. PID 1
// (firmware/initd) runs it.
package dhcp

// Package nattest holds the whole-phone NAT matrix: a registrar
// (tools/pbx, without NAT fix-ups), an RFC 5780 STUN server and a TURN
// server on an emulated internet (pion vnet), and two phones (voip/sip
// user agents over their own port managers) behind NATs of every type —
// full cone, restricted cone, port-restricted cone, symmetric — on both
// sides, calling in both directions with two-way audio checked by
// content. It has only tests.
package nattest

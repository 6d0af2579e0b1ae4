// Package natlab builds the network lab on one Linux machine: a
// "public internet" made of network namespaces (documentation prefixes
// 203.0.113.0/24 and 198.51.100.0/24, never linked to the host's own
// namespace), private LANs behind NAT namespaces whose behaviour is set
// with nftables (full cone, restricted cone, port-restricted cone,
// symmetric, double NAT, the Linux SIP ALG), and real servers and phones
// started inside them: Kamailio (registrar and proxy with digest auth),
// coturn (STUN with two addresses for RFC 5780, TURN with long-term
// credentials), phoned on the sim board and baresip.
//
// The package holds the plumbing (namespaces, veth pairs, NAT recipes,
// process supervision, audio checks, the results table); the scenarios
// are the tests in lab_test.go, which run only when DESKPHONE_TIER names
// the tier "natlab" (set by `make test-lab`, which installs the Debian
// packages and needs root); its parameters are DESKPHONE_NATLAB_* (DIR,
// PHONED, PBX, MATRIX, PREFIX, ONLY, TALK, PCAP). A plain `go test ./...`
// skips them with a message.
//
// Everything the lab starts belongs to a Lab, whose Close stops every
// process and deletes every namespace; namespaces are named with the
// Lab's prefix so `make lab-clean` can remove leftovers of a killed run.
package natlab

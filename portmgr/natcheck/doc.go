// Package natcheck discovers how the NAT in front of the phone behaves,
// per RFC 5780 (NAT Behavior Discovery Using STUN): its mapping behaviour
// (§4.3), its filtering behaviour (§4.4), hairpinning (§3.4), a generic
// ALG that rewrites MAPPED-ADDRESS (§3.6), and, in the background, an
// estimate of the binding lifetime (§4.6, done here by idling a binding
// and checking whether its mapped address survived).
//
// The tests run from fresh sockets, not from the SIP or media sockets, as
// RFC 5780 §4.1 advises: the filtering tests must start from a binding
// that has talked only to the server's primary address.
package natcheck

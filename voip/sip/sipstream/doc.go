// Package sipstream bounds what a peer can hold on a SIP stream
// transport (TCP, TLS). sipgo reads a stream connection with no deadline,
// so a message that never completes (a Content-Length larger than the
// body, headers that never end, a connection that never sends anything)
// holds the connection and its goroutine for ever.
//
// Framer follows message boundaries (RFC 3261 §7.5 and §18.3: headers
// end at an empty line, the body is Content-Length bytes; CRLFs between
// messages are RFC 5626 §3.5.1 keepalives) just far enough to know
// whether a message is partly read. Conn puts a deadline on a message
// that has begun, and optionally on silence between messages. Listener
// caps the connections a server holds, in all and per source address.
package sipstream

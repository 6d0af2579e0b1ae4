// Package syslog sends the daemon's log to a remote syslog server as
// RFC 5424 messages, over UDP (RFC 5426: one message per datagram) or
// TCP (RFC 6587 §3.4.1 octet counting: "LEN SP MSG").
//
// A message, as written by Handler:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
//	<14>1 2026-12-04T11:50:00.123Z phone-1 phoned 412 - - msg="api listening" laddr=127.0.0.1:8080
//
// PRI is facility×8 + severity (RFC 5424 §6.2.1): DEBUG is 7, INFO 6,
// WARN 4, ERROR 3. MSG is the record as slog's text handler writes it,
// without its time and level, which are in the header.
//
// Logging never waits for the network: a record is formatted and put on
// a bounded queue, and one goroutine sends it. When the queue is full
// (the server is slow or unreachable) the record is dropped and counted
// (Stats). The sender reconnects after an error, waiting RetryMin at
// first and doubling up to RetryMax.
package syslog

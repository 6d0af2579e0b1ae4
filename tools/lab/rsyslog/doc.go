// Package rsyslog is the remote-syslog tier: a real rsyslogd (Debian's
// rsyslog, imudp and imtcp on loopback) receives what firmware/syslog
// sends over UDP and over octet-counted TCP, parses it as RFC 5424 and
// writes its fields to a file, which the test compares with what was
// logged. It runs only under `make test-rsyslog` (DESKPHONE_TIER=rsyslog).
package rsyslog

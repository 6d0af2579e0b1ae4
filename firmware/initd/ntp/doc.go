// Package ntp is the phone's SNTP client (RFC 4330, the client mode of
// NTPv4, RFC 5905): Client queries servers in turn and steps or slews
// the clock by the measured offset, once or periodically (Run). A
// Raspberry Pi has no battery-backed clock; PID 1 (firmware/initd) runs
// this before it starts the phone.
package ntp

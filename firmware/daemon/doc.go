// Package daemon wires the phone together: config, board, port manager,
// SIP user agent, phone state machine and local API. firmware/cmd/phoned
// is a thin main over it, and whole-phone tests run it in-process.
package daemon

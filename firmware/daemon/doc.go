// Package daemon wires the phone together: config, board, port manager,
// SIP user agents, phone state machine, screen, call history and
// phonebook, and local API. firmware/cmd/phoned is a thin main over it,
// and whole-phone tests run it in-process.
//
// Every enabled account is a line: it gets its own sip.UA, with its own
// SIP socket from the one port manager (each line's flow is mapped, kept
// alive and watched on its own), registration and transport. Line n is
// the n-th enabled account; line 0 is the default. Each line's UA feeds
// the phone through its own event pump, which tags every call event with
// the line. The port manager's events go to every line's UA
// (sip.UA.HandlePortEvent), which acts on those about its own mappings:
// the NAT-change policy lives in voip/sip, which owns the dialogs. What a
// line's registrar saw of its flow (Via received/rport, the echoed
// Contact) is handed to the port manager for that line's mapping.
//
// The status document (GET /api/status) lists the lines under "lines";
// its top-level "registration" and "sip_transport" are line 0's, as they
// were when the phone had one line. It is versioned (StatusSchema),
// snake_case, with durations in seconds (status.go).
//
// A config saved through the API, the web page or provisioning goes
// through the daemon's config store (apply.go, Daemon.ConfigStore): it
// is checked as at start (boardspec.Validate), saved atomically and applied
// while the phone runs. A changed account's line gets a new UA, lines
// come and go with accounts, port or NAT changes rebuild the port
// manager and every line; lines a change does not touch keep their UA
// and their calls. What only a restart applies is reported
// (restart_required).
package daemon

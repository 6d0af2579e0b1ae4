// Package web is the phone's web admin page, served by phoned on the
// API's address (api.Config.Web mounts it on every path outside /api/).
// It is server-rendered html/template pages with a little plain
// JavaScript (embedded, no build step):
//
//	/status     lines and registration, NAT type and strategy, the SIP ALG
//	            warning, calls with RTP quality (the GET /api/status document)
//	/calls      dial, answer, hang up, hold, resume, swap, transfer, conference
//	/accounts   SIP accounts (saved to the config), each line's DND and forwarding
//	/network    NAT traversal and port ranges
//	/audio      audio input, output, volume and tones
//	/phonebook  list, add, edit, delete
//	/history    the call history: list, redial, clear
//	/firmware   upload a signed update, reboot, factory reset (through
//	            initd's update agent, Config.System; without one, how to
//	            push an update)
//	/admin      the admin password
//
// Every action goes through the same api.Actions and api.ConfigStore as
// the JSON API, so the page can do nothing the API cannot.
//
// # Login
//
// The admin password is stored as a bcrypt hash (config web.password_hash).
// Without one the page answers only requests from loopback, with no login.
// A login makes a session: a random 256-bit id in a cookie (HttpOnly,
// SameSite=Strict, Secure over TLS), ended by logout, 30 minutes idle, 12
// hours in all, or a change of the password. Every form carries the
// session's CSRF token; a POST without it is 403. Failed logins are
// limited per source address (an IPv6 /64 counts as one): after three, each
// further failure locks the source out for twice as long as the last (1 s
// up to 5 minutes), answered 429 without checking the password. The API's
// Host and Origin checks (package api) run before any of this.
//
// A config change made here is saved at once through the store (atomic)
// and, like PUT /api/config, applied while phoned runs; what needs a
// restart (the store says) the page says so. A new password is used
// from the next login on.
package web

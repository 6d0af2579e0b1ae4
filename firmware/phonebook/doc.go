// Package phonebook is the phone's directory: named entries with one or
// more numbers and an optional speed-dial digit, kept in a YAML file on
// the data partition. The phone uses it (phone.Directory) to name callers
// and to dial speed-dial keys; the API lists and edits it.
//
// # The file
//
//	# /data/phonebook.yaml
//	version: 1            # optional; the only version so far
//	entries:
//	  - id: "1"           # optional: assigned when missing, kept once written
//	    name: Alice Smith
//	    speed_dial: 2     # optional: one digit 0-9, unique in the phonebook
//	    numbers:
//	      - number: "201"
//	        label: work   # optional
//	      - sip:alice@pbx.example.com
//	  - name: Reception
//	    numbers: ["200"]
//
// A number is a dialable string: digits, a user name or a SIP URI. Every
// problem is reported as "file:line: field: problem", all of them at once,
// and a file with problems loads nothing (see Open). Edits through the API
// rewrite the whole file atomically (firmware/atomicfile); comments and
// formatting are not kept.
//
// # Matching callers
//
// Lookup compares numbers by their user part: "sip:201@pbx",
// "<sip:201@pbx;transport=udp>", "tel:201" and "201" are the same
// number, and so are "+44 (20) 7946-0000" and "+442079460000" (visual
// separators are ignored in numbers made of digits). User names compare
// case-insensitively. When several entries share a number, the first in
// the file names it.
package phonebook

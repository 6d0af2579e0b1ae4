// Package config is the phone daemon's configuration: one YAML file that
// names the SIP accounts, codecs, port ranges, NAT traversal settings,
// audio, dial plan, board, local API and logging.
//
// Parse and Load decode the file through yaml.Node, so every problem is
// reported with the file, the line and the field it concerns:
//
//	phone.yaml:12: accounts[0].transport: "udpx" is not one of udp, tcp, tls
//
// Unknown keys are errors, and all problems of a file are collected and
// returned together (errors.Join) rather than stopping at the first. Each
// problem is a *FieldError; Problems lists them.
//
// Every field has a documented default (see Default and docs/config.md).
// A key that is absent, or present with no value (YAML null), keeps its
// default. Durations accept Go syntax ("25s", "1m30s") or an integer
// number of seconds.
//
// Save replaces a file atomically (firmware/atomicfile): the data goes to
// a temporary file in the same directory, which is synced, renamed over
// the old file, and followed by a sync of the directory, so a power cut
// leaves either the old file or the new one, never a mixture.
package config

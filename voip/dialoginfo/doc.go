// Package dialoginfo parses the application/dialog-info+xml body of the
// SIP dialog event package (RFC 4235), which busy lamp fields watch: a
// NOTIFY tells the phone which INVITE dialogs a colleague has, in which
// state, and with which identifiers, so the lamp can show idle, ringing or
// busy and a key can pick a ringing call up (RFC 3891 Replaces built from
// the dialog's call-id and tags).
//
//	<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
//	             version="1" state="full" entity="sip:bob@example.com">
//	  <dialog id="as7d900as8" call-id="a84b4c76e66710"
//	          local-tag="1928301774" remote-tag="456887766"
//	          direction="recipient">
//	    <state>early</state>
//	    <remote><identity display="Alice">sip:alice@example.com</identity></remote>
//	  </dialog>
//	</dialog-info>
//
// Parse is a bounded reader: bodies above MaxSize, documents nested deeper
// than maxDepth or holding more than MaxDialogs dialogs, DOCTYPE
// declarations (and with them every entity definition), elements of the
// document outside the RFC 4235 namespace, unknown dialog states and
// broken XML are errors. Elements and attributes it does not know, in
// other namespaces, are ignored as RFC 4235 §4 requires.
//
// Tracker applies a series of NOTIFY bodies of one subscription: full
// state replaces, partial state updates dialogs by id, and a version that
// does not follow the last one is reported so the subscriber can fetch
// full state again (RFC 4235 §4.1).
package dialoginfo

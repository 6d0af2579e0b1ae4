// Package msgsummary parses and writes the application/simple-message-summary
// body of the SIP message-summary event package (RFC 3842): the body of
// the NOTIFY that tells a phone whether voicemail is waiting.
//
// A body looks like this (RFC 3842 §5.2):
//
//	Messages-Waiting: yes
//	Message-Account: sip:alice@vmail.example.com
//	Voice-Message: 4/8 (1/2)
//
// The status line is required; the account and one summary line per
// message class (voice-message, fax-message, pager-message,
// multimedia-message, text-message, none) are optional. A summary line
// is new/old, optionally followed by (new-urgent/old-urgent). Optional
// message headers may follow an empty line; they are skipped.
//
// Parse is strict where a wrong answer would mislead the user: a body
// larger than MaxSize, a count above MaxCount, a missing or unknown
// status, a malformed or repeated summary line are errors, never a guess.
// Extension headers it does not know are ignored (RFC 3842 §5.1).
package msgsummary

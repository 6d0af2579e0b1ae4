// Package serialio is the front panel of the emulated phone: keys and the
// hook switch arrive as text lines over a serial port or a socket, and the
// phone's indicators, ringer and codec settings go back the same way.
// It also has audio devices that play and record raw PCM files or UDP
// datagrams, paced by a software clock, for machines without a sound card.
//
// # Protocol
//
// One command per line, ASCII, LF or CRLF terminated, at most 256 bytes;
// words separated by blanks; case-insensitive. From the host to the phone:
//
//	key K         press and release key K
//	down K        press K and keep it down (for a long press)
//	up K          release K
//	dial DIGITS   press and release each of DIGITS (0-9 * #) in turn
//	hook off      lift the handset (also: "lift", "offhook")
//	hook on       hang up (also: "hangup", "onhook")
//	help          list the commands
//	# ...         a comment; blank lines are ignored too
//
// K is a dial character (0-9, *, #) or a function key's name: speaker,
// hold, transfer, redial, vol+, vol-, mute, line, headset. Each command is
// answered by "ok" or "err <reason>".
//
// From the phone to the host, unsolicited, one line per change:
//
//	led <line|message|mute|speaker> <off|on|blink-slow|blink-fast>
//	ring <on|off>
//	route <handset|speaker|headset>
//	volume N | gain N | mute <on|off>
//
// A person can drive the phone with any terminal program, e.g.
// `nc 127.0.0.1 7000` or `socat - UNIX-CONNECT:/tmp/phone.sock`, and type
// "hook off", "dial 1234#".
package serialio

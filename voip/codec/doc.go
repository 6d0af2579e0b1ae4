// Package codec implements the audio codecs of the phone's RTP media: the
// ITU-T G.711 companding codecs µ-law (PCMU, static RTP payload type 0)
// and A-law (PCMA, static RTP payload type 8), both at 8000 Hz (RFC 3551
// §4.5.14), and wideband G.722 (payload type 9, 16 kHz audio on an 8000
// Hz RTP clock, RFC 3551 §4.5.2; the codec itself is in package g722),
// and, in builds with libopus (cgo and the build tag "opus";
// OpusAvailable), Opus (RFC 7587: "opus/48000/2", 16 kHz mono audio on a
// 48000 Hz clock; package opus). Codecs with more to say in SDP than a
// name and a clock implement SDPFormat; those that follow the far end's
// a=fmtp implement RemoteFmtp.
//
// The conversions are bit-exact with the ITU-T G.191 Software Tool Library
// (STL) reference implementation of G.711 (module g711.c, version 3.01),
// checked against every 16-bit input of the STL test files. Input and
// output samples are 16-bit left-justified linear PCM, as in the STL: A-law
// uses the 13 most significant bits and µ-law the 14 most significant bits.
// Negative inputs are taken in one's complement before quantisation, as the
// STL does; this differs from the widely copied "Sun" g711.c for 508
// negative µ-law inputs.
//
// Everything is table driven: a 256-entry table per law for decoding, and
// a 16384-entry (µ-law, indexed by the 14-bit input) and a 4096-entry
// (A-law, indexed by the 13-bit input) table for encoding. Encode and
// Decode do not allocate when dst has the capacity for the result.
package codec

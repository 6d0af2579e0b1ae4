// Package g722 implements ITU-T G.722 (09/2012), 7 kHz audio coding at
// 64 kbit/s by sub-band ADPCM (SB-ADPCM): 16 kHz linear PCM in, one octet
// per pair of samples out.
//
// The encoder splits the input with the 24-tap quadrature mirror filter
// (QMF) into a lower band (0-4 kHz) coded with 6 bits per sample and a
// higher band (4-8 kHz) coded with 2 bits, both at 8 kHz. The decoder
// reverses it and decodes the lower band in any of the three modes of
// G.722 §1.4: mode 1 (64 kbit/s, 6 bits), mode 2 (56 kbit/s, 5 bits) and
// mode 3 (48 kbit/s, 4 bits); RTP (payload type 9) always carries mode 1.
//
// The band coders are bit-exact with the Recommendation: they reproduce
// the ITU-T digital test sequences of G.722 Appendix II (the files in
// testdata/itu, checked against the CRC-32 that ITU-T publishes for each),
// which exercise the SB-ADPCM encoder and decoder with the QMF bypassed,
// in all three decoder modes. The QMF is the Recommendation's (Table 4
// coefficients) in 32-bit arithmetic.
//
// RTP (RFC 3551 §4.5.2): the RTP clock of G.722 is 8000 Hz although the
// audio is sampled at 16 kHz, for historical reasons; a 20 ms packet holds
// 320 samples in 160 octets and advances the timestamp by 160.
//
// Encoder and Decoder hold the state of one direction of one call; they
// are not safe for concurrent use. Encode and Decode do not allocate when
// dst has the capacity for the result.
package g722

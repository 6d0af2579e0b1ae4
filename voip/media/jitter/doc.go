// Package jitter is the phone's adaptive receive jitter buffer.
//
// Packets are pushed as they arrive (from the RTP reader goroutine) and
// audio is pulled by the audio device, one frame per NextFrame call at the
// device's own pace (hal.FrameSource). Playout is driven by RTP
// timestamps, not by packet counts, so any packet time (10, 20, 30 ms...)
// and any device frame size work together:
//
//	           push (seq, ts, payload, arrival)
//	                        |
//	                        v
//	+---- slots indexed by seq mod 64, decoded PCM per slot ----+
//	|  ts: 1000   1160   ----   1480   1640                      |
//	+------------------------------------------------------------+
//	      ^ playTS (next sample the device will hear)
//	      |-------- delay = newest end - playTS ---------|
//
// The first packet anchors the playout point at its timestamp minus the
// target delay, so the device hears silence while the buffer fills. Each
// NextFrame copies the samples covering [playTS, playTS+len(dst)) out of
// the slots in timestamp order and conceals what is missing (see below);
// playTS then advances by len(dst).
//
// A packet whose samples all lie before playTS arrived after its playout
// time: it is dropped as late, and the target delay grows at once by the
// lateness, the extra delay being inserted into the output immediately
// (concealment samples are played without advancing playTS). Duplicates
// (same sequence number still buffered) are dropped.
//
// The target delay follows the interarrival jitter J (RFC 3550 §6.4.1,
// A.8): target = 1.5 packet times + 4 J, clamped to [MinDelay, MaxDelay].
// A higher J raises the target at once, but the delay itself only grows
// when a packet actually arrives late (above) or at the next talkspurt.
// Shrinking is slow: after three one-second windows without a late packet
// the target moves a quarter of the way back to the jitter-derived value
// each second, and excess buffered audio (the smallest cushion seen during
// the window minus the target) is removed by skipping at most one frame
// per window, where the audio is quiet (or after 5 s regardless). At the
// start of a talkspurt (RTP marker bit with an empty buffer) the playout
// point is simply re-anchored at the current target.
//
// Loss concealment follows the idea of ITU-T G.711 Appendix I: the last
// pitch period (found by autocorrelation over the last 48.75 ms, lags of
// 5 to 15 ms) is repeated, unattenuated for the first 10 ms, then fading
// by 20 % per 10 ms to silence after 60 ms; when real audio resumes, the
// first 4 ms are cross-faded from the synthetic signal into it.
//
// Decoding follows the sequence, not arrival (decode.go): G.722 and Opus
// decoders carry state from packet to packet. A packet is decoded when it
// arrives only if it is the next after the last one decoded; one that
// arrives ahead of a gap is held as its payload (copied into its slot)
// and decoded when the missing packets arrive, right after them, or when
// playout reaches it with the gap still open (the missing ones are then
// lost to the decoder too). While held its length is taken to be the
// last packet's. PushFrame stores a frame the caller decodes at once in a
// lost packet's place (Opus in-band FEC); InOrder says whether that would
// keep the decoder in order.
//
// The buffer drops its contents and re-anchors on the new packet when the
// sender's timestamps jump by more than two seconds (a restart without a
// marker), when five packets in a row arrive late (a stalled sender clock:
// growing cannot help), or when a packet lands far beyond an empty buffer
// (timestamps that leapt forward during a pause). A duplicate is
// recognised even after its packet was played.
//
// All methods are safe for concurrent use.
package jitter

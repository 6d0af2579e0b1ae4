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
// A.8): target = packet time + 3 J, clamped to [MinDelay, MaxDelay]. It
// grows immediately and shrinks slowly: once a second without late
// packets it moves halfway back to the jitter-derived value, and excess
// buffered audio (the smallest cushion seen during that second minus the
// target) is removed by skipping at most one frame per second, preferably
// where the audio is silent, or at the start of a talkspurt (RTP marker
// bit with an empty buffer), where the playout point is re-anchored.
//
// Loss concealment follows the idea of ITU-T G.711 Appendix I: the last
// pitch period (found by autocorrelation over the last 48.75 ms, lags of
// 5 to 15 ms) is repeated, unattenuated for the first 10 ms, then fading
// by 20 % per 10 ms to silence after 60 ms; when real audio resumes, the
// first 4 ms are cross-faded from the synthetic signal into it.
//
// A sender whose timestamps jump by more than Resync (a restarted stream
// without a marker) or who sends far ahead of what the device pulls makes
// the buffer drop its contents and re-anchor on the new packet.
//
// All methods are safe for concurrent use.
package jitter

// Package mix adds audio frames together: the phone's three-way
// conference (each party hears the other two, the user hears both) and
// tones laid over a call (the call-waiting beep).
//
// Samples are signed 16-bit PCM, the frames hal uses (20 ms, one channel).
// Each input has a gain in fixed point (Unity is 1.0); the sum saturates
// at the int16 limits instead of wrapping, so an overload clips rather
// than turning into loud noise.
//
// Nothing allocates per frame: an Acc grows its buffer once, to the
// largest frame it has seen, and a Mixer keeps one scratch frame. A Mixer
// is a hal.FrameSource, so an AudioOut can play it; its inputs are
// fixed when it is built, only their gains change, and it is safe to
// change a gain while another goroutine pulls frames.
//
// It is a leaf beside the hal interfaces and imports only hal.
package mix

//go:build linux && cgo && alsa

package alsa

/*
#cgo pkg-config: alsa
#include <errno.h>
#include <alsa/asoundlib.h>

// open_capture opens name for non-blocking capture of S16_LE mono at
// rate, with periods of period frames, and starts it. It returns 0 or a
// negative ALSA error; *rate, *period and *buffer get what the device
// granted. *stage names the call that failed.
static int open_capture(snd_pcm_t **pcm, const char *name, unsigned *rate,
		snd_pcm_uframes_t *period, snd_pcm_uframes_t *buffer, const char **stage) {
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	int err;
	*stage = "snd_pcm_open";
	if ((err = snd_pcm_open(pcm, name, SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK)) < 0)
		return err;
	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);
	*stage = "snd_pcm_hw_params_any";
	if ((err = snd_pcm_hw_params_any(*pcm, hw)) < 0) goto fail;
	*stage = "snd_pcm_hw_params_set_access";
	if ((err = snd_pcm_hw_params_set_access(*pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0) goto fail;
	*stage = "snd_pcm_hw_params_set_format";
	if ((err = snd_pcm_hw_params_set_format(*pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0) goto fail;
	*stage = "snd_pcm_hw_params_set_channels";
	if ((err = snd_pcm_hw_params_set_channels(*pcm, hw, 1)) < 0) goto fail;
	*stage = "snd_pcm_hw_params_set_rate_resample";
	if ((err = snd_pcm_hw_params_set_rate_resample(*pcm, hw, 1)) < 0) goto fail;
	*stage = "snd_pcm_hw_params_set_rate_near";
	if ((err = snd_pcm_hw_params_set_rate_near(*pcm, hw, rate, NULL)) < 0) goto fail;
	*stage = "snd_pcm_hw_params_set_period_size_near";
	if ((err = snd_pcm_hw_params_set_period_size_near(*pcm, hw, period, NULL)) < 0) goto fail;
	*stage = "snd_pcm_hw_params_set_buffer_size_near";
	if ((err = snd_pcm_hw_params_set_buffer_size_near(*pcm, hw, buffer)) < 0) goto fail;
	*stage = "snd_pcm_hw_params";
	if ((err = snd_pcm_hw_params(*pcm, hw)) < 0) goto fail;
	snd_pcm_hw_params_get_period_size(hw, period, NULL);
	snd_pcm_hw_params_get_buffer_size(hw, buffer);
	*stage = "snd_pcm_sw_params_current";
	if ((err = snd_pcm_sw_params_current(*pcm, sw)) < 0) goto fail;
	*stage = "snd_pcm_sw_params_set_avail_min";
	if ((err = snd_pcm_sw_params_set_avail_min(*pcm, sw, *period)) < 0) goto fail;
	*stage = "snd_pcm_sw_params";
	if ((err = snd_pcm_sw_params(*pcm, sw)) < 0) goto fail;
	*stage = "snd_pcm_prepare";
	if ((err = snd_pcm_prepare(*pcm)) < 0) goto fail;
	*stage = "snd_pcm_start";
	if ((err = snd_pcm_start(*pcm)) < 0) goto fail;
	return 0;
fail:
	snd_pcm_close(*pcm);
	*pcm = NULL;
	return err;
}
*/
import "C"

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/deskphone/phone/hal"
)

// In captures through ALSA. It implements hal.AudioIn.
type In struct {
	f       hal.Format
	device  string
	latency time.Duration

	mu       sync.Mutex // guards following
	pcm      *C.snd_pcm_t
	overruns int
}

var _ hal.AudioIn = (*In)(nil)

func alsaErr(stage string, code C.int) error {
	return fmt.Errorf("alsa: %s: %s", stage, C.GoString(C.snd_strerror(code)))
}

// NewIn opens o.Device for capture and starts it.
func NewIn(o *Opts) (*In, error) {
	op, err := fill(o)
	if err != nil {
		return nil, err
	}
	f := op.Format
	name := C.CString(op.Device)
	defer C.free(unsafe.Pointer(name))
	rate := C.uint(f.SampleRate)
	period := C.snd_pcm_uframes_t(f.FrameSamples())
	buffer := C.snd_pcm_uframes_t(f.FrameSamples() * op.Periods)
	var pcm *C.snd_pcm_t
	var stage *C.char
	if rc := C.open_capture(&pcm, name, &rate, &period, &buffer, &stage); rc < 0 {
		return nil, fmt.Errorf("capture %q: %w", op.Device, alsaErr(C.GoString(stage), rc))
	}
	if int(rate) != f.SampleRate {
		C.snd_pcm_close(pcm)
		return nil, fmt.Errorf("%w: %q captures at %d Hz, not %d", ErrFormat, op.Device, rate, f.SampleRate)
	}
	perFrame := time.Second / time.Duration(f.SampleRate)
	return &In{f: f, device: op.Device, pcm: pcm, latency: time.Duration(period) * perFrame}, nil
}

// Format reports the stream format.
func (in *In) Format() hal.Format { return in.f }

// Latency is the nominal delay from the microphone to ReadFrame
// returning: one period, which the device fills before waking us.
func (in *In) Latency() time.Duration { return in.latency }

// Overruns reports how often the capture buffer overflowed (the reader
// was late) and was restarted, dropping audio.
func (in *In) Overruns() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.overruns
}

// waitSlice bounds one snd_pcm_wait so that ctx and Close are noticed.
const waitSlice = 50 // ms

// ReadFrame blocks until len(dst) samples have been captured, ctx ends or
// the stream is closed. An overrun is recovered from, not returned.
func (in *In) ReadFrame(ctx context.Context, dst []int16) error {
	got := 0
	for got < len(dst) {
		if err := ctx.Err(); err != nil {
			return err
		}
		in.mu.Lock()
		if in.pcm == nil {
			in.mu.Unlock()
			return ErrClosed
		}
		n := C.snd_pcm_readi(in.pcm, unsafe.Pointer(&dst[got]), C.snd_pcm_uframes_t(len(dst)-got))
		switch {
		case n >= 0:
			got += int(n)
		case n == -C.EAGAIN:
			C.snd_pcm_wait(in.pcm, waitSlice)
		default:
			in.overruns++
			if rc := C.snd_pcm_recover(in.pcm, C.int(n), 1); rc < 0 {
				in.mu.Unlock()
				return alsaErr("snd_pcm_readi", C.int(n))
			}
			if rc := C.snd_pcm_start(in.pcm); rc < 0 && rc != -C.EBADFD {
				in.mu.Unlock()
				return alsaErr("snd_pcm_start", rc)
			}
		}
		in.mu.Unlock()
	}
	return nil
}

// Close stops capture and closes the device. It is idempotent.
func (in *In) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pcm == nil {
		return nil
	}
	C.snd_pcm_drop(in.pcm)
	rc := C.snd_pcm_close(in.pcm)
	in.pcm = nil
	if rc < 0 {
		return alsaErr("snd_pcm_close", rc)
	}
	return nil
}

package boardspec

import (
	"errors"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/config"
)

// TestValidateBoardFields: board_options keys and audio specs are
// checked against the chosen board, each problem "file:line: field:
// problem"; an unknown key wraps config.ErrUnknownKey.
func TestValidateBoardFields(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string // problems, in order; none: valid
	}{
		{"sim defaults", "board: sim\n", nil},
		{"sim tone and wav", "audio:\n  input: tone:440\n  output: wav:/tmp/out.wav\n", nil},
		{"docs' keys on sim", "board: sim\nboard_options:\n  i2c_bus: \"1\"\n  audio_device: \"hw:0,0\"\n",
			[]string{`phone.yaml:3: board_options.i2c_bus: unknown key: the sim board reads no board_options`,
				`phone.yaml:4: board_options.audio_device: unknown key: the sim board reads no board_options`}},
		{"sim microphone device", "audio:\n  input: device\n",
			[]string{`phone.yaml:2: audio.input: the sim board cannot use "device": the sim board has no microphone device`}},
		{"sim input", "audio:\n  input: mic\n",
			[]string{`phone.yaml:2: audio.input: the sim board cannot use "mic": want silence, tone:<Hz> or wav:<path>`}},
		{"sim tone too high", "audio:\n  input: tone:5000\n",
			[]string{`phone.yaml:2: audio.input: the sim board cannot use "tone:5000": tone frequency must be a number of Hz from 20 to below 4000`}},
		{"sim wav without path", "audio:\n  output: \"wav:\"\n",
			[]string{`phone.yaml:2: audio.output: the sim board cannot use "wav:": wav: needs a file path`}},
		{"sim output", "audio:\n  output: headphones\n",
			[]string{`phone.yaml:2: audio.output: the sim board cannot use "headphones": want null, wav:<path> or speaker`}},
		{"rpi keys", "board: rpi\nboard_options:\n  i2c_bus: \"1\"\n  alsa_device: \"hw:0,0\"\n  no_codec: \"true\"\naudio:\n  input: device\n  output: speaker\n", nil},
		{"rpi unknown key", "board: rpi\nboard_options:\n  audio_device: \"hw:0,0\"\n",
			[]string{`phone.yaml:3: board_options.audio_device: unknown key for the rpi board (known keys: alsa_device, display, display_bus, i2c_bus, no_audio, no_codec)`}},
		{"rpi bad values", "board: rpi\nboard_options:\n  no_audio: yes please\n  display: lcd\n",
			[]string{`phone.yaml:3: board_options.no_audio: "yes please" is not true or false`,
				`phone.yaml:4: board_options.display: "lcd" is not a display this board drives`}},
		{"rpi wideband", "board: rpi\naudio:\n  sample_rate: 16000\n", nil},
		{"rpi tone", "board: rpi\naudio:\n  input: tone:440\n",
			[]string{`phone.yaml:3: audio.input: the rpi board cannot use "tone:440": the rpi board records from its sound card`}},
		{"qemu", "board: qemu\nboard_options:\n  listen: tcp:127.0.0.1:7000\naudio:\n  input: udp:127.0.0.1:4000\n  output: file:/tmp/spk.raw\n", nil},
		{"qemu unknown key", "board: qemu\nboard_options:\n  i2c_bus: \"1\"\n",
			[]string{`phone.yaml:3: board_options.i2c_bus: unknown key for the qemu board (known keys: listen, screen_listen, serial)`}},
		{"qemu udp without port", "board: qemu\naudio:\n  output: udp:127.0.0.1\n",
			[]string{`phone.yaml:3: audio.output: the qemu board cannot use "udp:127.0.0.1"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Parse("phone.yaml", []byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = Validate(cfg)
			ps := config.Problems(err)
			if len(ps) != len(c.want) {
				t.Fatalf("problems %v, want %q", err, c.want)
			}
			for i, p := range ps {
				if !strings.HasPrefix(p.Error(), c.want[i]) {
					t.Errorf("problem %d: %q, want it to start %q", i, p.Error(), c.want[i])
				}
				if strings.Contains(c.want[i], "unknown key") != errors.Is(p, config.ErrUnknownKey) {
					t.Errorf("problem %d: %v: ErrUnknownKey %v", i, p, errors.Is(p, config.ErrUnknownKey))
				}
			}
		})
	}
}

// TestDocsExampleValid: the example config docs/config.md shows (kept
// verbatim in firmware/config/testdata) passes the board's checks too.
func TestDocsExampleValid(t *testing.T) {
	c, err := config.Load("../config/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(c); err != nil {
		t.Fatal(err)
	}
}

package config

import (
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/deskphone/phone/firmware/atomicfile"
)

// The file layout written by Marshal: the same keys Parse reads, every
// field present, durations in Go syntax.
type (
	fileConfig struct {
		Accounts        []fileAccount     `yaml:"accounts"`
		Codecs          []string          `yaml:"codecs,flow"`
		DTMF            string            `yaml:"dtmf"`
		DTMFPayloadType int               `yaml:"dtmf_payload_type"`
		Ptime           string            `yaml:"ptime"`
		Ports           filePorts         `yaml:"ports"`
		NAT             fileNAT           `yaml:"nat"`
		Audio           fileAudio         `yaml:"audio"`
		DialPlan        fileDialPlan      `yaml:"dial_plan"`
		Board           string            `yaml:"board"`
		BoardOptions    map[string]string `yaml:"board_options"`
		API             fileAPI           `yaml:"api"`
		Log             fileLog           `yaml:"log"`
		SIP             fileSIP           `yaml:"sip"`
		History         fileHistory       `yaml:"history"`
		Phonebook       filePhonebook     `yaml:"phonebook"`
		MemoryLimit     string            `yaml:"memory_limit"`
		Calls           fileCalls         `yaml:"calls"`
		Web             fileWeb           `yaml:"web"`
		BLF             []fileBLF         `yaml:"blf"`
		Provision       *fileProvision    `yaml:"provision,omitempty"`
		Firmware        *fileFirmware     `yaml:"firmware,omitempty"`
	}
	fileCalls struct {
		MaxCalls    int  `yaml:"max_calls"`
		CallWaiting bool `yaml:"call_waiting"`
	}
	fileWeb struct {
		PasswordHash string `yaml:"password_hash"`
	}
	fileHistory struct {
		File string `yaml:"file"`
		Size int    `yaml:"size"`
	}
	filePhonebook struct {
		File string `yaml:"file"`
	}
	fileSIP struct {
		AcceptFrom   string   `yaml:"accept_from"`
		Allow        []string `yaml:"allow,flow"`
		RingTimeout  string   `yaml:"ring_timeout"`
		DNSServers   []string `yaml:"dns_servers,flow"`
		FailoverHold string   `yaml:"failover_hold"`
	}
	fileAccount struct {
		User          string   `yaml:"user"`
		AuthUser      string   `yaml:"auth_user"`
		Password      string   `yaml:"password"`
		DisplayName   string   `yaml:"display_name"`
		Domain        string   `yaml:"domain"`
		Registrar     string   `yaml:"registrar"`
		OutboundProxy string   `yaml:"outbound_proxy"`
		Transport     string   `yaml:"transport"`
		Expires       string   `yaml:"expires"`
		TLSCAFile     string   `yaml:"tls_ca_file"`
		TLSCertFile   string   `yaml:"tls_cert_file,omitempty"`
		TLSKeyFile    string   `yaml:"tls_key_file,omitempty"`
		Codecs        []string `yaml:"codecs,omitempty,flow"`
		Enabled       bool     `yaml:"enabled"`

		DND                  bool   `yaml:"dnd"`
		DNDCode              int    `yaml:"dnd_code"`
		ForwardAlways        string `yaml:"forward_always"`
		ForwardBusy          string `yaml:"forward_busy"`
		ForwardNoAnswer      string `yaml:"forward_no_answer"`
		ForwardNoAnswerAfter string `yaml:"forward_no_answer_after"`
		Mailbox              string `yaml:"mailbox"`
		SubscribeMWI         bool   `yaml:"subscribe_mwi"`
		SRTP                 string `yaml:"srtp"`
		SRTPOverInsecure     bool   `yaml:"srtp_over_insecure"`
		SRTPKeying           string `yaml:"srtp_keying,omitempty"`
		BLFList              string `yaml:"blf_list"`

		SRTPSuites []string `yaml:"srtp_suites,omitempty,flow"` // srtpsuites.go
	}
	fileRange struct {
		Min uint16 `yaml:"min"`
		Max uint16 `yaml:"max"`
	}
	filePorts struct {
		SIP   fileRange `yaml:"sip,flow"`
		Media fileRange `yaml:"media,flow"`
	}
	fileNAT struct {
		STUNServers     []string `yaml:"stun_servers"`
		TURN            fileTURN `yaml:"turn"`
		StaticExternal  string   `yaml:"static_external"`
		Strategies      []string `yaml:"strategies,flow"`
		Keepalive       string   `yaml:"keepalive"`
		EarlyUDP        bool     `yaml:"early_udp"`
		BindingLifetime string   `yaml:"binding_lifetime"`
		ChangeCheck     string   `yaml:"change_check"`
		MediaTimeout    string   `yaml:"media_timeout"`
		UPnP            bool     `yaml:"upnp"`
		ICE             bool     `yaml:"ice,omitempty"`
	}
	fileTURN struct {
		Server    string   `yaml:"server"`
		Username  string   `yaml:"username"`
		Password  string   `yaml:"password"`
		Fallbacks []string `yaml:"fallbacks,omitempty"`
		Transport string   `yaml:"transport,omitempty"`
		CAFile    string   `yaml:"ca_file,omitempty"`
	}
	fileAudio struct {
		Input      string `yaml:"input"`
		Output     string `yaml:"output"`
		SampleRate int    `yaml:"sample_rate"`
		Volume     int    `yaml:"volume"`
		MicGain    int    `yaml:"mic_gain"`
		Tones      string `yaml:"tones"`
		VAD        bool   `yaml:"vad,omitempty"`
	}
	fileDialPlan struct {
		Timeout    string `yaml:"timeout"`
		Terminator string `yaml:"terminator"`
		MaxDigits  int    `yaml:"max_digits"`
	}
	fileAPI struct {
		Listen string `yaml:"listen"`
		Token  string `yaml:"token"`
	}
	fileLog struct {
		Level  string     `yaml:"level"`
		Format string     `yaml:"format"`
		Syslog fileSyslog `yaml:"syslog"`
	}
)

// formatDuration writes d as Parse reads it, in the plainest unit:
// "3600s", "20ms", "0s".
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	}
	return d.String()
}

// formatSize writes n as ParseSize reads it, in the largest binary unit
// that divides it.
func formatSize(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Marshal encodes c as YAML that Parse reads back to an equal Config.
// Every field is written, defaults included. It does not validate.
func Marshal(c *Config) ([]byte, error) {
	f := fileConfig{
		Codecs:          c.Codecs,
		DTMF:            c.DTMF,
		DTMFPayloadType: c.DTMFPayloadType,
		Ptime:           formatDuration(c.Ptime),
		Ports: filePorts{
			SIP:   fileRange{c.Ports.SIP.Min, c.Ports.SIP.Max},
			Media: fileRange{c.Ports.Media.Min, c.Ports.Media.Max},
		},
		NAT: fileNAT{
			STUNServers:     c.NAT.STUNServers,
			TURN:            fileTURN(c.NAT.TURN),
			StaticExternal:  c.NAT.StaticExternal,
			Strategies:      c.NAT.Strategies,
			Keepalive:       formatDuration(c.NAT.Keepalive),
			EarlyUDP:        c.NAT.EarlyUDP,
			BindingLifetime: formatDuration(c.NAT.BindingLifetime),
			ChangeCheck:     formatDuration(c.NAT.ChangeCheck),
			MediaTimeout:    formatDuration(c.NAT.MediaTimeout),
			UPnP:            c.NAT.UPnP,
			ICE:             c.NAT.ICE,
		},
		Audio: fileAudio(c.Audio),
		DialPlan: fileDialPlan{
			Timeout:    formatDuration(c.DialPlan.Timeout),
			Terminator: c.DialPlan.Terminator,
			MaxDigits:  c.DialPlan.MaxDigits,
		},
		Board:        c.Board,
		BoardOptions: c.BoardOptions,
		API:          fileAPI(c.API),
		Log:          fileLog{Level: c.Log.Level, Format: c.Log.Format, Syslog: fileSyslog(c.Log.Syslog)},
		SIP: fileSIP{
			AcceptFrom:   c.SIP.AcceptFrom,
			Allow:        c.SIP.Allow,
			RingTimeout:  formatDuration(c.SIP.RingTimeout),
			DNSServers:   c.SIP.DNSServers,
			FailoverHold: formatDuration(c.SIP.FailoverHold),
		},
		History:     fileHistory(c.History),
		Phonebook:   filePhonebook(c.Phonebook),
		MemoryLimit: formatSize(c.MemoryLimit),
		Calls:       fileCalls(c.Calls),
		Web:         fileWeb(c.Web),
		BLF:         marshalBLF(c.BLF),
	}
	f.Provision, f.Firmware = marshalProvision(c.Provision, c.Firmware)
	if f.SIP.Allow == nil {
		f.SIP.Allow = []string{}
	}
	if f.SIP.DNSServers == nil {
		f.SIP.DNSServers = []string{}
	}
	// Empty lists are written as [] rather than left out, because an
	// absent key would mean the default.
	f.Accounts = []fileAccount{}
	for _, a := range c.Accounts {
		f.Accounts = append(f.Accounts, fileAccount{
			User: a.User, AuthUser: a.AuthUser, Password: a.Password,
			DisplayName: a.DisplayName, Domain: a.Domain, Registrar: a.Registrar,
			OutboundProxy: a.OutboundProxy, Transport: a.Transport,
			Expires: formatDuration(a.Expires), TLSCAFile: a.TLSCAFile, Enabled: a.Enabled,
			TLSCertFile: a.TLSCertFile, TLSKeyFile: a.TLSKeyFile, Codecs: a.Codecs,
			DND: a.DND, DNDCode: a.DNDCode, ForwardAlways: a.ForwardAlways, ForwardBusy: a.ForwardBusy,
			ForwardNoAnswer: a.ForwardNoAnswer, ForwardNoAnswerAfter: formatDuration(a.ForwardNoAnswerAfter),
			Mailbox: a.Mailbox, SubscribeMWI: a.SubscribeMWI,
			SRTP: a.SRTP, SRTPOverInsecure: a.SRTPOverInsecure, SRTPKeying: a.SRTPKeying,
			BLFList: a.BLFList, SRTPSuites: a.SRTPSuites,
		})
	}
	out, err := yaml.Marshal(&f)
	if err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return out, nil
}

// Save validates c and writes it to path atomically (see
// atomicfile.Write) with mode 0600, since it holds passwords. An invalid
// Config is not written.
func Save(path string, c *Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

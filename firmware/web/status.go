package web

import (
	"encoding/json"
	"errors"
	"fmt"
)

// statusView is the part of the status document (GET /api/status) the
// pages show. It is decoded from the document's JSON, so the page reads
// exactly what the API answers; Go's decoder matches keys regardless of
// case, so "State" and "state" both fill State.
type statusView struct {
	Version      string     `json:"version"`
	Board        string     `json:"board"`
	UptimeS      float64    `json:"uptime_s"`
	Phone        phoneView  `json:"phone"`
	Registration regView    `json:"registration"`
	Lines        []lineView `json:"lines"`
	NAT          *natView   `json:"nat"`
	Calls        []callView `json:"calls"`
	Transport    struct {
		State     string `json:"state"`
		Restarts  int    `json:"restarts"`
		LastError string `json:"last_error"`
	} `json:"sip_transport"`
	// Provision is zero-touch provisioning (docs/provisioning.md).
	Provision *struct {
		State, URL, Source, Error, Firmware string
	} `json:"provision"`
}

type phoneView struct {
	State       string     `json:"state"`
	Remote      string     `json:"remote"`
	Muted       bool       `json:"muted"`
	Volume      int        `json:"volume"`
	Route       string     `json:"route"`
	MissedCalls int        `json:"missed_calls"`
	Lines       []lineView `json:"lines"`
	Lamps       []struct {
		Key, State string
	} `json:"lamps"`
}

type regView struct {
	State   string `json:"state"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Contact string `json:"contact"`
	// Why is a failure in words a person acts on (status schema 2).
	Why string `json:"why"`
}

// lineView is a line as the status document lists it (phone.lines, or
// a top-level lines list with each line's registration).
type lineView struct {
	Line         int      `json:"line"`
	Account      string   `json:"account"`
	Registration *regView `json:"registration"`
	DND          bool     `json:"dnd"`
	Forward      struct {
		Always   string `json:"always"`
		Busy     string `json:"busy"`
		NoAnswer string `json:"no_answer"`
	} `json:"forward"`
}

type natView struct {
	Type          string  `json:"type"`
	ExternalSIP   string  `json:"external_sip"`
	Strategy      string  `json:"strategy"`
	MediaStrategy string  `json:"media_strategy"`
	GatewayFound  bool    `json:"gateway_found"`
	Gateway       string  `json:"gateway"`
	ALGSeen       bool    `json:"alg_seen"`
	ALGDetail     string  `json:"alg_detail"`
	STUNServer    string  `json:"stun_server"`
	Error         string  `json:"error"`
	Keepalive     float64 `json:"keepalive_s"`
	Lifetime      float64 `json:"binding_lifetime_s"`
}

type callView struct {
	ID        string  `json:"id"`
	Line      int     `json:"line"`
	Direction string  `json:"direction"`
	State     string  `json:"state"`
	Remote    string  `json:"remote"`
	Codec     string  `json:"codec"`
	Duration  float64 `json:"duration_s"`
	RTP       struct {
		Sent     uint64  `json:"sent"`
		Received uint64  `json:"received"`
		Lost     int64   `json:"lost"`
		JitterMS float64 `json:"jitter_ms"`
		Remote   string  `json:"remote"`
	} `json:"rtp"`
}

// Quality rates a call's audio from its RTP counters: "good" (loss under
// 1 %, jitter under 30 ms), "fair" (under 5 % and 60 ms), "poor", or
// "no audio" when nothing was received yet.
func (c callView) Quality() string {
	r := c.RTP
	if r.Received == 0 {
		return "no audio"
	}
	loss := 0.0
	if r.Lost > 0 {
		loss = float64(r.Lost) / float64(int64(r.Received)+r.Lost) * 100
	}
	switch {
	case loss < 1 && r.JitterMS < 30:
		return "good"
	case loss < 5 && r.JitterMS < 60:
		return "fair"
	}
	return "poor"
}

// LossPct is the share of packets lost, in percent.
func (c callView) LossPct() string {
	r := c.RTP
	if r.Lost <= 0 || r.Received == 0 {
		return "0.0"
	}
	return fmt.Sprintf("%.1f", float64(r.Lost)/float64(int64(r.Received)+r.Lost)*100)
}

// readStatus decodes the status document through its JSON.
func readStatus(doc any) (*statusView, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("web: status: %w", err)
	}
	var v statusView
	if err := json.Unmarshal(b, &v); err != nil {
		// A field whose type changed is left empty; the rest is shown.
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); !ok {
			return nil, fmt.Errorf("web: status: %w", err)
		}
	}
	if len(v.Lines) == 0 {
		v.Lines = v.Phone.Lines
	}
	return &v, nil
}

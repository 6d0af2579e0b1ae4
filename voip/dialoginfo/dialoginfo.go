package dialoginfo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MediaType is the Content-Type of a dialog-info body.
const MediaType = "application/dialog-info+xml"

// Namespace is the XML namespace of RFC 4235 §4.
const Namespace = "urn:ietf:params:xml:ns:dialog-info"

// Limits on what Parse accepts.
const (
	// MaxSize is the largest body Parse reads.
	MaxSize = 64 << 10
	// MaxDialogs is the most dialogs one document may list.
	MaxDialogs = 64
	// maxDepth bounds element nesting (the schema needs five levels).
	maxDepth = 16
	// maxTokens bounds the XML tokens of one document.
	maxTokens = 16384
)

// utf8BOM is a byte order mark some servers put before the document.
var utf8BOM = []byte("\xef\xbb\xbf")

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("dialoginfo: bad dialog-info document")

// Dialog states (RFC 4235 §3.7.1).
const (
	Trying     = "trying"
	Proceeding = "proceeding"
	Early      = "early"
	Confirmed  = "confirmed"
	Terminated = "terminated"
)

// Directions (RFC 4235 §4.1.2).
const (
	Initiator = "initiator"
	Recipient = "recipient"
)

// Info is a parsed dialog-info document.
type Info struct {
	// Version counts the documents of one subscription, from 0.
	Version uint32
	// Full is true for state="full", false for "partial".
	Full bool
	// Entity is the URI of the watched user.
	Entity string
	// Dialogs are the dialogs the document lists.
	Dialogs []Dialog
}

// Dialog is one dialog of the watched user, seen from that user's side:
// LocalTag is the watched user's tag, RemoteTag its peer's.
type Dialog struct {
	ID        string
	CallID    string
	LocalTag  string
	RemoteTag string
	// Direction is Initiator, Recipient or empty when not reported.
	Direction string
	// State is one of Trying ... Terminated.
	State string
	// Event and Code are the state element's event and code attributes
	// (why a dialog ended: "rejected", "replaced", "remote-bye", ...).
	Event string
	Code  int
	// Local and Remote are the watched user and its peer.
	Local, Remote Participant
}

// Participant is one end of a dialog (RFC 4235 §4.1.6).
type Participant struct {
	// Identity is the identity URI and Display its display name.
	Identity, Display string
	// Target is the contact (target URI).
	Target string
}

// Replaces is the value of a Replaces header (RFC 3891 §6.1) that takes
// this dialog over from the watched user's side: an INVITE with it sent
// to the watched user's UA picks its ringing call up. ok is false when
// the document did not give the call-id and both tags.
func (d Dialog) Replaces() (value string, ok bool) {
	if d.CallID == "" || d.LocalTag == "" || d.RemoteTag == "" {
		return "", false
	}
	v := d.CallID + ";to-tag=" + d.LocalTag + ";from-tag=" + d.RemoteTag
	if d.State == Early {
		v += ";early-only"
	}
	return v, true
}

// ---- the XML shape (RFC 4235 §4) ----------------------------------------------

type xmlInfo struct {
	XMLName xml.Name    `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
	Version *string     `xml:"version,attr"`
	State   string      `xml:"state,attr"`
	Entity  string      `xml:"entity,attr"`
	Dialogs []xmlDialog `xml:"urn:ietf:params:xml:ns:dialog-info dialog"`
}

type xmlDialog struct {
	ID        string   `xml:"id,attr"`
	CallID    string   `xml:"call-id,attr"`
	LocalTag  string   `xml:"local-tag,attr"`
	RemoteTag string   `xml:"remote-tag,attr"`
	Direction string   `xml:"direction,attr"`
	State     xmlState `xml:"urn:ietf:params:xml:ns:dialog-info state"`
	Local     *xmlPart `xml:"urn:ietf:params:xml:ns:dialog-info local"`
	Remote    *xmlPart `xml:"urn:ietf:params:xml:ns:dialog-info remote"`
}

type xmlState struct {
	Event string `xml:"event,attr"`
	Code  string `xml:"code,attr"`
	Value string `xml:",chardata"`
}

type xmlPart struct {
	Identity *struct {
		Display string `xml:"display,attr"`
		URI     string `xml:",chardata"`
	} `xml:"urn:ietf:params:xml:ns:dialog-info identity"`
	Target *struct {
		URI string `xml:"uri,attr"`
	} `xml:"urn:ietf:params:xml:ns:dialog-info target"`
}

// Parse reads a dialog-info document.
func Parse(body []byte) (*Info, error) {
	if len(body) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrSyntax, len(body), MaxSize)
	}
	body = bytes.TrimPrefix(body, utf8BOM)
	if err := precheck(body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	var x xmlInfo
	d := newDecoder(body)
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	info := &Info{Entity: strings.TrimSpace(x.Entity)}
	if x.Version == nil {
		return nil, fmt.Errorf("%w: no version", ErrSyntax)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(*x.Version), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: version %q", ErrSyntax, *x.Version)
	}
	info.Version = uint32(v)
	switch strings.TrimSpace(x.State) {
	case "full":
		info.Full = true
	case "partial":
	default:
		return nil, fmt.Errorf("%w: state %q (want full or partial)", ErrSyntax, x.State)
	}
	if info.Entity == "" {
		return nil, fmt.Errorf("%w: no entity", ErrSyntax)
	}
	if len(x.Dialogs) > MaxDialogs {
		return nil, fmt.Errorf("%w: %d dialogs (limit %d)", ErrSyntax, len(x.Dialogs), MaxDialogs)
	}
	seen := map[string]bool{}
	for i, xd := range x.Dialogs {
		dl, err := xd.dialog()
		if err != nil {
			return nil, fmt.Errorf("%w: dialog %d: %w", ErrSyntax, i+1, err)
		}
		if seen[dl.ID] {
			return nil, fmt.Errorf("%w: dialog id %q repeated", ErrSyntax, dl.ID)
		}
		seen[dl.ID] = true
		info.Dialogs = append(info.Dialogs, dl)
	}
	return info, nil
}

func (xd xmlDialog) dialog() (Dialog, error) {
	d := Dialog{
		ID:        strings.TrimSpace(xd.ID),
		CallID:    strings.TrimSpace(xd.CallID),
		LocalTag:  strings.TrimSpace(xd.LocalTag),
		RemoteTag: strings.TrimSpace(xd.RemoteTag),
		Direction: strings.TrimSpace(xd.Direction),
		State:     strings.TrimSpace(xd.State.Value),
		Event:     strings.TrimSpace(xd.State.Event),
	}
	if d.ID == "" {
		return d, errors.New("no id")
	}
	switch d.State {
	case Trying, Proceeding, Early, Confirmed, Terminated:
	case "":
		return d, errors.New("no state")
	default:
		return d, fmt.Errorf("state %q", d.State)
	}
	switch d.Direction {
	case "", Initiator, Recipient:
	default:
		return d, fmt.Errorf("direction %q", d.Direction)
	}
	if c := strings.TrimSpace(xd.State.Code); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 100 || n > 699 {
			return d, fmt.Errorf("state code %q", c)
		}
		d.Code = n
	}
	d.Local = xd.Local.participant()
	d.Remote = xd.Remote.participant()
	for _, s := range []string{d.ID, d.CallID, d.LocalTag, d.RemoteTag, d.Local.Identity, d.Remote.Identity, d.Local.Target, d.Remote.Target} {
		if strings.ContainsAny(s, "\r\n") {
			return d, errors.New("line break in an identifier")
		}
	}
	return d, nil
}

func (p *xmlPart) participant() Participant {
	var out Participant
	if p == nil {
		return out
	}
	if p.Identity != nil {
		out.Identity = strings.TrimSpace(p.Identity.URI)
		out.Display = strings.TrimSpace(p.Identity.Display)
	}
	if p.Target != nil {
		out.Target = strings.TrimSpace(p.Target.URI)
	}
	return out
}

func newDecoder(body []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	// Only the predefined entities; no charset conversion (UTF-8 only).
	d.Entity = nil
	d.CharsetReader = nil
	return d
}

// precheck walks the tokens once: it refuses DOCTYPE (and so every
// entity definition), nesting deeper than maxDepth, too many tokens, and
// any content after the root element.
func precheck(body []byte) error {
	d := newDecoder(body)
	depth, tokens, roots := 0, 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		tokens++
		if tokens > maxTokens {
			return fmt.Errorf("more than %d XML tokens", maxTokens)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("DOCTYPE and other directives are not allowed")
		case xml.ProcInst:
			if t.Target == "xml" && !validDecl(string(t.Inst)) {
				return errors.New("XML declaration names an encoding other than UTF-8")
			}
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return errors.New("more than one root element")
				}
			}
			depth++
			if depth > maxDepth {
				return fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text outside the root element")
			}
		}
	}
	if roots == 0 {
		return errors.New("no root element")
	}
	return nil
}

// validDecl accepts an XML declaration without encoding or with UTF-8.
func validDecl(inst string) bool {
	i := strings.Index(inst, "encoding")
	if i < 0 {
		return true
	}
	v := strings.ToLower(inst[i:])
	return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
}

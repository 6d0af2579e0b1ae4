package dialoginfo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
)

// Resource lists (RFC 4662): one subscription to a list URI brings the
// state of every user on the list, as a multipart/related body whose
// root part is an RLMI document naming the resources, and whose other
// parts are the resources' dialog-info documents, referred to by
// Content-ID:
//
//	Content-Type: multipart/related;type="application/rlmi+xml";
//	    start="<root@pbx>";boundary="b1"
//
//	--b1
//	Content-ID: <root@pbx>
//	Content-Type: application/rlmi+xml
//
//	<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="sip:blf@pbx"
//	      version="1" fullState="true">
//	  <resource uri="sip:bob@pbx">
//	    <instance id="i1" state="active" cid="bob@pbx"/>
//	  </resource>
//	</list>
//	--b1
//	Content-ID: <bob@pbx>
//	Content-Type: application/dialog-info+xml
//
//	<dialog-info ...>
//	--b1--

// Media types of resource lists (RFC 4662 §5).
const (
	MultipartRelated = "multipart/related"
	RLMIType         = "application/rlmi+xml"
	// RLMINamespace is the namespace of the RLMI document.
	RLMINamespace = "urn:ietf:params:xml:ns:rlmi"
)

// Limits on what ParseList accepts.
const (
	// MaxListSize is the largest list body read.
	MaxListSize = 512 << 10
	// MaxResources is the most resources one list document may name.
	MaxResources = 128
)

// List is a parsed RFC 4662 list NOTIFY body.
type List struct {
	// URI is the list's URI; Version counts the list documents from 0;
	// Full is fullState="true".
	URI     string
	Version uint32
	Full    bool
	// Resources are the resources the document names, in order.
	Resources []Resource
}

// Resource is one entry of a list.
type Resource struct {
	URI  string
	Name string
	// State is the state of the resource's subscription instance:
	// "active", "pending", "terminated", or "" when the server named
	// the resource without an instance. Reason is the terminated reason.
	State, Reason string
	// Info is the dialog-info the body carried for the resource, nil
	// when it carried none (no change, or not yet known).
	Info *Info
}

type xmlList struct {
	XMLName   xml.Name      `xml:"urn:ietf:params:xml:ns:rlmi list"`
	URI       string        `xml:"uri,attr"`
	Version   *string       `xml:"version,attr"`
	FullState string        `xml:"fullState,attr"`
	Resources []xmlResource `xml:"urn:ietf:params:xml:ns:rlmi resource"`
}

type xmlResource struct {
	URI       string        `xml:"uri,attr"`
	Names     []string      `xml:"urn:ietf:params:xml:ns:rlmi name"`
	Instances []xmlInstance `xml:"urn:ietf:params:xml:ns:rlmi instance"`
}

type xmlInstance struct {
	ID     string `xml:"id,attr"`
	State  string `xml:"state,attr"`
	Reason string `xml:"reason,attr"`
	CID    string `xml:"cid,attr"`
}

// ParseList reads a multipart/related list body; contentType is the
// whole Content-Type header value (it holds the boundary). The root part
// (start, else the first) must be RLMI; resource parts of a type other
// than dialog-info (nested lists, other packages) are skipped; a
// dialog-info part that does not parse, a missing boundary, too many
// parts or resources, or broken RLMI are errors.
func ParseList(contentType string, body []byte) (*List, error) {
	if len(body) > MaxListSize {
		return nil, fmt.Errorf("%w: list of %d bytes (limit %d)", ErrSyntax, len(body), MaxListSize)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != MultipartRelated {
		return nil, fmt.Errorf("%w: Content-Type %q is not multipart/related", ErrSyntax, contentType)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, fmt.Errorf("%w: multipart without boundary", ErrSyntax)
	}
	start := strings.Trim(params["start"], "<>")
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	parts := map[string]part{}
	var root *part
	for n := 0; ; n++ {
		if n > MaxResources+1 {
			return nil, fmt.Errorf("%w: more than %d parts", ErrSyntax, MaxResources+1)
		}
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: multipart: %w", ErrSyntax, err)
		}
		b, err := io.ReadAll(io.LimitReader(p, MaxSize+1))
		if err != nil {
			return nil, fmt.Errorf("%w: multipart: %w", ErrSyntax, err)
		}
		if len(b) > MaxSize {
			return nil, fmt.Errorf("%w: part larger than %d bytes", ErrSyntax, MaxSize)
		}
		pt := part{header: p.Header, body: b}
		cid := strings.Trim(strings.TrimSpace(p.Header.Get("Content-Id")), "<>")
		if cid != "" {
			if _, dup := parts[cid]; dup {
				return nil, fmt.Errorf("%w: Content-ID %q repeated", ErrSyntax, cid)
			}
			parts[cid] = pt
		}
		if root == nil && (start == "" || cid == start) {
			r := pt
			root = &r
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root part", ErrSyntax)
	}
	if t := partType(root.header); t != RLMIType {
		return nil, fmt.Errorf("%w: root part is %q, not RLMI", ErrSyntax, t)
	}
	l, err := parseRLMI(root.body)
	if err != nil {
		return nil, err
	}
	for i := range l.Resources {
		r := &l.Resources[i]
		if r.cid == "" {
			continue
		}
		pt, ok := parts[r.cid]
		if !ok || partType(pt.header) != MediaType {
			continue
		}
		info, err := Parse(pt.body)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", r.URI, err)
		}
		r.Info = info
	}
	out := &List{URI: l.URI, Version: l.Version, Full: l.Full}
	for _, r := range l.Resources {
		out.Resources = append(out.Resources, r.Resource)
	}
	return out, nil
}

type part struct {
	header textproto.MIMEHeader
	body   []byte
}

func partType(h textproto.MIMEHeader) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

type rlmiResource struct {
	Resource
	cid string
}

type rlmiList struct {
	URI       string
	Version   uint32
	Full      bool
	Resources []rlmiResource
}

func parseRLMI(body []byte) (*rlmiList, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if err := precheck(body); err != nil {
		return nil, fmt.Errorf("%w: RLMI: %w", ErrSyntax, err)
	}
	var x xmlList
	if err := newDecoder(body).Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: RLMI: %w", ErrSyntax, err)
	}
	l := &rlmiList{URI: strings.TrimSpace(x.URI)}
	if l.URI == "" || x.Version == nil {
		return nil, fmt.Errorf("%w: RLMI without uri or version", ErrSyntax)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(*x.Version), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: RLMI version %q", ErrSyntax, *x.Version)
	}
	l.Version = uint32(v)
	switch strings.TrimSpace(x.FullState) {
	case "true", "1":
		l.Full = true
	case "false", "0":
	default:
		return nil, fmt.Errorf("%w: RLMI fullState %q", ErrSyntax, x.FullState)
	}
	if len(x.Resources) > MaxResources {
		return nil, fmt.Errorf("%w: %d resources (limit %d)", ErrSyntax, len(x.Resources), MaxResources)
	}
	for _, xr := range x.Resources {
		r := rlmiResource{Resource: Resource{URI: strings.TrimSpace(xr.URI)}}
		if r.URI == "" {
			return nil, fmt.Errorf("%w: RLMI resource without uri", ErrSyntax)
		}
		if len(xr.Names) > 0 {
			r.Name = strings.TrimSpace(xr.Names[0])
		}
		// One instance per resource is what a phone's list has; the
		// first is taken.
		if len(xr.Instances) > 0 {
			in := xr.Instances[0]
			switch in.State {
			case "active", "pending", "terminated":
			default:
				return nil, fmt.Errorf("%w: RLMI instance state %q", ErrSyntax, in.State)
			}
			r.State, r.Reason = in.State, strings.TrimSpace(in.Reason)
			r.cid = strings.Trim(strings.TrimSpace(in.CID), "<>")
		}
		l.Resources = append(l.Resources, r)
	}
	return l, nil
}

// ResourceState is the lamp state of one resource of a list after a
// NOTIFY.
type ResourceState struct {
	URI, Name string
	// State is the lamp state (LampState of Dialogs).
	State   string
	Dialogs []Dialog
}

// ListTracker keeps the dialog state of every resource of one list
// subscription. The zero value is ready; it is not safe for concurrent
// use.
type ListTracker struct {
	have    bool
	version uint32
	res     map[string]*Tracker
}

// Reset forgets everything (a new subscription).
func (t *ListTracker) Reset() { *t = ListTracker{} }

// Apply applies a list document and returns the resources whose
// dialog-info it carried, with their new state. needFull is true when
// the list (partial, version out of sequence: nothing applied) or a
// resource's dialog-info (that resource skipped) lost an update: the
// subscriber should refresh for full state. A full document forgets the
// resources it no longer names; a terminated instance forgets its state.
func (t *ListTracker) Apply(l *List) (changed []ResourceState, needFull bool) {
	if !l.Full && (!t.have || l.Version != t.version+1) {
		return nil, true
	}
	if t.res == nil {
		t.res = map[string]*Tracker{}
	}
	if l.Full {
		named := map[string]bool{}
		for _, r := range l.Resources {
			named[r.URI] = true
		}
		for uri := range t.res {
			if !named[uri] {
				delete(t.res, uri)
			}
		}
	}
	for _, r := range l.Resources {
		tr := t.res[r.URI]
		if tr == nil {
			tr = &Tracker{}
			t.res[r.URI] = tr
		}
		if r.State == "terminated" {
			tr.Reset()
			continue
		}
		if r.Info == nil {
			continue
		}
		if err := tr.Apply(r.Info); err != nil {
			needFull = true
			continue
		}
		changed = append(changed, ResourceState{URI: r.URI, Name: r.Name, State: tr.State(), Dialogs: tr.Dialogs()})
	}
	t.have, t.version = true, l.Version
	return changed, needFull
}

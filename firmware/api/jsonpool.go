package api

import (
	"bytes"
	"encoding/json"
	"sync"
)

// jsonOut is a reusable buffer and indenting encoder for writeJSON.
// A json.Encoder made per response allocated its indentation buffer
// afresh each time, growing it by doubling: about 8 of the 13 kB of
// garbage each GET /api/status left (a heap profile over 100 requests,
// docs/performance.md), which a page that polls the status turned into
// resident heap between collections.
type jsonOut struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledJSON bounds the responses whose buffers are kept for reuse:
// a rare large one (the history, the phonebook) is left to the
// collector rather than held.
const maxPooledJSON = 64 << 10

var jsonOuts = sync.Pool{New: func() any {
	o := new(jsonOut)
	o.enc = json.NewEncoder(&o.buf)
	o.enc.SetIndent("", "  ")
	return o
}}

// encodeJSON returns v encoded as writeJSON sends it (indented, with a
// final newline) in a pooled buffer, and the function that gives the
// buffer back; the bytes are valid until then.
func encodeJSON(v any) ([]byte, func(), error) {
	o := jsonOuts.Get().(*jsonOut)
	o.buf.Reset()
	err := o.enc.Encode(v)
	return o.buf.Bytes(), func() {
		if o.buf.Cap() <= maxPooledJSON {
			jsonOuts.Put(o)
		}
	}, err
}

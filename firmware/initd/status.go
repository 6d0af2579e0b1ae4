package initd

import (
	"encoding/json"
	"io"
	"net/http"
)

// jsonDecode decodes a response body of at most 1 MiB.
func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

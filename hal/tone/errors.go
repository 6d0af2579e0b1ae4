package tone

import "errors"

// ErrUnknownCountry is returned by PresetFor for a country it has no tone
// plan for.
var ErrUnknownCountry = errors.New("tone: unknown country")

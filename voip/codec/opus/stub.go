//go:build !(cgo && opus)

package opus

// Available reports whether this build has libopus: it has not (built
// without cgo or without the "opus" tag).
const Available = false

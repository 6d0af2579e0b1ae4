// Package version holds the firmware version, set at link time with
// -ldflags "-X github.com/deskphone/phone/firmware/version.Version=...".
package version

// Version is the firmware version; "dev" for an unversioned build.
var Version = "dev"

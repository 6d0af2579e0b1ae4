package initd

import "github.com/deskphone/phone/firmware/initd/boot"

// PID 1's own files (the boot stage's paths are in package boot).
const (
	// ConfigDir holds the device's own files on the data partition: the
	// phone's config, the device token, system settings. A factory reset
	// removes it.
	ConfigDir = boot.DataDir + "/deskphone"
	// PublicKeyPath is the update key baked into the root slot.
	PublicKeyPath = "/etc/deskphone/update.pub"
)

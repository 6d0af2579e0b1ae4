package provision

import "errors"

var (
	// ErrNoServer means no provisioning server is known (no
	// provision.url, nothing from DHCP).
	ErrNoServer = errors.New("provision: no server URL")
	// ErrNoFiles means the server had neither phone.yaml nor <mac>.yaml.
	ErrNoFiles = errors.New("provision: neither the common nor the phone's file exists")
	// ErrHTTP means the server answered a status other than 200, 304 or
	// 404.
	ErrHTTP = errors.New("provision: unexpected HTTP status")
	// ErrTooLarge means a file was larger than config.MaxFileSize.
	ErrTooLarge = errors.New("provision: file too large")
	// ErrAuth means the server refused the request (401, 403): no
	// credentials configured, wrong ones, or a challenge this client
	// cannot answer.
	ErrAuth = errors.New("provision: authentication failed")
	// ErrRolledBack means the provisioned firmware version was tried on
	// this phone and rolled back; it is not installed again.
	ErrRolledBack = errors.New("provision: firmware version was rolled back on this phone")
	// ErrRefused means the update agent refused a bundle (bad signature,
	// another board, an older version, a trial pending).
	ErrRefused = errors.New("provision: update agent refused the firmware")
)

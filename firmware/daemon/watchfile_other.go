//go:build !linux

package daemon

import "errors"

// watchFile needs inotify: elsewhere the caller polls.
func watchFile(path string, changed func()) (stop func(), err error) {
	return nil, errors.New("watching a file needs Linux")
}

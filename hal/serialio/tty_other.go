//go:build !linux

package serialio

import (
	"fmt"
	"io"
	"os"
)

// OpenTTY opens a serial device. Outside Linux it is opened as it is,
// without switching it to raw mode.
func OpenTTY(path string) (io.ReadWriteCloser, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("serialio: %w", err)
	}
	return f, nil
}

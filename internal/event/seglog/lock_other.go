//go:build !unix

package seglog

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// lockDir creates dir/LOCK but takes no lock: file locking is only
// implemented on unix.
func lockDir(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}

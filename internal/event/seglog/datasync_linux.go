package seglog

import "syscall"

// datasync flushes f's data and the metadata needed to read it back (such
// as its size) with fdatasync(2), which skips timestamps. Files that do not
// expose a descriptor get Sync.
func datasync(f File) error {
	c, ok := f.(syscall.Conn)
	if !ok {
		return f.Sync()
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return f.Sync()
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

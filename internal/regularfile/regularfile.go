// Package regularfile opens and reads the files the commands are given
// (datasets, checkpoints) only when they are regular files, or links to
// one: opening a named pipe blocks until something writes to it, and a
// device such as /dev/zero reads without end.
package regularfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the errors for a file that is not a regular
// file (after following symbolic links): a named pipe, a device, a socket
// or a directory.
var ErrNotRegular = errors.New("not a regular file")

// Open opens the file at p for reading, following symbolic links, and
// refuses anything but a regular file (ErrNotRegular). It looks before it
// opens, so that a named pipe is refused rather than waited on, and checks
// what it opened again, in case p changed in between.
func Open(p string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, NotRegular(p, st.Mode())
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, NotRegular(p, st.Mode())
	}
	return f, st, nil
}

// Read reads the regular file at p whole (see Open), once check, when not
// nil, has accepted its size: no more than that size is read, whatever is
// appended to the file meanwhile.
func Read(p string, check func(size int64) error) ([]byte, error) {
	f, st, err := Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if check != nil {
		if err := check(st.Size()); err != nil {
			return nil, err
		}
	}
	b := make([]byte, st.Size())
	if n, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%s: read %d of %d bytes: %w", p, n, len(b), err)
	}
	return b, nil
}

// NotRegular is the error for p, which is of mode m (after following
// symbolic links) and not a regular file: it says what p is instead.
func NotRegular(p string, m fs.FileMode) error {
	what := "a special file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	}
	if lst, err := os.Lstat(p); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
		what = "a symbolic link to " + what
	}
	return fmt.Errorf("%s is %s, %w", p, what, ErrNotRegular)
}

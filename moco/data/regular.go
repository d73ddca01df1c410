package data

import "github.com/mocogo/mocogo/internal/regularfile"

// ErrNotRegular is wrapped by the errors for a dataset file that is not a
// regular file (after following symbolic links): a named pipe, a device, a
// socket or a directory. The readers refuse them (internal/regularfile):
// opening a named pipe blocks until something writes to it, and a device
// such as /dev/zero reads without end.
var ErrNotRegular = regularfile.ErrNotRegular

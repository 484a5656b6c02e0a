// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"io/fs"
	"os"
	"strconv"
)

// Error is a rill error.  Its values are the C library's RILL_E* codes
// (positive), so a Go program and a C program report the same number for the
// same condition; Error() gives the same text as rill_strerror().
//
// Errors are returned as these values, so they compare with ==:
//
//	if err == rill.ErrAgain { ... }
//
// except one: a region or channel that does not exist (ErrNoEnt), or a
// region directory that does not exist (ErrNoDir), comes as a
// *NotExistError, which names it.  Test for those with errors.Is.
// errors.Is matches every error, wrapped or not, and also matches the
// standard library's errors for the same conditions, so that code written
// for files and deadlines works unchanged:
//
//	ErrNoEnt, ErrNoDir  are  fs.ErrNotExist (no such region, channel, service or directory)
//	ErrExist            is   fs.ErrExist
//	ErrAccess           is   fs.ErrPermission
//	ErrTimedOut         is   os.ErrDeadlineExceeded
//
// and ErrServerDead and ErrServerLeft, what a Client says when its server
// died or stopped, match ErrDead and ErrClosed (what it said before 0.3):
//
//	if errors.Is(err, rill.ErrDead) { ... }  // also a dead server
//
//	if errors.Is(err, fs.ErrNotExist) { ... create the region ... }
type Error int

// The errors, one per RILL_E* code of the C library (ErrAgain is
// RILL_EAGAIN, and so on).
const (
	ErrAgain    Error = 1  // nothing to read yet, or no credit to publish now
	ErrOverrun  Error = 2  // the consumer was lapped; View.Lost says how many
	ErrInval    Error = 3  // bad argument (name, size, option)
	ErrNoMem    Error = 4  // out of process memory
	ErrNoEnt    Error = 5  // no such region, channel or service
	ErrExist    Error = 6  // region or channel already exists
	ErrAccess   Error = 7  // permission denied on the region file
	ErrNoDir    Error = 8  // the region directory does not exist
	ErrNoSpace  Error = 9  // not enough space in the file system or region
	ErrBusy     Error = 10 // a live producer owns the channel / the slot is live
	ErrFull     Error = 11 // every consumer slot of the channel is taken
	ErrEmpty    Error = 12 // region file has length zero
	ErrTrunc    Error = 13 // region file shorter than its header says
	ErrMagic    Error = 14 // not a rill region or object (wrong magic)
	ErrVersion  Error = 15 // rill layout version not supported
	ErrCorrupt  Error = 16 // header, table or descriptor fields out of range
	ErrMsgSize  Error = 17 // message larger than the channel allows, or the buffer
	ErrTimedOut Error = 18 // a wait ran out of time
	ErrIO       Error = 19 // an unexpected operating-system error
	ErrClosed   Error = 20 // the producer left the channel; everything was read
	ErrDead     Error = 21 // the producer died; everything it published was read
)

// The errors of request/response (Client, Serve), since 0.3: RILL_ESRVDEAD,
// RILL_ESRVLEFT, RILL_ENOMETHOD, RILL_EWORKERS.
const (
	ErrServerDead Error = 22 // the server died; the calls in flight are lost
	ErrServerLeft Error = 23 // the server stopped; the calls in flight are lost
	ErrNoMethod   Error = 24 // the server has no such method (a handler's status)
	ErrWorkers    Error = 25 // more server workers than the service has lanes
)

// ErrNoHuge (RILL_ENOHUGE, since 0.4) is the error of RegionOpts.Huge: no
// huge pages for the region, its directory not on hugetlbfs or too few
// huge pages free.
const ErrNoHuge Error = 26

const errMax Error = 27 // one past the last error

var errText = [errMax]string{
	0:           "success",
	ErrAgain:    "nothing to read yet, or no credit to publish now",
	ErrOverrun:  "consumer was overrun by the producer; messages were lost",
	ErrInval:    "invalid argument",
	ErrNoMem:    "out of memory",
	ErrNoEnt:    "no such region or channel",
	ErrExist:    "region or channel already exists",
	ErrAccess:   "permission denied",
	ErrNoDir:    "region directory does not exist",
	ErrNoSpace:  "not enough space (file system or region)",
	ErrBusy:     "in use by a live endpoint (the producer, or that consumer slot), or locked for too long",
	ErrFull:     "every consumer slot of the channel is taken",
	ErrEmpty:    "region file is empty",
	ErrTrunc:    "region file is shorter than its header says",
	ErrMagic:    "not a rill region or object (bad magic)",
	ErrVersion:  "unsupported rill layout version",
	ErrCorrupt:  "region or channel is corrupt (field out of range)",
	ErrMsgSize:  "message too large",
	ErrTimedOut: "timed out",
	ErrIO:       "unexpected operating-system error",
	ErrClosed:   "the producer left the channel",
	ErrDead:     "the producer died",

	ErrServerDead: "the request/response server died; the calls in flight are lost",
	ErrServerLeft: "the request/response server stopped; the calls in flight are lost",
	ErrNoMethod:   "the request/response server has no such method",
	ErrWorkers:    "more server workers than the service has lanes",

	ErrNoHuge: "no huge pages for the region: its directory is not a hugetlbfs mount, " +
		"or too few huge pages are free (vm.nr_hugepages)",
}

// Error is the error's text, as rill_strerror gives it, after "rill: ".
func (e Error) Error() string {
	if e <= 0 || e >= errMax {
		return "rill: unknown rill error"
	}
	return "rill: " + errText[e]
}

// Code is the C library's return value for this error (negative).
func (e Error) Code() int { return -int(e) }

// Is reports, for errors.Is, whether target is the standard library's error
// for e's condition: fs.ErrNotExist, fs.ErrExist, fs.ErrPermission or
// os.ErrDeadlineExceeded; or ErrDead for ErrServerDead and ErrClosed for
// ErrServerLeft (see Error).
func (e Error) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e == ErrNoEnt || e == ErrNoDir
	case fs.ErrExist:
		return e == ErrExist
	case fs.ErrPermission:
		return e == ErrAccess
	case os.ErrDeadlineExceeded:
		return e == ErrTimedOut
	case ErrDead:
		return e == ErrServerDead
	case ErrClosed:
		return e == ErrServerLeft
	}
	return false
}

// NotExistError is the error of a region or channel that does not exist,
// or of a region directory that does not exist: it names which, and where.
// It wraps Err (ErrNoEnt or ErrNoDir), so errors.Is(err, ErrNoEnt) and
// errors.Is(err, fs.ErrNotExist) match it:
//
//	rill: no such channel "quotes" in region "md" (/dev/shm)
type NotExistError struct {
	Err     Error  // ErrNoEnt or ErrNoDir
	Dir     string // the region directory
	Region  string // the region's name
	Channel string // the channel's name; "" when the region is missing
}

// Error names what is missing and where.
func (e *NotExistError) Error() string {
	switch {
	case e.Err == ErrNoDir:
		return "rill: region directory " + e.Dir + " does not exist (region " + strconv.Quote(e.Region) + ")"
	case e.Channel != "":
		return "rill: no such channel " + strconv.Quote(e.Channel) + " in region " +
			strconv.Quote(e.Region) + " (" + e.Dir + ")"
	}
	return "rill: no such region " + strconv.Quote(e.Region) + " in " + e.Dir
}

// Unwrap is Err, for errors.Is and errors.As.
func (e *NotExistError) Unwrap() error { return e.Err }

// notExist names dir, region and channel in err if it is ErrNoEnt or
// ErrNoDir; any other error is returned as it is.
func notExist(err error, dir, region, channel string) error {
	if e, ok := err.(Error); ok && (e == ErrNoEnt || e == ErrNoDir) {
		return &NotExistError{Err: e, Dir: dir, Region: region, Channel: channel}
	}
	return err
}

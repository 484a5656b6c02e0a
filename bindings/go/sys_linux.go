// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The few operating-system services rill uses (the C side's
// src/platform_linux.c): files, mappings, OFD locks, futexes, membarrier,
// FIFOs and clocks.  Every function returns nil or an Error.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func defaultDir() string {
	return "/dev/shm"
}

// errnoErr maps an errno to an Error, as rill__errno does.
func errnoErr(err error) Error {
	var e unix.Errno
	if !errors.As(err, &e) {
		return ErrIO
	}
	switch e {
	case unix.ENOENT:
		return ErrNoEnt
	case unix.EEXIST:
		return ErrExist
	case unix.EACCES, unix.EPERM, unix.EROFS:
		return ErrAccess
	case unix.ENOSPC, unix.EFBIG, unix.EDQUOT:
		return ErrNoSpace
	case unix.ENOMEM:
		return ErrNoMem
	case unix.ENAMETOOLONG, unix.EINVAL:
		return ErrInval
	case unix.ENOTDIR:
		return ErrNoDir
	}
	return ErrIO
}

// dirErr tells a missing directory apart from a missing file.
func dirErr(path string, err error) Error {
	if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
		return errnoErr(err)
	}
	var st unix.Stat_t
	if unix.Stat(filepath.Dir(path), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return ErrNoDir
	}
	return errnoErr(err)
}

// hugetlbfsMagic is hugetlbfs's f_type (linux/magic.h HUGETLBFS_MAGIC).
const hugetlbfsMagic = 0x958458f6

// fsPage is the size of the pages of the file system st, and whether they
// are huge pages: on hugetlbfs its block size, else the system's page
// size (as rill__file_page).
func fsPage(st *unix.Statfs_t) (uint64, bool) {
	sys := uint64(os.Getpagesize())
	if uint64(st.Type) == hugetlbfsMagic && st.Bsize > 0 && uint64(st.Bsize) > sys {
		return uint64(st.Bsize), true
	}
	return sys, false
}

// dirPage is the size of the pages of the files in dir, and whether they
// are huge pages (dir is on hugetlbfs).
func dirPage(dir string) (uint64, bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return 0, false, ErrNoDir
		}
		return 0, false, errnoErr(err)
	}
	page, huge := fsPage(&st)
	return page, huge, nil
}

// filePage is dirPage of the open file fd.
func filePage(fd int) (uint64, bool, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return 0, false, errnoErr(err)
	}
	page, huge := fsPage(&st)
	return page, huge, nil
}

func fileCreate(path string, size uint64, mode uint32) (int, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return -1, dirErr(path, err)
	}
	fail := func(e error) (int, error) {
		unix.Close(fd)
		unix.Unlink(path)
		return -1, e
	}
	// umask may have cleared bits of mode at open: set it exactly.
	if err := unix.Fchmod(fd, mode); err != nil {
		return fail(errnoErr(err))
	}
	var vfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &vfs); err != nil {
		return fail(errnoErr(err))
	}
	// hugetlbfs reports no free space unless mounted with a size limit: its
	// pool is checked below, by taking the pages.
	_, huge := fsPage(&vfs)
	if !huge && vfs.Frsize > 0 && vfs.Bavail < size/uint64(vfs.Frsize)+1 {
		return fail(ErrNoSpace)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail(errnoErr(err))
	}
	// Reserve every page now: running out of space is an error here, never
	// a SIGBUS on first touch later.  On hugetlbfs this takes the huge
	// pages from the pool (ENOSPC when it has too few), and nothing else
	// would before the first touch: no error is let pass there.
	err = unix.Fallocate(fd, 0, 0, int64(size))
	if huge && err != nil {
		if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.ENOMEM) {
			return fail(ErrNoHuge)
		}
		return fail(errnoErr(err))
	}
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) {
		return fail(errnoErr(err))
	}
	return fd, nil
}

// fileOpen opens path read-write, or read-only unless writable; size is
// its length now.
func fileOpen(path string, writable bool) (fd int, size uint64, err error) {
	flags := unix.O_RDONLY
	if writable {
		flags = unix.O_RDWR
	}
	// O_NONBLOCK: a FIFO (anyone can make one under a region's name)
	// opened read-only would wait for a writer for ever.  Cleared once the
	// file is known to be a regular file.
	fd, e := unix.Open(path, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if e != nil {
		return -1, 0, dirErr(path, e)
	}
	var st unix.Stat_t
	if e := unix.Fstat(fd, &st); e != nil {
		unix.Close(fd)
		return -1, 0, errnoErr(e)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, 0, ErrMagic
	}
	if e := unix.SetNonblock(fd, false); e != nil {
		unix.Close(fd)
		return -1, 0, errnoErr(e)
	}
	return fd, uint64(st.Size), nil
}

// fileReopen is a new open file description of the same file (own locks).
func fileReopen(fd int) (int, error) {
	nfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, errnoErr(err)
	}
	return nfd, nil
}

// fileOwner is the file's owner now.
func fileOwner(fd int) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, errnoErr(err)
	}
	return st.Uid, nil
}

func fileMode(fd int) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, errnoErr(err)
	}
	return st.Mode & 0o7777, nil
}

func fileLinked(fd int) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, errnoErr(err)
	}
	return st.Nlink > 0, nil
}

// fileTag tags fd (a region file's handle) with the region's identity
// from its header: Windows names its wait objects after it (PROTOCOL.md
// §5).  Linux needs nothing: a shared futex is keyed by the mapping.
func fileTag(fd int, createdNs uint64, creatorPid uint32) {}

// fileLink links from at to (failing with ErrExist if to exists), then
// removes from.
func fileLink(from, to string) error {
	err := unix.Link(from, to)
	unix.Unlink(from)
	if err != nil {
		return errnoErr(err)
	}
	return nil
}

// readMagic reads the first 8 bytes of fd with pread: a copy, never a
// fault, whatever happens to the file.
func readMagic(fd int) uint64 {
	var b [8]byte
	if n, err := unix.Pread(fd, b[:], 0); err != nil || n != 8 {
		return 0
	}
	return *(*uint64)(unsafe.Pointer(&b[0]))
}

// processUid is the calling process's user id (a region header's
// creator_uid).
func processUid() uint32 { return uint32(os.Getuid()) }

func fileUnlink(path string) error {
	if err := unix.Unlink(path); err != nil {
		return dirErr(path, err)
	}
	return nil
}

func closeFd(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// mapping is a shared mapping of part of a region file: b, inside the
// mapping made, whole (wider on hugetlbfs: see mapFile).
type mapping struct {
	b     []byte
	whole []byte
}

// mapFile maps length bytes of fd at off (4 KiB aligned).  A file of huge
// pages is mapped in whole huge pages (the kernel refuses an offset inside
// one, and would not unmap part of one): the pages around come with it.
func mapFile(fd int, off, length uint64, writable bool) (mapping, error) {
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	page, _, err := filePage(fd)
	if err != nil {
		return mapping{}, err
	}
	start := off &^ (page - 1)
	if length > math.MaxInt/2 || off > math.MaxInt/2 { // (a region is at most 2^62 bytes)
		return mapping{}, ErrNoMem
	}
	span := alignUp(off+length, page) - start
	w, err := unix.Mmap(fd, int64(start), int(span), prot, unix.MAP_SHARED)
	if err != nil {
		return mapping{}, errnoErr(err)
	}
	skip := off - start
	return mapping{b: w[skip : skip+length : skip+length], whole: w}, nil
}

func (m *mapping) base() unsafe.Pointer { return unsafe.Pointer(&m.b[0]) }

func (m *mapping) unmap() {
	if m.whole != nil {
		unix.Munmap(m.whole)
		m.b, m.whole = nil, nil
	}
}

// ---- locks ---------------------------------------------------------------

func ofdLock(fd int, cmd int, typ int16, off uint64, length int64) (*unix.Flock_t, error) {
	fl := &unix.Flock_t{Type: typ, Whence: 0, Start: int64(off), Len: length}
	for {
		err := unix.FcntlFlock(uintptr(fd), cmd, fl)
		if err == unix.EINTR {
			continue
		}
		return fl, err
	}
}

// lockTry takes the exclusive one-byte OFD lock at off: nil, ErrBusy or an
// error.
func lockTry(fd int, off uint64) error {
	_, err := ofdLock(fd, unix.F_OFD_SETLK, unix.F_WRLCK, off, 1)
	if err == nil {
		return nil
	}
	if err == unix.EAGAIN || err == unix.EACCES {
		return ErrBusy
	}
	return errnoErr(err)
}

func lockRelease(fd int, off uint64) {
	ofdLock(fd, unix.F_OFD_SETLK, unix.F_UNLCK, off, 1)
}

// lockHeld is 1 if some description holds the lock at off, 0 if none,
// -1 if it cannot be asked.
func lockHeld(fd int, off uint64) int {
	fl, err := ofdLock(fd, unix.F_OFD_GETLK, unix.F_WRLCK, off, 1)
	if err != nil {
		return -1
	}
	if fl.Type != unix.F_UNLCK {
		return 1
	}
	return 0
}

// How lockRetry naps between tries: 10 us doubling to 10 ms (the kernel
// has no lock wait with a timeout).
const (
	lockNapFirst = 10 * time.Microsecond
	lockNapMax   = 10 * time.Millisecond
)

// lockShared takes a shared lock on byte off, waiting out an exclusive one
// for at most lockWait (then ErrBusy).  It works on a read-only fd.
func lockShared(fd int, off uint64) error {
	return lockRetry(func() error {
		_, err := ofdLock(fd, unix.F_OFD_SETLK, unix.F_RDLCK, off, 1)
		if err == unix.EAGAIN || err == unix.EACCES {
			return ErrBusy
		}
		if err != nil {
			return errnoErr(err)
		}
		return nil
	})
}

// lockAnyHeld is true if another open file description holds a lock on any
// part of the file.  It works on a read-only fd.
func lockAnyHeld(fd int) (bool, error) {
	fl, err := ofdLock(fd, unix.F_OFD_GETLK, unix.F_WRLCK, 0, 0)
	if err != nil {
		return false, errnoErr(err)
	}
	return fl.Type != unix.F_UNLCK, nil
}

// lockAllTry takes an exclusive lock on the whole file if nobody holds any.
func lockAllTry(fd int) error {
	_, err := ofdLock(fd, unix.F_OFD_SETLK, unix.F_WRLCK, 0, 0)
	if err == nil {
		return nil
	}
	if err == unix.EAGAIN || err == unix.EACCES {
		return ErrBusy
	}
	return errnoErr(err)
}

func lockReleaseAll(fd int) { ofdLock(fd, unix.F_OFD_SETLK, unix.F_UNLCK, 0, 0) }

// fileLock serialises changes to a region's table (flock), waiting for at
// most lockWait (then ErrBusy).
func fileLock(fd int) error {
	return lockRetry(func() error {
		for {
			err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EWOULDBLOCK {
				return ErrBusy
			}
			if err != nil {
				return errnoErr(err)
			}
			return nil
		}
	})
}

func fileUnlock(fd int) { unix.Flock(fd, unix.LOCK_UN) }

func dirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return nil, ErrNoDir
		}
		return nil, errnoErr(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return nil, ErrNoDir
		}
		return nil, errnoErr(err)
	}
	return names, nil
}

// ---- waiting -------------------------------------------------------------

const (
	futexWait = 0
	futexWake = 1
)

// park sleeps while the u32 at addr (shared memory) equals expect, at most
// timeout.  nil when woken or when the word differed (spurious returns are
// allowed), ErrTimedOut, or an error.  Not FUTEX_PRIVATE: the word is shared
// between processes.
func park(addr *uint32, expect uint32, timeout time.Duration) error {
	var tsp *unix.Timespec
	if timeout >= 0 && timeout != Forever {
		ts := unix.NsecToTimespec(int64(timeout))
		tsp = &ts
	}
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWait,
		uintptr(expect), uintptr(unsafe.Pointer(tsp)), 0, 0)
	switch e {
	case 0, unix.EAGAIN, unix.EINTR:
		return nil
	case unix.ETIMEDOUT:
		return ErrTimedOut
	}
	return errnoErr(e)
}

// dirWatch watches dir for names that appear in it (inotify), as
// rill__dir_watch: set it before the first look, so that an entry made
// after it is never missed.  ErrNoDir if dir does not exist.
func dirWatch(dir string) (int, error) {
	w, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return -1, errnoErr(err)
	}
	// IN_CREATE: a region linked into place; IN_MOVED_TO: one renamed
	// there; *_SELF: the directory itself went away.
	_, err = unix.InotifyAddWatch(w, dir, unix.IN_CREATE|unix.IN_MOVED_TO|
		unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_ONLYDIR)
	if err != nil {
		unix.Close(w)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return -1, ErrNoDir
		}
		return -1, errnoErr(err)
	}
	return w, nil
}

// dirWatchRead reads the events queued on w: true if one names name (or
// events were lost), ErrNoDir if the directory went away.
func dirWatchRead(w int, name string) (bool, error) {
	var buf [4096]byte
	hit := false
	for {
		n, err := unix.Read(w, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || n == 0 {
			return hit, nil
		}
		if err != nil {
			return false, errnoErr(err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				hit = true
			case ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
				return false, ErrNoDir
			default:
				if i := bytes.IndexByte(nameBytes, 0); i >= 0 {
					nameBytes = nameBytes[:i]
				}
				hit = hit || string(nameBytes) == name
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// testHookSleep, when set (by tests), is called before a wait for the
// other side goes to sleep (ppoll, futex), after its last look.
var testHookSleep func()

// dirWatchWait sleeps until an entry named name is created in (or moved
// into) the directory w watches, at most timeout (Forever: no limit), as
// rill__dir_watch_wait: nil (also when the kernel dropped events: look
// again), ErrTimedOut, ErrNoDir (the directory was removed), or an error.
func dirWatchWait(w int, name string, timeout time.Duration) error {
	deadline := uint64(math.MaxUint64)
	if timeout != Forever {
		deadline = addSat(monoNs(), uint64(timeout))
	}
	for {
		if hit, err := dirWatchRead(w, name); hit || err != nil {
			return err
		}
		var tsp *unix.Timespec
		if deadline != math.MaxUint64 {
			now := monoNs()
			if now >= deadline {
				return ErrTimedOut
			}
			ts := unix.NsecToTimespec(int64(deadline - now))
			tsp = &ts
		}
		if testHookSleep != nil {
			testHookSleep()
		}
		fds := []unix.PollFd{{Fd: int32(w), Events: unix.POLLIN}}
		if _, err := unix.Ppoll(fds, tsp, nil); err != nil && err != unix.EINTR {
			return errnoErr(err)
		}
	}
}

// unpark wakes every thread parked on addr, in any process.
func unpark(addr *uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWake,
		uintptr(math.MaxInt32), 0, 0, 0)
}

// futexWaitv is the kernel's struct futex_waitv.
type futexWaitv struct {
	val      uint64
	uaddr    uint64
	flags    uint32 // futex32: a 32-bit word, shared between processes
	reserved uint32
}

const futex32 = 2

// parkAny is park on up to 128 words at once (futex_waitv, Linux 5.16):
// nil when any differs from its expected value or is woken, ErrTimedOut,
// or ErrIO when the kernel has no such wait.
func parkAny(addrs []*uint32, expect []uint32, timeout time.Duration) error {
	var w [128]futexWaitv
	if len(addrs) == 0 || len(addrs) > len(w) {
		return ErrInval
	}
	for i, a := range addrs {
		w[i] = futexWaitv{val: uint64(expect[i]), uaddr: uint64(uintptr(unsafe.Pointer(a))), flags: futex32}
	}
	var ts unix.Timespec // absolute, CLOCK_MONOTONIC
	tsp := unsafe.Pointer(nil)
	if timeout >= 0 && timeout != Forever {
		ts = unix.NsecToTimespec(int64(monoNs()) + int64(timeout))
		tsp = unsafe.Pointer(&ts)
	}
	_, _, e := unix.Syscall6(unix.SYS_FUTEX_WAITV, uintptr(unsafe.Pointer(&w[0])), uintptr(len(addrs)),
		0, uintptr(tsp), unix.CLOCK_MONOTONIC, 0)
	switch e {
	case 0, unix.EAGAIN, unix.EINTR:
		return nil
	case unix.ETIMEDOUT:
		return ErrTimedOut
	}
	return ErrIO
}

const (
	membarrierGlobalExpedited         = 1 << 1
	membarrierRegisterGlobalExpedited = 1 << 2
)

// lazyFence is false: a producer relies on heavy barriers (ASYM), or fences
// every publish when it cannot register, but does not join LAZY (PROTOCOL.md
// §3.7a: a Linux consumer before 0.4 does not know it), unless
// RILL_LAZY_FENCE=1 (the tests).
const lazyFence = false

// heavyBarrierRegister registers this process for expedited barriers: a
// heavyBarrier run by any process then makes our threads pass a full
// barrier.
func heavyBarrierRegister() error {
	_, _, e := unix.Syscall(unix.SYS_MEMBARRIER, membarrierRegisterGlobalExpedited, 0, 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// heavyBarrier makes every thread of every process registered for expedited
// barriers (C producers and consumers register at join) pass a full memory
// barrier.
func heavyBarrier() error {
	_, _, e := unix.Syscall(unix.SYS_MEMBARRIER, membarrierGlobalExpedited, 0, 0)
	if e != 0 {
		return errnoErr(e)
	}
	return nil
}

// ---- FIFOs for event loops -----------------------------------------------

const fifoPrefix = ".rill-fifo@"

func fifoPath(dir, region, ch string, slot uint32) string {
	return fmt.Sprintf("%s/%s%s@%s@%d", dir, fifoPrefix, region, ch, slot)
}

// fifoReader makes the FIFO with mode if needed and opens it read-write and
// non-blocking (it never sees end-of-file).  It adopts only a FIFO that the
// effective user owns: a name planted by another user first (a FIFO, a
// regular file, a symlink) is refused with ErrAccess, never read from.
// rfd, a handle of the region file, is not used on Linux (Windows names the
// consumer's event after the region's identity).
func fifoReader(rfd int, path string, mode uint32) (int, error) {
	made := false
	if err := unix.Mkfifo(path, 0o600); err == nil {
		made = true
	} else if err != unix.EEXIST {
		return -1, dirErr(path, err)
	}
	fd, err := fifoOpen(path, unix.O_RDWR, true)
	if err != nil {
		if err != ErrAccess {
			err = errnoErr(err)
		}
		return -1, err
	}
	if made { // on the fd: the name could have been swapped meanwhile
		if err := unix.Fchmod(fd, mode); err != nil {
			unix.Close(fd)
			unix.Unlink(path)
			return -1, errnoErr(err)
		}
	}
	return fd, nil
}

// fifoOpen opens path non-blocking with flags, never through a symlink,
// and checks it is a FIFO, owned by the effective user if owned (ErrAccess
// if not); other errors are unix errors.
func fifoOpen(path string, flags int, owned bool) (int, error) {
	fd, err := unix.Open(path, flags|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err == unix.ELOOP { // a symlink
		return -1, ErrAccess
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO ||
		owned && st.Uid != uint32(unix.Geteuid()) {
		unix.Close(fd)
		return -1, ErrAccess
	}
	return fd, nil
}

// fifoWriter opens the write end, non-blocking: ErrNoEnt when the FIFO does
// not exist or nobody has it open to read.  rfd as fifoReader's.
func fifoWriter(rfd int, path string) (int, error) {
	fd, err := fifoOpen(path, unix.O_WRONLY, false)
	switch {
	case err == nil, err == ErrAccess:
		return fd, err
	case err == unix.ENXIO:
		return -1, ErrNoEnt
	}
	return -1, errnoErr(err)
}

func fifoSignal(fd int) {
	b := [1]byte{1}
	for {
		_, err := unix.Write(fd, b[:])
		if err != unix.EINTR {
			return
		}
	}
}

func fifoDrain(fd int) {
	var b [256]byte
	for {
		n, err := unix.Read(fd, b[:])
		if n > 0 || err == unix.EINTR {
			continue
		}
		return
	}
}

// fifosUnlink removes the consumers' FIFOs of region name in dir.
func fifosUnlink(dir, name string) {
	names, err := dirNames(dir)
	if err != nil {
		return
	}
	prefix := fifoPrefix + name + "@"
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			unix.Unlink(dir + "/" + n)
		}
	}
}

// ---- clocks --------------------------------------------------------------

// monoNs is CLOCK_MONOTONIC in nanoseconds, the clock of tspub and the
// heartbeats.  time.Since on a monotonic reading costs one vDSO clock read;
// the offset to CLOCK_MONOTONIC's own zero is measured once.
var monoRef = time.Now()
var monoOff = func() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() - int64(time.Since(monoRef))
}()

func monoNs() uint64 { return uint64(monoOff + int64(time.Since(monoRef))) }

func realNs() uint64 { return uint64(time.Now().UnixNano()) }

func randomSeed() uint64 {
	s := uint64(time.Now().UnixNano()) ^ uint64(os.Getpid())<<32
	return rngNext(&s)
}

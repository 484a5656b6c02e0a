// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The few operating-system services rill uses, on Windows (PROTOCOL.md §5;
// the C side's src/platform_win32.c follows the same section, and the two
// interoperate): files, mappings, LockFileEx byte locks, named semaphores
// and a waiter-count section in place of futexes, named events in place of
// FIFOs, and clocks.  Every function returns nil or an Error.
//
// The portable code holds files as int "fds", as on Linux: here an fd is
// an index into a table of handles (a region file, a consumer's event, a
// directory watch), so that no portable file changes its types.

import (
	"errors"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	kernel32               = windows.NewLazySystemDLL("kernel32.dll")
	procCreateSemaphoreW   = kernel32.NewProc("CreateSemaphoreW")
	procOpenSemaphoreW     = kernel32.NewProc("OpenSemaphoreW")
	procReleaseSemaphore   = kernel32.NewProc("ReleaseSemaphore")
	procOpenFileMappingW   = kernel32.NewProc("OpenFileMappingW")
	procQueryPerfCounter   = kernel32.NewProc("QueryPerformanceCounter")
	procQueryPerfFrequency = kernel32.NewProc("QueryPerformanceFrequency")
)

const (
	semaphoreModifyState = 0x0002
	semaphoreAllAccess   = 0x1F0003
	stillActive          = 259
)

// ---- the handle table ----------------------------------------------------

type fileKind int

const (
	kindFile  fileKind = iota // a region file
	kindEvent                 // a consumer's event (its "FIFO")
	kindWatch                 // a directory change notification
)

// winFile is what an fd stands for.
type winFile struct {
	h    windows.Handle
	kind fileKind
	path string     // a file's path (fileLinked reopens it)
	tag  *regionTag // a file's region identity, shared by its reopened handles
}

var files = struct {
	sync.Mutex
	m    map[int]*winFile
	next int
}{m: map[int]*winFile{}}

func fdAdd(f *winFile) int {
	files.Lock()
	defer files.Unlock()
	for {
		files.next++
		if files.next > math.MaxInt32 {
			files.next = 1
		}
		if _, used := files.m[files.next]; !used {
			files.m[files.next] = f
			return files.next
		}
	}
}

func fdGet(fd int) *winFile {
	files.Lock()
	defer files.Unlock()
	return files.m[fd]
}

func fdHandle(fd int) windows.Handle {
	if f := fdGet(fd); f != nil {
		return f.h
	}
	return windows.InvalidHandle
}

func closeFd(fd int) {
	if fd < 0 {
		return
	}
	files.Lock()
	f := files.m[fd]
	delete(files.m, fd)
	files.Unlock()
	if f == nil {
		return
	}
	switch f.kind {
	case kindWatch:
		windows.FindCloseChangeNotification(f.h)
	default:
		windows.CloseHandle(f.h)
	}
	if f.tag != nil {
		f.tag.release()
	}
}

// ---- errors, directories, security ---------------------------------------

// errnoErr maps a Windows error to an Error, as win_err in the C
// library's src/platform_win32.c does (the same cases).
func errnoErr(err error) Error {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return ErrIO
	}
	switch e {
	case windows.ERROR_FILE_NOT_FOUND:
		return ErrNoEnt
	case windows.ERROR_PATH_NOT_FOUND, windows.ERROR_DIRECTORY, windows.ERROR_BAD_NETPATH:
		return ErrNoDir
	case windows.ERROR_FILE_EXISTS, windows.ERROR_ALREADY_EXISTS:
		return ErrExist
	case windows.ERROR_ACCESS_DENIED, windows.ERROR_SHARING_VIOLATION,
		windows.ERROR_WRITE_PROTECT, windows.ERROR_PRIVILEGE_NOT_HELD, windows.ERROR_CANT_ACCESS_FILE:
		return ErrAccess
	case windows.ERROR_DISK_FULL, windows.ERROR_HANDLE_DISK_FULL, windows.ERROR_FILE_TOO_LARGE:
		return ErrNoSpace
	case windows.ERROR_NOT_ENOUGH_MEMORY, windows.ERROR_OUTOFMEMORY, windows.ERROR_COMMITMENT_LIMIT,
		windows.ERROR_NO_SYSTEM_RESOURCES:
		return ErrNoMem
	case windows.ERROR_INVALID_NAME, windows.ERROR_INVALID_PARAMETER, windows.ERROR_FILENAME_EXCED_RANGE,
		windows.ERROR_BAD_PATHNAME:
		return ErrInval
	case windows.ERROR_LOCK_VIOLATION:
		return ErrBusy
	}
	return ErrIO
}

// isDir is true if path is a directory.
func isDir(path string) bool {
	p, err := pathPtr(path)
	if err != nil {
		return false
	}
	a, err := windows.GetFileAttributes(p)
	return err == nil && a&windows.FILE_ATTRIBUTE_DIRECTORY != 0
}

// dirErr tells a missing directory apart from a missing file.
func dirErr(path string, err error) Error {
	e := errnoErr(err)
	if e != ErrNoEnt && e != ErrNoDir {
		return e
	}
	if !isDir(filepath.Dir(path)) {
		return ErrNoDir
	}
	return ErrNoEnt
}

func defaultDir() string {
	return os.Getenv("LOCALAPPDATA") + `\rill`
}

var userSid = sync.OnceValues(func() (*windows.SID, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, err
	}
	return u.User.Sid.Copy()
})

// processUid is the RID of the process token's user SID (PROTOCOL.md §5):
// a region header's creator_uid.
func processUid() uint32 {
	sid, err := userSid()
	if err != nil || sid.SubAuthorityCount() == 0 {
		return 0
	}
	return sid.SubAuthority(uint32(sid.SubAuthorityCount()) - 1)
}

// securityFor is the security of a region file, its directory and its wait
// objects (PROTOCOL.md §5): the creating user has GENERIC_ALL; a mode with
// group or other bits adds Everyone, read, and write if a write bit is set.
func securityFor(mode uint32) (*windows.SecurityAttributes, error) {
	return security(mode, false)
}

// objectSecurityFor is securityFor for a wait object (a semaphore, an
// event, the count section): who may read it may also wait on it
// (SYNCHRONIZE), as the C library's sd_make(mode, 1) says.
func objectSecurityFor(mode uint32) (*windows.SecurityAttributes, error) {
	return security(mode, true)
}

// security is the DACL of PROTOCOL.md §5 for mode: the user, and Everyone
// when mode has group or other bits (read, and write if a write bit is
// set; and waiting, for an object).
func security(mode uint32, object bool) (*windows.SecurityAttributes, error) {
	sid, err := userSid()
	if err != nil {
		return nil, errnoErr(err)
	}
	// The owner is the user, as the C library's: else it is the token's
	// default owner, the Administrators group for an elevated
	// administrator, and owner checks (a file's uid, an adopted event's)
	// would not find the user's RID.
	sddl := "O:" + sid.String() + "D:P(A;;GA;;;" + sid.String() + ")"
	if mode&0o077 != 0 {
		other := "GR"
		if mode&0o022 != 0 {
			other += "GW"
		}
		if object {
			other += "GX"
		}
		sddl += "(A;;" + other + ";;;WD)"
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, errnoErr(err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa, nil
}

// ---- files ---------------------------------------------------------------

const shareAll = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE

// dirPage and filePage: the size of the pages of the files in dir (of the
// open file fd), and whether they are huge pages.  Windows has no huge
// pages for files (large pages are for paging-file sections only, which
// have no name in a folder): 4096, false.
func dirPage(dir string) (uint64, bool, error) { return pageSize, false, nil }

func filePage(fd int) (uint64, bool, error) { return pageSize, false, nil }

func fileCreate(path string, size uint64, mode uint32) (int, error) {
	dir := filepath.Dir(path)
	if filepath.Clean(dir) == filepath.Clean(defaultDir()) && !isDir(dir) {
		// %LOCALAPPDATA%\rill is made on first use, for its user only.
		sa, err := securityFor(0o600)
		if err != nil {
			return -1, err
		}
		if p, err := pathPtr(dir); err == nil {
			windows.CreateDirectory(p, sa)
		}
	}
	sa, err := securityFor(mode)
	if err != nil {
		return -1, err
	}
	p, err := pathPtr(path)
	if err != nil {
		return -1, ErrInval
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, shareAll, sa,
		windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return -1, dirErr(path, err)
	}
	fail := func(e error) (int, error) {
		windows.CloseHandle(h)
		windows.DeleteFile(p)
		return -1, e
	}
	var avail, total, free uint64
	if d, err := pathPtr(dir); err == nil &&
		windows.GetDiskFreeSpaceEx(d, &avail, &total, &free) == nil && avail < size {
		return fail(ErrNoSpace)
	}
	// The length set allocates the clusters: running out of space is an
	// error here, never a fault on first touch later.
	eof := int64(size)
	if err := windows.SetFileInformationByHandle(h, windows.FileEndOfFileInfo,
		(*byte)(unsafe.Pointer(&eof)), uint32(unsafe.Sizeof(eof))); err != nil {
		return fail(errnoErr(err))
	}
	return fdAdd(&winFile{h: h, kind: kindFile, path: path, tag: newTag()}), nil
}

// fileOpen opens path read-write, or read-only unless writable; size is
// its length now.  A reparse point (a symbolic link) is not followed.
func fileOpen(path string, writable bool) (fd int, size uint64, err error) {
	access := uint32(windows.GENERIC_READ)
	if writable {
		access |= windows.GENERIC_WRITE
	}
	p, e := pathPtr(path)
	if e != nil {
		return -1, 0, ErrInval
	}
	h, e := windows.CreateFile(p, access, shareAll, nil, windows.OPEN_EXISTING,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if e != nil {
		if isDir(path) {
			return -1, 0, ErrMagic // not a regular file
		}
		return -1, 0, dirErr(path, e)
	}
	var fi windows.ByHandleFileInformation
	if e := windows.GetFileInformationByHandle(h, &fi); e != nil {
		windows.CloseHandle(h)
		return -1, 0, errnoErr(e)
	}
	if t, _ := windows.GetFileType(h); t != windows.FILE_TYPE_DISK ||
		fi.FileAttributes&(windows.FILE_ATTRIBUTE_DIRECTORY|windows.FILE_ATTRIBUTE_REPARSE_POINT) != 0 {
		windows.CloseHandle(h)
		return -1, 0, ErrMagic
	}
	size = uint64(fi.FileSizeHigh)<<32 | uint64(fi.FileSizeLow)
	return fdAdd(&winFile{h: h, kind: kindFile, path: path, tag: newTag()}), size, nil
}

// fileReopen is a second handle of the region file for an endpoint,
// inheriting the region's identity: a duplicate of fd's handle, sharing its
// file object, which is what Windows locks belong to (PROTOCOL.md §5). An
// exclusive lock request conflicts with every lock on an overlapping byte,
// whichever handle took it, so ownership and probes hold as with a handle
// of its own; and a duplicate works when the file has no name any more
// (unlinked while open), and opens no file (Wine keeps the Unix descriptor
// of every handle closed on a locked file until no lock is left on it).
func fileReopen(fd int) (int, error) {
	f := fdGet(fd)
	if f == nil || f.kind != kindFile {
		return -1, ErrInval
	}
	self := windows.CurrentProcess()
	var h windows.Handle
	if err := windows.DuplicateHandle(self, f.h, self, &h, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return -1, errnoErr(err)
	}
	f.tag.hold()
	return fdAdd(&winFile{h: h, kind: kindFile, path: f.path, tag: f.tag}), nil
}

// pathPtr is path as the OS should take it (PROTOCOL.md §5): absolute and
// with the \\?\ prefix, so that its last name is a plain file whatever it
// spells ("NUL", "con", "COM1" and "aux.x" are devices in any directory
// without it, and a trailing dot is dropped; all are valid rill names).
// The directory part is made absolute; the name is appended as it is.
// As the C library's wide_path: "\name" is in the current drive's root,
// "C:\name" in C:'s root, "C:name" in C:'s current directory.
func pathPtr(path string) (*uint16, error) {
	s, err := osPath(path)
	if err != nil {
		return nil, err
	}
	return windows.UTF16PtrFromString(s)
}

// isDrive is true if s is a drive letter and its colon ("C:").
func isDrive(s string) bool {
	return len(s) == 2 && s[1] == ':' && ('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z')
}

// osPath is pathPtr's path, in UTF-8.
func osPath(path string) (string, error) {
	if strings.HasPrefix(path, `\\?\`) || strings.HasPrefix(path, `\\.\`) {
		return path, nil
	}
	path = strings.ReplaceAll(path, "/", `\`)
	dir, name := ".", path
	if i := strings.LastIndexByte(path, '\\'); i >= 0 {
		dir, name = path[:i], path[i+1:]
		// "\name": the current drive's root; "C:\name": C:'s root (a bare
		// "C:" would be C:'s current directory, not its root).
		if dir == "" || isDrive(dir) {
			dir += `\`
		}
	} else if len(path) >= 2 && isDrive(path[:2]) {
		dir, name = path[:2], path[2:] // "C:name": in C:'s current directory
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(abs, `\\`) {
		abs = `\\?\UNC\` + abs[2:]
	} else {
		abs = `\\?\` + abs
	}
	if !strings.HasSuffix(abs, `\`) {
		abs += `\`
	}
	return abs + name, nil
}

// fileSecurity is the owner and DACL of a file.
func fileSecurity(fd int) (*windows.SECURITY_DESCRIPTOR, error) {
	sd, err := windows.GetSecurityInfo(fdHandle(fd), windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return nil, errnoErr(err)
	}
	return sd, nil
}

// fileOwner is the RID of the file's owner SID (PROTOCOL.md §5).
func fileOwner(fd int) (uint32, error) {
	sd, err := fileSecurity(fd)
	if err != nil {
		return 0, err
	}
	return ownerRid(sd)
}

// objectOwner is the RID of a kernel object's owner SID (an event's).
func objectOwner(h windows.Handle) (uint32, error) {
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return 0, errnoErr(err)
	}
	return ownerRid(sd)
}

// ownerRid is the last sub-authority of sd's owner SID.
func ownerRid(sd *windows.SECURITY_DESCRIPTOR) (uint32, error) {
	o, _, err := sd.Owner()
	if err != nil || o == nil || o.SubAuthorityCount() == 0 {
		return 0, ErrIO
	}
	return o.SubAuthority(uint32(o.SubAuthorityCount()) - 1), nil
}

// fileMode is the mode that made the file's DACL (securityFor): 0600,
// with 0044 if Everyone may read and 0022 if Everyone may write.
func fileMode(fd int) (uint32, error) {
	sd, err := fileSecurity(fd)
	if err != nil {
		return 0, err
	}
	mode := uint32(0o600)
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return mode, nil
	}
	everyone, err := windows.CreateWellKnownSid(windows.WinWorldSid)
	if err != nil {
		return mode, nil
	}
	// The ACL header: revision, sbz1, size (u16), count (u16), sbz2.
	n := *(*uint16)(unsafe.Add(unsafe.Pointer(dacl), 4))
	for i := uint32(0); i < uint32(n); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if windows.GetAce(dacl, i, &ace) != nil || ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
			continue
		}
		if !(*windows.SID)(unsafe.Pointer(&ace.SidStart)).Equals(everyone) {
			continue
		}
		m := ace.Mask
		if m&(windows.GENERIC_READ|windows.GENERIC_ALL|windows.FILE_READ_DATA) != 0 {
			mode |= 0o044
		}
		if m&(windows.GENERIC_WRITE|windows.GENERIC_ALL|windows.FILE_WRITE_DATA) != 0 {
			mode |= 0o022
		}
	}
	return mode, nil
}

// fileID is the identity of an open file: volume serial number and index.
func fileID(h windows.Handle) (uint64, uint32, error) {
	var fi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &fi); err != nil {
		return 0, 0, err
	}
	return uint64(fi.FileIndexHigh)<<32 | uint64(fi.FileIndexLow), fi.VolumeSerialNumber, nil
}

// fileLinked is true while the file's path still opens the same file
// (PROTOCOL.md §5: a removed file is renamed away first).
func fileLinked(fd int) (bool, error) {
	f := fdGet(fd)
	if f == nil {
		return false, ErrInval
	}
	idx, vol, err := fileID(f.h)
	if err != nil {
		return false, errnoErr(err)
	}
	p, err := pathPtr(f.path)
	if err != nil {
		return false, ErrInval
	}
	h, err := windows.CreateFile(p, windows.FILE_READ_ATTRIBUTES, shareAll, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		if e := errnoErr(err); e == ErrNoEnt || e == ErrNoDir {
			return false, nil
		}
		return false, errnoErr(err)
	}
	defer windows.CloseHandle(h)
	idx2, vol2, err := fileID(h)
	if err != nil {
		return false, errnoErr(err)
	}
	return sameFile(idx, vol, idx2, vol2), nil
}

// sameFile compares two files' identities.  A volume serial number of 0
// is not compared: Wine reports 0 through a handle whose file was moved
// after the handle was opened (a region moved into place).
func sameFile(idx uint64, vol uint32, idx2 uint64, vol2 uint32) bool {
	return idx == idx2 && (vol == vol2 || vol == 0 || vol2 == 0)
}

// fileLink moves from to to (failing with ErrExist if to exists): a region
// appears under its name fully made.
func fileLink(from, to string) error {
	f, err1 := pathPtr(from)
	t, err2 := pathPtr(to)
	if err1 != nil || err2 != nil {
		return ErrInval
	}
	if err := windows.MoveFileEx(f, t, 0); err != nil {
		windows.DeleteFile(f)
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			// MoveFileEx onto an existing directory, or onto a file being
			// deleted: the name is taken.
			if _, e := os.Lstat(to); e == nil {
				return ErrExist
			}
		}
		return errnoErr(err)
	}
	// Handles open on the file know it by its new name now.
	files.Lock()
	for _, wf := range files.m {
		if wf.kind == kindFile && wf.path == from {
			wf.path = to
		}
	}
	files.Unlock()
	return nil
}

// fileTag tags fd (a region file's handle) with the region's identity,
// its key K (PROTOCOL.md §5), which names its wait objects; handles
// reopened from it share the tag.
func fileTag(fd int, createdNs uint64, creatorPid uint32) {
	f := fdGet(fd)
	if f == nil || f.tag == nil {
		return
	}
	key := hex16(createdNs) + hex8(uint64(creatorPid))
	mode, err := fileMode(fd)
	if err != nil {
		mode = 0o600
	}
	f.tag.set(key, mode)
}

func hex16(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

func hex8(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", 8-len(s)) + s
}

// readMagic reads the first 8 bytes of fd through a read-only mapping: a
// byte-range lock would stop a ReadFile (PROTOCOL.md §5), never a view.
func readMagic(fd int) uint64 {
	m, err := mapFile(fd, 0, 8, false)
	if err != nil {
		return 0
	}
	defer m.unmap()
	return atomic.LoadUint64((*uint64)(m.base()))
}

// fileUnlink removes path: renamed first to DIR/.rill-gone.<pid>.<random>
// (a deleted file still open keeps its name until its last handle closes;
// the rename frees the name at once), then deleted.
func fileUnlink(path string) error {
	p, err := pathPtr(path)
	if err != nil {
		return ErrInval
	}
	gone := filepath.Dir(path) + `\.rill-gone.` + strconv.Itoa(os.Getpid()) + "." + hex16(randomSeed())
	g, err := pathPtr(gone)
	if err != nil {
		return ErrInval
	}
	if err := windows.MoveFileEx(p, g, 0); err != nil {
		return dirErr(path, err)
	}
	windows.DeleteFile(g) // fails while mapped: goes with its last user
	return nil
}

// goneRemove deletes what fileUnlink could not delete at once (it was
// mapped), now that its users may have gone.
func goneRemove(dir string) {
	names, err := dirNames(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".rill-gone.") {
			if p, err := pathPtr(dir + `\` + n); err == nil {
				windows.DeleteFile(p)
			}
		}
	}
}

// ---- mappings ------------------------------------------------------------

const allocGranularity = 64 << 10

// mapping is a view of part of a region file.  A view starts at a multiple
// of the allocation granularity, so b starts inside it.
type mapping struct {
	b    []byte
	view uintptr
}

// mapped is every view of a region file, for park and unpark: the file
// offset and region key of a word come from the view holding it.
type mappedView struct {
	lo, hi uintptr
	off    uint64 // file offset of lo
	tag    *regionTag
}

var views = struct {
	sync.RWMutex
	m map[uintptr]mappedView // by lo
}{m: map[uintptr]mappedView{}}

func mapFile(fd int, off, length uint64, writable bool) (mapping, error) {
	f := fdGet(fd)
	if f == nil || f.kind != kindFile {
		return mapping{}, ErrInval
	}
	if length == 0 || length > math.MaxInt-allocGranularity {
		return mapping{}, ErrNoMem
	}
	prot, access := uint32(windows.PAGE_READONLY), uint32(windows.FILE_MAP_READ)
	if writable {
		prot, access = windows.PAGE_READWRITE, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE
	}
	sec, err := windows.CreateFileMapping(f.h, nil, prot, 0, 0, nil)
	if err != nil {
		return mapping{}, errnoErr(err)
	}
	defer windows.CloseHandle(sec) // the view keeps the section
	start := off &^ (allocGranularity - 1)
	skip := off - start
	view, err := windows.MapViewOfFile(sec, access, uint32(start>>32), uint32(start), uintptr(skip+length))
	if err != nil {
		return mapping{}, errnoErr(err)
	}
	lo := view + uintptr(skip)
	b := unsafe.Slice((*byte)(ptrAt(lo)), int(length))
	if f.tag != nil {
		f.tag.hold()
	}
	views.Lock()
	views.m[lo] = mappedView{lo: lo, hi: lo + uintptr(length), off: off, tag: f.tag}
	views.Unlock()
	return mapping{b: b, view: view}, nil
}

// ptrAt is the address of a view, which the Go heap does not hold (vet
// would question a plain conversion).
func ptrAt(a uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&a)) }

func (m *mapping) base() unsafe.Pointer { return unsafe.Pointer(&m.b[0]) }

func (m *mapping) unmap() {
	if m.b == nil {
		return
	}
	lo := uintptr(unsafe.Pointer(&m.b[0]))
	views.Lock()
	v, ok := views.m[lo]
	delete(views.m, lo)
	views.Unlock()
	windows.UnmapViewOfFile(m.view)
	if ok && v.tag != nil {
		v.tag.release()
	}
	m.b, m.view = nil, 0
}

// viewOf finds the view holding addr: its file offset and region.
func viewOf(addr unsafe.Pointer) (uint64, *regionTag) {
	a := uintptr(addr)
	views.RLock()
	defer views.RUnlock()
	for _, v := range views.m {
		if a >= v.lo && a < v.hi {
			return v.off + uint64(a-v.lo), v.tag
		}
	}
	return 0, nil
}

// ---- locks ---------------------------------------------------------------

func lockEx(fd int, flags uint32, off, length uint64) error {
	ov := windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(off >> 32)}
	err := windows.LockFileEx(fdHandle(fd), flags|windows.LOCKFILE_FAIL_IMMEDIATELY, 0,
		uint32(length), uint32(length>>32), &ov)
	if err == nil {
		return nil
	}
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return ErrBusy
	}
	return errnoErr(err)
}

func unlockEx(fd int, off, length uint64) {
	ov := windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(off >> 32)}
	windows.UnlockFileEx(fdHandle(fd), 0, uint32(length), uint32(length>>32), &ov)
}

// wholeFile is the length of a cleaner's lock, [0, 2^64 - 1).
const wholeFile = math.MaxUint64

// tableLockOff is the byte of the region table's lock (flock on Linux).
const tableLockOff = 1 << 63

// lockTry takes the exclusive one-byte lock at off: nil, ErrBusy or an
// error.  Someone probing the lock (lockHeld) holds it for an instant, so
// a refusal is retried for 2 ms.
func lockTry(fd int, off uint64) error {
	deadline := monoNs() + 2*uint64(millisecond)
	for {
		err := lockEx(fd, windows.LOCKFILE_EXCLUSIVE_LOCK, off, 1)
		if err != ErrBusy || monoNs() >= deadline {
			return err
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func lockRelease(fd int, off uint64) { unlockEx(fd, off, 1) }

// lockHeld is 1 if some handle holds the lock at off, 0 if none, -1 if it
// cannot be asked.  Windows has no query: a probe that gets the lock
// releases it at once.
func lockHeld(fd int, off uint64) int {
	switch lockEx(fd, windows.LOCKFILE_EXCLUSIVE_LOCK, off, 1) {
	case nil:
		unlockEx(fd, off, 1)
		return 0
	case ErrBusy:
		return 1
	}
	return -1
}

// How lockRetry naps between tries: every millisecond (PROTOCOL.md §5).
const (
	lockNapFirst = time.Millisecond
	lockNapMax   = time.Millisecond
)

// lockShared takes a shared lock on byte off, waiting out an exclusive one
// for at most lockWait (then ErrBusy).  It works on a read-only handle.
func lockShared(fd int, off uint64) error {
	return lockRetry(func() error { return lockEx(fd, 0, off, 1) })
}

// lockAnyHeld is true if another handle holds a lock on any part of the
// file (the probe of a cleaner's lock).
func lockAnyHeld(fd int) (bool, error) {
	switch err := lockEx(fd, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, wholeFile); err {
	case nil:
		unlockEx(fd, 0, wholeFile)
		return false, nil
	case ErrBusy:
		return true, nil
	default:
		return false, err
	}
}

// lockAllTry takes an exclusive lock on the whole file if nobody holds any.
func lockAllTry(fd int) error {
	return lockEx(fd, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, wholeFile)
}

func lockReleaseAll(fd int) { unlockEx(fd, 0, wholeFile) }

// fileLock serialises changes to a region's table: the exclusive lock on
// byte 2^63, waiting for at most lockWait (then ErrBusy).
func fileLock(fd int) error {
	return lockRetry(func() error { return lockEx(fd, windows.LOCKFILE_EXCLUSIVE_LOCK, tableLockOff, 1) })
}

func fileUnlock(fd int) { unlockEx(fd, tableLockOff, 1) }

func dirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNoDir
		}
		return nil, errnoErr(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		if !isDir(dir) {
			return nil, ErrNoDir
		}
		return nil, errnoErr(err)
	}
	return names, nil
}

// ---- wait objects ----------------------------------------------------------

// regionTag is a region's identity as its handles know it: the key K
// naming its wait objects, and those objects once opened.
type regionTag struct {
	mu   sync.Mutex
	refs int // handles and views
	key  string
	mode uint32
	sa   *windows.SecurityAttributes
	// The waiter counts (Local\rill-K-n) and the semaphores by offset
	// (Local\rill-K-w<o>); full: opened to wait on, not only to release.
	sec    windows.Handle
	counts *[countSlots]uint32
	sems   map[uint64]semHandle
}

type semHandle struct {
	h    windows.Handle
	full bool
}

const countSlots = 16384

// maxWaitObjects is the most handles WaitForMultipleObjects takes.
const maxWaitObjects = 64

func newTag() *regionTag { return &regionTag{refs: 1, sems: map[uint64]semHandle{}} }

func (t *regionTag) hold() {
	t.mu.Lock()
	t.refs++
	t.mu.Unlock()
}

// release drops a reference; the last one closes the wait objects.
func (t *regionTag) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refs--; t.refs > 0 {
		return
	}
	for o, s := range t.sems {
		windows.CloseHandle(s.h)
		delete(t.sems, o)
	}
	if t.counts != nil {
		windows.UnmapViewOfFile(uintptr(unsafe.Pointer(t.counts)))
		t.counts = nil
	}
	if t.sec != 0 {
		windows.CloseHandle(t.sec)
		t.sec = 0
	}
}

func (t *regionTag) set(key string, mode uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.key == key {
		return
	}
	t.key, t.mode, t.sa = key, mode, nil
}

func (t *regionTag) security() (*windows.SecurityAttributes, error) {
	if t.sa == nil {
		sa, err := objectSecurityFor(t.mode)
		if err != nil {
			return nil, err
		}
		t.sa = sa
	}
	return t.sa, nil
}

func waitName(key, suffix string) *uint16 {
	p, _ := windows.UTF16PtrFromString(`Local\rill-` + key + "-" + suffix)
	return p
}

// countsLocked opens the waiter counts (made if create, else nil when
// absent: nobody sleeps).  t.mu held.
func (t *regionTag) countsLocked(create bool) (*[countSlots]uint32, error) {
	if t.counts != nil {
		return t.counts, nil
	}
	if t.key == "" {
		return nil, ErrInval
	}
	name := waitName(t.key, "n")
	var sec windows.Handle
	if create {
		sa, err := t.security()
		if err != nil {
			return nil, err
		}
		// x/sys reports ERROR_ALREADY_EXISTS with the handle of the
		// existing section: another sleeper made it, which is as good.
		if sec, err = windows.CreateFileMapping(windows.InvalidHandle, sa, windows.PAGE_READWRITE,
			0, countSlots*4, name); sec == 0 {
			return nil, errnoErr(err)
		}
	} else {
		r, _, e := procOpenFileMappingW.Call(windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, 0,
			uintptr(unsafe.Pointer(name)))
		if r == 0 {
			if errors.Is(e, windows.ERROR_FILE_NOT_FOUND) {
				return nil, nil
			}
			return nil, errnoErr(e)
		}
		sec = windows.Handle(r)
	}
	v, err := windows.MapViewOfFile(sec, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, 0, 0, countSlots*4)
	if err != nil {
		windows.CloseHandle(sec)
		return nil, errnoErr(err)
	}
	t.sec, t.counts = sec, (*[countSlots]uint32)(ptrAt(v))
	return t.counts, nil
}

// semLocked opens the semaphore of the word at offset o: to wait on
// (created if absent), or only to release (0 when absent: nobody sleeps).
// t.mu held.
func (t *regionTag) semLocked(o uint64, wait bool) (windows.Handle, error) {
	if s, ok := t.sems[o]; ok && (s.full || !wait) {
		return s.h, nil
	}
	name := waitName(t.key, "w"+strconv.FormatUint(o, 16))
	var r uintptr
	var e error
	if wait {
		sa, err := t.security()
		if err != nil {
			return 0, err
		}
		r, _, e = procCreateSemaphoreW.Call(uintptr(unsafe.Pointer(sa)), 0, math.MaxInt32,
			uintptr(unsafe.Pointer(name)))
	} else {
		r, _, e = procOpenSemaphoreW.Call(semaphoreModifyState, 0, uintptr(unsafe.Pointer(name)))
	}
	if r == 0 {
		if !wait && errors.Is(e, windows.ERROR_FILE_NOT_FOUND) {
			return 0, nil
		}
		return 0, errnoErr(e)
	}
	if s, ok := t.sems[o]; ok {
		windows.CloseHandle(s.h)
	}
	t.sems[o] = semHandle{h: windows.Handle(r), full: wait}
	return windows.Handle(r), nil
}

// countSlot is h(o) (PROTOCOL.md §5).
func countSlot(o uint64) uint32 { return uint32(o>>2) * 0x9E3779B1 >> 18 }

// waitPrep counts one sleeper on the word at addr and returns its
// semaphore and count.
func waitPrep(addr *uint32) (windows.Handle, *uint32, error) {
	o, t := viewOf(unsafe.Pointer(addr))
	if t == nil {
		return 0, nil, ErrInval
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	counts, err := t.countsLocked(true)
	if err != nil {
		return 0, nil, err
	}
	sem, err := t.semLocked(o, true)
	if err != nil {
		return 0, nil, err
	}
	return sem, &counts[countSlot(o)], nil
}

// waitMs is a timeout in ms, rounded up (INFINITE for Forever or less
// than 0).
func waitMs(timeout time.Duration) uint32 {
	if timeout < 0 || timeout == Forever {
		return windows.INFINITE
	}
	ms := (uint64(timeout) + uint64(time.Millisecond) - 1) / uint64(time.Millisecond)
	return uint32(min(ms, windows.INFINITE-1))
}

// park sleeps while the u32 at addr (shared memory) equals expect, at most
// timeout: nil when woken or when the word differed (spurious returns are
// allowed), ErrTimedOut, or an error (PROTOCOL.md §5 "Parking").
func park(addr *uint32, expect uint32, timeout time.Duration) error {
	sem, cnt, err := waitPrep(addr)
	if err != nil {
		return err
	}
	// Sequentially consistent RMW, then load: pairs with the waker's store
	// of the word, fence, then load of the count.  Either we see its word,
	// or it sees our count and releases a token we take.
	atomic.AddUint32(cnt, 1)
	if atomic.LoadUint32(addr) != expect {
		atomic.AddUint32(cnt, ^uint32(0))
		return nil
	}
	ev, werr := windows.WaitForSingleObject(sem, waitMs(timeout))
	atomic.AddUint32(cnt, ^uint32(0))
	switch {
	case werr != nil:
		return errnoErr(werr)
	case ev == uint32(windows.WAIT_TIMEOUT):
		return ErrTimedOut
	}
	return nil
}

// wholeFence is a full barrier: a locked read-modify-write.
var wholeFence uint64

// unpark wakes every thread parked on addr, in any process (after the
// caller's store or RMW of the word).
func unpark(addr *uint32) {
	o, t := viewOf(unsafe.Pointer(addr))
	if t == nil {
		return
	}
	// Full barrier: pairs with the sleeper's count RMW then word load.
	atomic.AddUint64(&wholeFence, 1)
	t.mu.Lock()
	defer t.mu.Unlock()
	counts, err := t.countsLocked(false)
	if err != nil || counts == nil {
		return // absent: nobody sleeps
	}
	n := atomic.LoadUint32(&counts[countSlot(o)])
	if n == 0 || n > math.MaxInt32 {
		return
	}
	sem, err := t.semLocked(o, false)
	if err != nil || sem == 0 {
		return
	}
	procReleaseSemaphore.Call(uintptr(sem), uintptr(n), 0) // "too many posts": ignored
}

// parkAny is park on up to 128 words at once: WaitForMultipleObjects on
// their semaphores after counting on each; past 64 (its limit) it sleeps
// on the first 64 for at most 1 ms.  nil when any differs from its
// expected value or is woken, ErrTimedOut, or an error.
func parkAny(addrs []*uint32, expect []uint32, timeout time.Duration) error {
	if len(addrs) == 0 || len(addrs) > WaitAnyMax {
		return ErrInval
	}
	sems := make([]windows.Handle, 0, len(addrs))
	cnts := make([]*uint32, 0, len(addrs))
	defer func() {
		for _, c := range cnts {
			atomic.AddUint32(c, ^uint32(0))
		}
	}()
	seen := map[windows.Handle]bool{}
	for i, a := range addrs {
		sem, cnt, err := waitPrep(a)
		if err != nil {
			return err
		}
		// As in park: count, then look at the word.
		atomic.AddUint32(cnt, 1)
		cnts = append(cnts, cnt)
		if atomic.LoadUint32(a) != expect[i] {
			return nil
		}
		if !seen[sem] { // the same word twice: one handle
			seen[sem] = true
			sems = append(sems, sem)
		}
	}
	if len(sems) > maxWaitObjects {
		sems = sems[:maxWaitObjects]
		timeout = min(timeout, time.Millisecond)
	}
	ev, err := windows.WaitForMultipleObjects(sems, false, waitMs(timeout))
	switch {
	case err != nil:
		return errnoErr(err)
	case ev == uint32(windows.WAIT_TIMEOUT):
		return ErrTimedOut
	}
	return nil
}

// heavyBarrierRegister fails: Windows has no cross-process asymmetric
// barrier (PROTOCOL.md §5), so producers join LAZY (lazyFence) and publish
// with a full fence once a consumer that sleeps asks them to (§3.7a).
func heavyBarrierRegister() error { return ErrIO }

// lazyFence: producers join LAZY (PROTOCOL.md §3.7a, §5): every consumer on
// Windows knows LAZY, and without a heavy barrier the fence after each
// publish would be paid even when every consumer busy-polls.
const lazyFence = true

// heavyBarrier is a full fence: no process on Windows relies on another's
// heavy barrier (none registers).
func heavyBarrier() error {
	atomic.AddUint64(&wholeFence, 1)
	return nil
}

// ---- directory watching ----------------------------------------------------

// dirWatch watches dir for names that appear in it, as rill__dir_watch: set
// it before the first look, so that an entry made after it is never missed.
// ErrNoDir if dir does not exist.
func dirWatch(dir string) (int, error) {
	if !isDir(dir) {
		return -1, ErrNoDir
	}
	h, err := windows.FindFirstChangeNotification(dir, false, windows.FILE_NOTIFY_CHANGE_FILE_NAME)
	if err != nil {
		if e := errnoErr(err); e == ErrNoEnt || e == ErrNoDir {
			return -1, ErrNoDir
		}
		return -1, errnoErr(err)
	}
	return fdAdd(&winFile{h: h, kind: kindWatch, path: dir}), nil
}

// testHookSleep, when set (by tests), is called before a wait for the
// other side goes to sleep, after its last look.
var testHookSleep func()

// dirWatchWait sleeps until a name changes in the directory w watches, at
// most timeout (Forever: no limit): nil (look again: a change notification
// does not say which name), ErrTimedOut, ErrNoDir (the directory was
// removed), or an error.
func dirWatchWait(w int, name string, timeout time.Duration) error {
	f := fdGet(w)
	if f == nil || f.kind != kindWatch {
		return ErrInval
	}
	if testHookSleep != nil {
		testHookSleep()
	}
	ev, err := windows.WaitForSingleObject(f.h, waitMs(timeout))
	if err != nil {
		return errnoErr(err)
	}
	if ev == uint32(windows.WAIT_TIMEOUT) {
		return ErrTimedOut
	}
	if !isDir(f.path) {
		return ErrNoDir
	}
	if err := windows.FindNextChangeNotification(f.h); err != nil {
		return errnoErr(err)
	}
	return nil
}

// ---- consumers' events (the FIFOs of Linux) ------------------------------

const fifoPrefix = ".rill-fifo@"

// fifoPath names a consumer's "FIFO" as on Linux; on Windows the name only
// carries the channel and slot to eventName.
func fifoPath(dir, region, ch string, slot uint32) string {
	return dir + "/" + fifoPrefix + region + "@" + ch + "@" + strconv.FormatUint(uint64(slot), 10)
}

// eventName is Local\rill-K-f@C@i for the FIFO path of consumer i of
// channel C, K the region's key from rfd.
func eventName(rfd int, path string) (*uint16, error) {
	f := fdGet(rfd)
	if f == nil || f.tag == nil {
		return nil, ErrInval
	}
	f.tag.mu.Lock()
	key := f.tag.key
	f.tag.mu.Unlock()
	i := strings.LastIndex(path, fifoPrefix)
	if key == "" || i < 0 {
		return nil, ErrInval
	}
	rest := path[i+len(fifoPrefix):] // R@C@i
	j := strings.IndexByte(rest, '@')
	if j < 0 {
		return nil, ErrInval
	}
	return waitName(key, "f"+rest[j:]), nil
}

// fifoReader makes (or opens) consumer's manual-reset event, with the
// region's security.  A name held by another kind of object, or an
// existing event another user owns, is refused with ErrAccess (§3.8).
func fifoReader(rfd int, path string, mode uint32) (int, error) {
	name, err := eventName(rfd, path)
	if err != nil {
		return -1, err
	}
	sa, err := objectSecurityFor(mode)
	if err != nil {
		return -1, err
	}
	// An existing event (this slot's earlier consumer's, still open
	// somewhere) comes back with ERROR_ALREADY_EXISTS: it is adopted only
	// if it is ours.  Another user's event, planted to steal the wake-ups
	// (or to set it at will), is refused as a FIFO another uid owns is on
	// Linux, and as the C library refuses it.
	h, err := windows.CreateEvent(sa, 1, 0, name)
	if h == 0 {
		if errors.Is(err, windows.ERROR_INVALID_HANDLE) { // another kind of object
			return -1, ErrAccess
		}
		return -1, errnoErr(err)
	}
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		if uid, e := objectOwner(h); e != nil || uid != processUid() {
			windows.CloseHandle(h)
			return -1, ErrAccess
		}
	}
	return fdAdd(&winFile{h: h, kind: kindEvent}), nil
}

// fifoWriter opens a consumer's event to set it: ErrNoEnt when it does not
// exist (nobody waits on it).
func fifoWriter(rfd int, path string) (int, error) {
	name, err := eventName(rfd, path)
	if err != nil {
		return -1, err
	}
	h, err := windows.OpenEvent(windows.EVENT_MODIFY_STATE, false, name)
	if err != nil {
		if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
			return -1, ErrNoEnt
		}
		if errors.Is(err, windows.ERROR_INVALID_HANDLE) {
			return -1, ErrAccess
		}
		return -1, errnoErr(err)
	}
	return fdAdd(&winFile{h: h, kind: kindEvent}), nil
}

func fifoSignal(fd int) { windows.SetEvent(fdHandle(fd)) }

func fifoDrain(fd int) { windows.ResetEvent(fdHandle(fd)) }

// fifosUnlink has nothing to remove: a named event goes with its last
// handle.  Files left by an earlier fileUnlink are deleted now.
func fifosUnlink(dir, name string) { goneRemove(dir) }

// ---- processes and clocks --------------------------------------------------

// pidAlive is true if process pid runs: OpenProcess succeeds and its exit
// code is STILL_ACTIVE.
func pidAlive(pid uint32) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED) // exists, not ours
	}
	defer windows.CloseHandle(h)
	var code uint32
	return windows.GetExitCodeProcess(h, &code) == nil && code == stillActive
}

var qpcFreq = func() uint64 {
	var f int64
	procQueryPerfFrequency.Call(uintptr(unsafe.Pointer(&f)))
	return uint64(f)
}()

// monoNs is QueryPerformanceCounter in nanoseconds, the C library's
// CLOCK_MONOTONIC on Windows (heartbeats are compared across processes).
func monoNs() uint64 {
	var c int64
	procQueryPerfCounter.Call(uintptr(unsafe.Pointer(&c)))
	hi, lo := bits.Mul64(uint64(c), 1e9)
	if hi >= qpcFreq {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, qpcFreq)
	return q
}

// realNs is GetSystemTimePreciseAsFileTime since 1970, in ns.
func realNs() uint64 {
	var ft windows.Filetime
	windows.GetSystemTimePreciseAsFileTime(&ft)
	t := uint64(ft.HighDateTime)<<32 | uint64(ft.LowDateTime)
	return (t - 116444736000000000) * 100
}

func randomSeed() uint64 {
	s := uint64(time.Now().UnixNano()) ^ uint64(os.Getpid())<<32 ^ monoNs()
	return rngNext(&s)
}

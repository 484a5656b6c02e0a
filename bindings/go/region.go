// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// RegionOpts are the options of CreateRegion and OpenRegion.  The zero value
// gives the defaults.
type RegionOpts struct {
	Size uint64 // create: total bytes, rounded up to 4 KiB; 0 = 64 MiB
	Dir  string // "" = $RILL_DIR, else /dev/shm
	Mode uint32 // create: file mode, set exactly (umask aside); 0 = 0600
	// ReadOnly (open only; RILL_REGION_READONLY): opens the region to look
	// at it only: the file read-only (a region another user made readable
	// to us, mode 0644, can be inspected), mapped read-only.  Joining a
	// producer or a consumer, or creating a channel, fails with ErrAccess.
	ReadOnly bool
	// Huge (create only; RILL_REGION_HUGE): backs the region with huge
	// pages, or fails with ErrNoHuge, leaving nothing behind.  Dir (or
	// $RILL_DIR) must be a hugetlbfs mount whose pool (vm.nr_hugepages)
	// holds the whole region: Size is rounded up to the huge page size and
	// every page is taken from the pool at creation, so a pool too small
	// fails then, never with a SIGBUS later.  A region made in a hugetlbfs
	// directory without Huge has huge pages all the same (the file system
	// decides); OpenRegion ignores Huge, and RegionInfo.PageSize tells.
	// Windows has none: ErrNoHuge.
	Huge bool
}

// Region is an open region: a named shared-memory file holding channels.
// Its methods may be called from several goroutines.  While it is open it
// holds a shared lock on the file, which is how other processes tell that
// the region has a live user.
//
// A file shrunk under a mapping (whoever can write it can truncate it)
// makes a read of the lost pages fault.  The calls that only look (Info,
// Objects, Channels, Stats, Latency, ListRegions, RegionInUse, OpenRegion's
// validation) turn that fault into ErrTrunc (debug.SetPanicOnFault), so an
// observer survives any file.  Endpoints (producers, consumers) crash on
// it, as they do in C without rill_sigbus_guard (rill.h).
type Region struct {
	fd       int
	m        mapping
	size     uint64
	name     string
	dir      string
	readOnly bool
}

// RegionInfo describes a region, as its header says (Region.Info).
type RegionInfo struct {
	Size       uint64    // total bytes
	Used       uint64    // bytes allocated to objects (header included)
	Created    time.Time // when the region was created (CLOCK_REALTIME)
	CreatorPid uint32    // the creating process (informative: from its own PID namespace)
	CreatorUid uint32    // the creating process's user, as the header says (whoever can write the file can change it)
	Objects    uint32    // objects in the table
	OwnerUid   uint32    // the file's owner, as the kernel says: trust this one
	PageSize   uint64    // the pages backing the file: the huge page size on hugetlbfs, else the system's (4096)
}

// ObjectChannel is the type of a channel in a region's object table.
const ObjectChannel uint32 = 1

// ObjectInfo is an entry of a region's object table (PROTOCOL.md §1.2).
type ObjectInfo struct {
	Name string // the object's name (a channel's)
	Type uint32 // ObjectChannel
	Off  uint64 // from the start of the region, bytes
	Size uint64 // bytes
}

func newRegion(name, dir string, fd int, size uint64, readOnly bool) (*Region, error) {
	// Shared lock for the handle's lifetime.  It waits out a cleaner's
	// exclusive lock (for at most a second: ErrBusy); a region cleaned
	// meanwhile is unlinked, which the caller checks.
	if err := lockShared(fd, 0); err != nil {
		return nil, err
	}
	m, err := mapFile(fd, 0, size, !readOnly)
	if err != nil {
		return nil, err
	}
	return &Region{fd: fd, m: m, size: size, name: name, dir: dir, readOnly: readOnly}, nil
}

// noFault makes a memory fault in the calling goroutine (a read of a
// mapping past the end of a file someone shrank) a panic that faultErr
// recovers as ErrTrunc.  Use: defer faultErr(noFault(), &err).
func noFault() bool { return debug.SetPanicOnFault(true) }

func faultErr(old bool, err *error) {
	debug.SetPanicOnFault(old)
	if e := recover(); e != nil {
		if _, ok := e.(interface{ Addr() uintptr }); ok { // a memory fault
			*err = ErrTrunc
			return
		}
		panic(e)
	}
}

func (r *Region) hdr() *regionHdr { return (*regionHdr)(r.m.base()) }

func (r *Region) entry(i uint32) *objEntry {
	return (*objEntry)(unsafe.Add(r.m.base(), tableOff+uintptr(i)*unsafe.Sizeof(objEntry{})))
}

// pathsFit reports whether every path rill makes for region name in dir
// fits in PATH_MAX (4096 bytes with its NUL): the longest is a consumer's
// FIFO for a channel name of 39 bytes and slot 255.  Checked when a region
// is created or opened, so that no later join fails for it (as in C).
func pathsFit(dir, name string) bool {
	return len(fifoPath(dir, name, strings.Repeat("c", NameMax), 255)) < 4096
}

// CreateRegion creates region name (a file dir/name) of opts.Size bytes,
// reserving its pages up front (free space is checked first).  The file
// appears fully formed: it is built under a temporary name and linked into
// place.  Names are 1 to NameMax bytes of [A-Za-z0-9._-], not starting with
// '.'.  Errors: ErrInval, ErrExist, ErrNoDir (a *NotExistError), ErrAccess,
// ErrNoSpace, ErrNoHuge (RegionOpts.Huge; also a hugetlbfs directory whose
// pool is short), ErrIO; ErrInval also for a directory too deep for the
// consumers' FIFO paths (DIR/.rill-fifo@NAME@CHANNEL@SLOT under 4096 bytes).
func CreateRegion(name string, opts *RegionOpts) (*Region, error) {
	var o RegionOpts
	if opts != nil {
		o = *opts
	}
	if !validName(name) {
		return nil, ErrInval
	}
	size := o.Size
	if size == 0 {
		size = defaultRegion
	}
	if size < 2*pageSize || size > 1<<62 {
		return nil, ErrInval
	}
	mode := o.Mode
	if mode == 0 {
		mode = 0o600
	}
	if mode&^0o7777 != 0 {
		return nil, ErrInval
	}
	dir := regionDir(o.Dir)
	if !pathsFit(dir, name) {
		return nil, ErrInval
	}
	// The directory's file system decides the pages: on hugetlbfs huge
	// ones, whose multiple the file's length must be.  Huge asks for them;
	// elsewhere a directory we cannot look at is left for fileCreate to
	// report.
	page, huge, err := dirPage(dir)
	if err != nil && o.Huge {
		return nil, notExist(err, dir, name, "")
	}
	if err != nil || page < pageSize {
		page, huge = pageSize, false
	}
	if o.Huge && !huge {
		return nil, ErrNoHuge
	}
	size = alignUp(size, page)
	path := dir + "/" + name
	// Built under a name no region can have (leading '.'), then linked.
	tmp := fmt.Sprintf("%s/.%s.%d.%016x.tmp", dir, name, os.Getpid(), randomSeed())
	fd, err := fileCreate(tmp, size, mode)
	if err != nil {
		return nil, notExist(err, dir, name, "") // ErrNoDir: names the directory
	}
	r, err := newRegion(name, dir, fd, size, false)
	if err != nil {
		closeFd(fd)
		fileUnlink(tmp)
		return nil, err
	}
	h := r.hdr()
	h.version = layoutVersion
	h.hdrSize = pageSize
	h.size = size
	h.createdNs = realNs()
	h.creatorPid = uint32(os.Getpid())
	h.creatorUid = processUid()
	h.objMax = maxObjects
	atomic.StoreUint32(&h.objCnt, 0)
	h.allocOff = pageSize
	fileTag(fd, h.createdNs, h.creatorPid) // names the wait objects (Windows)
	// Release (seq_cst): pairs with the acquire load of magic in OpenRegion.
	atomic.StoreUint64(&h.magic, regionMagic)
	lerr := fileLink(tmp, path)
	if lerr != nil {
		r.Close()
		return nil, lerr
	}
	return r, nil
}

func entryOK(e *objEntry, allocOff uint64) bool {
	name, ok := cName(&e.name)
	if !ok || !validName(name) || e.typ != objChannel {
		return false
	}
	if e.off < pageSize || e.off%pageSize != 0 || e.size%pageSize != 0 {
		return false
	}
	return e.size != 0 && e.off <= allocOff && e.size <= allocOff-e.off
}

// validate checks the header and table of a region mapped over fileSize
// bytes (PROTOCOL.md §1.3).
func (r *Region) validate(fileSize uint64) (err error) {
	defer faultErr(noFault(), &err)
	h := r.hdr()
	// Acquire: pairs with the release store of magic at creation.
	if atomic.LoadUint64(&h.magic) != regionMagic {
		return ErrMagic
	}
	if fileSize < pageSize {
		return ErrTrunc
	}
	if h.version != layoutVersion {
		return ErrVersion
	}
	if h.size > fileSize {
		return ErrTrunc
	}
	if h.hdrSize != pageSize || h.objMax != maxObjects || h.size < 2*pageSize || h.size%pageSize != 0 {
		return ErrCorrupt
	}
	cnt := atomic.LoadUint32(&h.objCnt)
	if cnt > h.objMax || h.allocOff < pageSize || h.allocOff > h.size || h.allocOff%pageSize != 0 {
		return ErrCorrupt
	}
	for i := uint32(0); i < cnt; i++ {
		if !entryOK(r.entry(i), h.allocOff) {
			return ErrCorrupt
		}
	}
	fileTag(r.fd, h.createdNs, h.creatorPid) // names the wait objects (Windows)
	return nil
}

// OpenRegion opens an existing region, validating magic, version, sizes,
// alignment and every table offset against the file's real length (only
// opts.Dir and opts.ReadOnly are used).  A lock another process holds on
// the file for more than a second gives ErrBusy.  Errors: ErrInval,
// ErrNoEnt and ErrNoDir (as a *NotExistError naming the region and
// directory), ErrAccess, ErrBusy, ErrEmpty, ErrTrunc, ErrMagic,
// ErrVersion, ErrCorrupt, ErrIO.
func OpenRegion(name string, opts *RegionOpts) (*Region, error) {
	if !validName(name) {
		return nil, ErrInval
	}
	dir, readOnly := "", false
	if opts != nil {
		dir, readOnly = opts.Dir, opts.ReadOnly
	}
	dir = regionDir(dir)
	if !pathsFit(dir, name) {
		return nil, ErrInval
	}
	fd, size, err := fileOpen(dir+"/"+name, !readOnly)
	if err != nil {
		return nil, notExist(err, dir, name, "")
	}
	if size == 0 {
		closeFd(fd)
		return nil, ErrEmpty
	}
	if size < 8 {
		closeFd(fd)
		return nil, ErrMagic
	}
	r, err := newRegion(name, dir, fd, size, readOnly)
	if err != nil {
		closeFd(fd)
		return nil, err
	}
	if linked, err := fileLinked(fd); err != nil || !linked { // removed by a cleaner
		r.Close()
		if err != nil {
			return nil, err
		}
		return nil, notExist(ErrNoEnt, dir, name, "")
	}
	if err := r.validate(size); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// OpenRegionWait is OpenRegion that waits, up to timeout (Forever: no
// limit; 0 or less: opens once), for region name to appear, for a process
// started before the one that creates it.  It sleeps until the name is
// linked into the directory (inotify, set before the first look, so a
// region made at any moment is not missed), not polling.  A region appears
// fully formed, so any answer but "not there" is final: a file that is not
// a valid region fails at once as OpenRegion says.  The directory must
// exist.  Errors: ErrTimedOut, and those of OpenRegion (ErrNoDir also if
// the directory is removed meanwhile).  As rill_region_open_wait.
func OpenRegionWait(name string, opts *RegionOpts, timeout time.Duration) (*Region, error) {
	if !validName(name) {
		return nil, ErrInval
	}
	if timeout <= 0 {
		return OpenRegion(name, opts)
	}
	dir := ""
	if opts != nil {
		dir = opts.Dir
	}
	deadline := uint64(math.MaxUint64)
	if timeout != Forever {
		deadline = addSat(monoNs(), uint64(timeout))
	}
	// The watch first, then the first look: a region linked after the
	// watch was set wakes the wait, one linked before is found by the look.
	w, err := dirWatch(regionDir(dir))
	if err != nil {
		return nil, err
	}
	defer closeFd(w)
	for {
		// ErrNoEnt: not there yet, or removed by a cleaner as we came.
		r, err := OpenRegion(name, opts)
		if !errors.Is(err, ErrNoEnt) {
			return r, err
		}
		now := monoNs()
		if now >= deadline {
			return nil, ErrTimedOut
		}
		left := Forever
		if deadline != math.MaxUint64 {
			left = time.Duration(deadline - now)
		}
		if err := dirWatchWait(w, name, left); err != nil && err != ErrTimedOut {
			return nil, err
		}
	}
}

// Close unmaps the region and drops its lock.  Endpoints joined through it
// stay valid: each keeps its own mapping.
func (r *Region) Close() error {
	if r == nil || r.fd < 0 {
		return nil
	}
	r.m.unmap()
	closeFd(r.fd)
	r.fd = -1
	return nil
}

// Name is the region's name ("" for a nil region).
func (r *Region) Name() string {
	if r == nil {
		return ""
	}
	return r.name
}

// Dir is the directory the region's file is in ("" for a nil region).
func (r *Region) Dir() string {
	if r == nil {
		return ""
	}
	return r.dir
}

// Info describes the region (the zero RegionInfo once it is closed, or if
// its file was shrunk under us).
func (r *Region) Info() (ri RegionInfo) {
	if r == nil || r.fd < 0 {
		return RegionInfo{}
	}
	var err error
	defer faultErr(noFault(), &err)
	h := r.hdr()
	cnt := atomic.LoadUint32(&h.objCnt)
	if cnt > maxObjects {
		cnt = maxObjects
	}
	owner, _ := fileOwner(r.fd)
	page, _, _ := filePage(r.fd)
	info := RegionInfo{Size: h.size, Used: h.allocOff, Created: wallTime(h.createdNs),
		CreatorPid: h.creatorPid, CreatorUid: h.creatorUid, Objects: cnt, OwnerUid: owner,
		PageSize: page}
	return info
}

// Objects lists the region's object table in the order the objects were
// created (the entries rill_region_object_get returns).  Entries are
// validated when the region is opened and never change after.  Errors:
// ErrInval (the region is closed), ErrTrunc (its file was shrunk).
func (r *Region) Objects() (_ []ObjectInfo, err error) {
	if r == nil || r.fd < 0 {
		return nil, ErrInval
	}
	defer faultErr(noFault(), &err)
	n := r.objCount()
	out := make([]ObjectInfo, n)
	for i := uint32(0); i < n; i++ {
		e := *r.entry(i) // a private copy
		name := e.name[:objNameSize-1]
		for j, c := range name {
			if c == 0 {
				name = name[:j]
				break
			}
		}
		out[i] = ObjectInfo{Name: string(name), Type: e.typ, Off: e.off, Size: e.size}
	}
	return out, nil
}

// ListRegions lists the rill regions in dir ("" = $RILL_DIR or /dev/shm):
// the files with a valid name whose first page starts with a region's
// magic, sorted by name.  Nothing is locked or kept open: a region may be
// gone by the time it is opened.  Errors: ErrNoDir, ErrAccess, ErrIO.
func ListRegions(dir string) ([]string, error) {
	d := regionDir(dir)
	names, err := dirNames(d)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, name := range names {
		if !validName(name) { // temporary files, FIFOs, others
			continue
		}
		if isRegion(d + "/" + name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// isRegion is true if path is a regular file that starts with a region's
// magic (one we may open: as rill_region_list, files we cannot open are
// not listed).
func isRegion(path string) bool {
	fd, size, err := fileOpen(path, false)
	if err != nil { // gone meanwhile, or not ours to read
		return false
	}
	defer closeFd(fd)
	// A copy, not a mapping: the file may be shrunk at any moment.  The
	// magic is in place before a region is linked under its name.
	return size >= pageSize && readMagic(fd) == regionMagic
}

// UnlinkRegion removes region name from dir ("" = $RILL_DIR or /dev/shm)
// and the FIFOs of its consumers.  Processes that have it mapped keep using
// it.  A missing region or directory is a *NotExistError.
func UnlinkRegion(name, dir string) error {
	if !validName(name) {
		return ErrInval
	}
	d := regionDir(dir)
	if err := fileUnlink(d + "/" + name); err != nil {
		return notExist(err, d, name, "")
	}
	fifosUnlink(d, name)
	return nil
}

// lockUnused opens dir/name if it is a rill region (by its magic) and tries
// the exclusive whole-file lock: the fd locked (no user alive), ErrBusy (in
// use) or an error (ErrMagic: not a region).
func lockUnused(dir, name string) (int, error) {
	fd, size, err := fileOpen(dir+"/"+name, true)
	if err != nil {
		return -1, err
	}
	// A copy, not a mapping (as isRegion).
	if size < pageSize || readMagic(fd) != regionMagic {
		closeFd(fd)
		return -1, ErrMagic
	}
	if err := lockAllTry(fd); err != nil {
		closeFd(fd)
		return -1, err
	}
	return fd, nil
}

// RegionInUse reports whether some live process has region name open or
// joined to one of its channels.  A missing region or directory is a
// *NotExistError.
func RegionInUse(name, dir string) (bool, error) {
	if !validName(name) {
		return false, ErrInval
	}
	// Read-only: asking needs no right to write the file.  Any lock held
	// by another open file description is a user's.
	d := regionDir(dir)
	fd, size, err := fileOpen(d+"/"+name, false)
	if err != nil {
		return false, notExist(err, d, name, "")
	}
	defer closeFd(fd)
	if size < pageSize || readMagic(fd) != regionMagic {
		return false, ErrMagic
	}
	return lockAnyHeld(fd)
}

// CleanRegions finds the regions in dir whose every user is dead and removes
// them (with their FIFOs) unless dryRun.  A region in use is never touched:
// removal happens under an exclusive lock that no live user can be holding.
// fn, if not nil, is called for each unused region found.  It returns how
// many were found.
func CleanRegions(dir string, dryRun bool, fn func(name string, removed bool, err error)) (int, error) {
	d := regionDir(dir)
	names, err := dirNames(d)
	if err != nil {
		return 0, err
	}
	found := 0
	for _, name := range names {
		if !validName(name) { // temporary files, FIFOs, others
			continue
		}
		fd, err := lockUnused(d, name)
		if err != nil { // in use, or not ours
			continue
		}
		found++
		removed := false
		var rerr error
		if !dryRun {
			// Under our exclusive lock nobody can be using it: a process
			// that opens it now waits for the lock, then finds it unlinked.
			if rerr = fileUnlink(d + "/" + name); rerr == nil {
				fifosUnlink(d, name)
				removed = true
			}
		}
		lockReleaseAll(fd)
		closeFd(fd)
		if fn != nil {
			fn(name, removed, rerr)
		}
	}
	return found, nil
}

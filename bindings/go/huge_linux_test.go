// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Huge pages (RegionOpts.Huge), as tests/test_huge.c checks them in C:
// ErrNoHuge and no file left outside hugetlbfs and with no huge pages; as
// root, on a hugetlbfs mount of the test's own with vm.nr_hugepages set
// (and put back), a region Go made carries a stream to the C peer and one
// the C peer made carries a stream to Go, every byte checked, the Go
// mappings huge (KernelPageSize in /proc/self/smaps), the pages taken at
// creation and all back in the pool at the end.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	nrHuge     = "/proc/sys/vm/nr_hugepages"
	nrHugeOver = "/proc/sys/vm/nr_overcommit_hugepages"
)

func TestHugeNotHugetlbfs(t *testing.T) {
	dir := testTempDir(t)
	if _, err := CreateRegion("h", &RegionOpts{Size: 1 << 20, Dir: dir, Huge: true}); err != ErrNoHuge {
		t.Fatalf("Huge outside hugetlbfs: %v, want ErrNoHuge", err)
	}
	if !strings.Contains(ErrNoHuge.Error(), "huge") {
		t.Fatalf("ErrNoHuge says %q", ErrNoHuge.Error())
	}
	hugeNoFile(t, dir)
	r, err := CreateRegion("p", &RegionOpts{Size: 1 << 20, Dir: dir})
	must(t, err)
	defer r.Close()
	if ps := r.Info().PageSize; ps != uint64(os.Getpagesize()) {
		t.Fatalf("PageSize of a tmpfs region: %d", ps)
	}
	o, err := OpenRegion("p", &RegionOpts{Dir: dir, Huge: true}) // ignored by open
	must(t, err)
	o.Close()
}

func hugeNoFile(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	if len(ents) != 0 {
		t.Fatalf("%d files left in %s (%s...)", len(ents), dir, ents[0].Name())
	}
}

// hugeFree is HugePages_Free of /proc/meminfo.
func hugeFree(t *testing.T) uint64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	must(t, err)
	defer f.Close()
	for s := bufio.NewScanner(f); s.Scan(); {
		var v uint64
		if _, err := fmt.Sscanf(s.Text(), "HugePages_Free: %d", &v); err == nil {
			return v
		}
	}
	t.Fatal("no HugePages_Free in /proc/meminfo")
	return 0
}

// pageOf is the KernelPageSize of the mapping of this process that holds
// b[0], from /proc/self/smaps.
func pageOf(t *testing.T, b []byte) uint64 {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	must(t, err)
	p := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		var lo, hi, kb uint64
		if _, err := fmt.Sscanf(line, "%x-%x", &lo, &hi); err == nil { // a mapping's first line
			in = p >= lo && p < hi
		} else if _, err := fmt.Sscanf(line, "KernelPageSize: %d kB", &kb); err == nil && in {
			return kb << 10
		}
	}
	t.Fatalf("no mapping holds %#x in /proc/self/smaps", p)
	return 0
}

func sysctl(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return strings.TrimSpace(string(b))
}

// hugePool gives the test, as root, a hugetlbfs mount of its own in a
// fresh directory, with vm.nr_hugepages at n (vm.nr_overcommit_hugepages
// 0: no surplus pages), and returns the directory and the huge page size;
// it skips, saying why, where it cannot.  Everything is put back as it was
// when the test ends, by a shell that waits for this process to close a
// pipe: so also when the process dies (killed at go test's timeout), as
// the C tests' watchdog does.  Runs take turns with each other and with
// tests/test_huge.c on an flock of /proc/sys/vm/nr_hugepages, which the
// shell inherits and holds until it has put the values back.
func hugePool(t *testing.T, n int) (string, uint64) {
	if os.Geteuid() != 0 {
		t.Skip("huge pages: needs root (a hugetlbfs mount, vm.nr_hugepages)")
	}
	lock, err := os.OpenFile(nrHuge, os.O_RDONLY, 0)
	if err != nil {
		t.Skipf("huge pages: this kernel has none: %v", err)
	}
	defer lock.Close() // the shell keeps its own copy
	for {
		if err = unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != unix.EINTR {
			break
		}
	}
	must(t, err)
	oldNr, oldOver := sysctl(t, nrHuge), sysctl(t, nrHugeOver)
	dir := t.TempDir() // (the shell removes it: a process killed does not clean up)
	if err := unix.Mount("rill-test", dir, "hugetlbfs", 0, "mode=0700"); err != nil {
		t.Skipf("huge pages: cannot mount hugetlbfs: %v", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		t.Fatal(err)
	}
	undo := exec.Command("sh", "-c", `cat >/dev/null; umount -l "$1"; rmdir "$1"; `+
		`echo "$2" >`+nrHugeOver+`; echo "$3" >`+nrHuge, "sh", dir, oldOver, oldNr)
	undo.Stdin = pr
	undo.Stderr = os.Stderr
	undo.ExtraFiles = []*os.File{lock} // its fd 3: the flock, held until it exits
	if err := undo.Start(); err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		t.Fatal(err)
	}
	pr.Close()
	t.Cleanup(func() {
		pw.Close()
		if err := undo.Wait(); err != nil {
			t.Errorf("putting huge pages back: %v", err)
		}
		if nr, over := sysctl(t, nrHuge), sysctl(t, nrHugeOver); nr != oldNr || over != oldOver {
			t.Errorf("vm.nr_hugepages %s and nr_overcommit_hugepages %s, were %s and %s",
				nr, over, oldNr, oldOver)
		}
	})
	var st unix.Statfs_t
	must(t, unix.Statfs(dir, &st))
	hp := uint64(st.Bsize)
	if hp != 2<<20 {
		t.Skipf("huge pages: the default huge page size is %d KiB; these tests count in 2 MiB pages", hp>>10)
	}
	for _, s := range []struct{ path, v string }{{nrHugeOver, "0"}, {nrHuge, strconv.Itoa(n)}} {
		if err := os.WriteFile(s.path, []byte(s.v), 0); err != nil {
			t.Skipf("huge pages: cannot write %s: %v", s.path, err)
		}
	}
	if got := sysctl(t, nrHuge); got != strconv.Itoa(n) {
		t.Skipf("huge pages: asked for %d, the kernel made %s", n, got)
	}
	return dir, hp
}

// No huge pages: ErrNoHuge, with Huge or without (the directory decides),
// and nothing left.
func TestHugeNoPool(t *testing.T) {
	dir, _ := hugePool(t, 0)
	for _, huge := range []bool{true, false} {
		if _, err := CreateRegion("h", &RegionOpts{Size: 4 << 20, Dir: dir, Huge: huge}); err != ErrNoHuge {
			t.Fatalf("Huge %v with no huge pages: %v, want ErrNoHuge", huge, err)
		}
		hugeNoFile(t, dir)
	}
}

// Go creates, the C peer consumes; then a pool too small.
func TestHugeGoToC(t *testing.T) {
	dir, hp := hugePool(t, 8)
	free0 := hugeFree(t)
	r, err := CreateRegion("g", &RegionOpts{Size: 2*hp + hp/2, Dir: dir, Huge: true})
	must(t, err)
	if got := hugeFree(t); got != free0-3 {
		t.Fatalf("HugePages_Free %d after creating 3 pages' worth, was %d", got, free0)
	}
	if ri := r.Info(); ri.Size != 3*hp || ri.PageSize != hp {
		t.Fatalf("info: size %d, page size %d", ri.Size, ri.PageSize)
	}
	must(t, r.CreateChannel("a", &ChannelOpts{Depth: 1024, MTU: 1024}))
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 1024, MTU: 256, MaxMsg: 4096}))
	n := scale(200000)
	c := startC(t, "consume", dir, "g", "c", fmt.Sprint(n), "13", "reliable", "0")
	c.ready(t)
	must(t, produceStream(r, "c", n, 13, 0))
	c.wait(t)
	p, err := r.JoinProducer("c") // (joined before, it would have told C it left)
	must(t, err)
	if ps := pageOf(t, p.data); ps != hp {
		t.Fatalf("the Go producer's ring is mapped in pages of %d bytes", ps)
	}
	must(t, p.Leave())
	r.Close()
	must(t, UnlinkRegion("g", dir))
	if got := hugeFree(t); got != free0 {
		t.Fatalf("HugePages_Free %d once the region is gone, was %d: a mapping left", got, free0)
	}
	if _, err := CreateRegion("g", &RegionOpts{Size: (free0 + 1) * hp, Dir: dir, Huge: true}); err != ErrNoHuge {
		t.Fatalf("a region one page larger than the pool: %v, want ErrNoHuge", err)
	}
	hugeNoFile(t, dir)
	if got := hugeFree(t); got != free0 {
		t.Fatalf("HugePages_Free %d after a failed creation, was %d", got, free0)
	}
}

// The C peer creates (RILL_REGION_HUGE), Go consumes.
func TestHugeCToGo(t *testing.T) {
	dir, hp := hugePool(t, 20)
	xp := xpeer(t)
	free0 := hugeFree(t)
	runCmd(t, xp, append([]string{"create", dir, "x", "c"}, append(strings.Fields(xChanArgs),
		"33554432", "huge")...)...)
	if got := hugeFree(t); got != free0-16 {
		t.Fatalf("HugePages_Free %d after C created 16 pages' worth, was %d", got, free0)
	}
	r, err := OpenRegion("x", &RegionOpts{Dir: dir})
	must(t, err)
	if ri := r.Info(); ri.PageSize != hp || ri.Size != 32<<20 {
		t.Fatalf("info: size %d, page size %d", ri.Size, ri.PageSize)
	}
	n := scale(200000)
	errs := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		_, _, err := consumeStream(r, "c", n, 11, Reliable, 0, false, nil, func() { close(ready) })
		errs <- err
	}()
	<-ready
	c, err := r.JoinConsumer("c", Lossy)
	must(t, err)
	if ps := pageOf(t, c.data); ps != hp {
		t.Fatalf("the Go consumer's ring is mapped in pages of %d bytes", ps)
	}
	must(t, c.Leave())
	runCmd(t, xp, "produce", dir, "x", "c", fmt.Sprint(n), "11")
	must(t, <-errs)
	r.Close()
	must(t, UnlinkRegion("x", dir))
	if got := hugeFree(t); got != free0 {
		t.Fatalf("HugePages_Free %d once the region is gone, was %d: a mapping left", got, free0)
	}
}

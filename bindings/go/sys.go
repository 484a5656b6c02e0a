// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// What sys_linux.go and sys_windows.go share: the region directory and
// lock waits with a bound, made of each OS's defaultDir and lock calls.

import (
	"os"
	"time"
)

// regionDir is the directory regions go to: dir if given, else $RILL_DIR,
// else the OS's default (/dev/shm, %LOCALAPPDATA%\rill).
func regionDir(dir string) string {
	if dir != "" {
		return dir
	}
	if env := os.Getenv("RILL_DIR"); env != "" {
		return env
	}
	return defaultDir()
}

// lockWait is how long a lock wait lasts at most (RILL_LOCK_WAIT_NS): a
// well-behaved holder (a cleaner, a channel's creation) holds the lock for
// an instant, and one that holds it longer (stopped, or hostile: anyone
// who can open the file can take a lock) must not hang us.
const lockWait = time.Second

// lockRetry calls try until it returns something else than ErrBusy,
// napping between calls (lockNapFirst, doubling to lockNapMax: each OS
// says), for at most lockWait; then ErrBusy.
func lockRetry(try func() error) error {
	deadline := time.Now().Add(lockWait)
	nap := lockNapFirst
	for {
		err := try()
		if err != ErrBusy {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ErrBusy
		}
		time.Sleep(min(nap, left))
		nap = min(2*nap, lockNapMax)
	}
}

// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Child processes of the cross-process tests (a peer program, or this test
//! binary re-run in a role): their stdout read line by line on a thread, so
//! that waiting for a line has a deadline; their stderr kept for the
//! failure message; killed (SIGKILL) and reaped on drop, so that a failing
//! test leaves no process behind.
#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any wait for a child may take before the test fails. The
/// peers give up on their own waits after 10 s.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Starts `cmd` with its three standard streams piped.
    pub fn start(name: impl Into<String>, mut cmd: Command) -> Proc {
        let name = name.into();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: spawn {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Proc {
            name,
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: Some(stderr),
            status: None,
        }
    }

    /// Kills it (SIGKILL) if it runs, reaps it, and returns what it wrote
    /// on stderr.
    fn reap_stderr(&mut self) -> String {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        self.stdin = None;
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    /// Fails the test with `what`, the child's exit status and its stderr
    /// (killing it first if it runs).
    #[track_caller]
    fn fail(&mut self, what: &str) -> ! {
        let err = self.reap_stderr();
        panic!(
            "{}: {what} (exit: {:?})\n--- its stderr:\n{err}",
            self.name, self.status
        );
    }

    /// The next line of its stdout, within `timeout`.
    #[track_caller]
    pub fn line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => {
                self.fail(&format!("no line on stdout in {timeout:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => self.fail("stdout closed"),
        }
    }

    /// Skips lines until one that `want` accepts (the test harness of a
    /// re-run test binary prints its own lines), within `timeout`.
    #[track_caller]
    pub fn line_where(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let l = self.line(left);
            if want(l.trim_end()) {
                return l.trim_end().to_string();
            }
        }
    }

    /// Writes one line to its stdin.
    #[track_caller]
    pub fn send_line(&mut self, line: &str) {
        let r = match self.stdin.as_mut() {
            Some(w) => writeln!(w, "{line}").and_then(|()| w.flush()),
            None => Ok(()),
        };
        if let Err(e) = r {
            self.fail(&format!("write to stdin: {e}"));
        }
    }

    /// Waits for it to exit 0 within `timeout`; returns the lines of its
    /// stdout not read yet.
    #[track_caller]
    pub fn wait_ok(mut self, timeout: Duration) -> Vec<String> {
        self.stdin = None; // EOF: whoever waits on stdin goes on
        let end = Instant::now() + timeout;
        let mut rest = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => rest.push(l),
                Err(RecvTimeoutError::Disconnected) => break, // stdout closed: it exits
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "still running after {timeout:?}; stdout: {rest:?}"
                )),
            }
        }
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    self.status = Some(st);
                    break;
                }
                Ok(None) if Instant::now() < end => {
                    // It closed its stdout and is exiting: look again shortly.
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(None) => self.fail("closed its stdout but does not exit"),
                Err(e) => self.fail(&format!("wait: {e}")),
            }
        }
        if !self.status.is_some_and(|s| s.success()) {
            self.fail(&format!("failed; stdout: {rest:?}"));
        }
        rest
    }

    /// Kills it with SIGKILL (std's `Child::kill` on unix) and reaps it:
    /// when this returns, the process is gone and its locks with it.
    pub fn kill(&mut self) {
        if self.status.is_some() {
            self.fail("exited before it was killed");
        }
        self.child.kill().expect("kill");
        let st = self.child.wait().expect("wait");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                st.signal(),
                Some(9),
                "{}: not killed by SIGKILL: {st:?}",
                self.name
            );
        }
        self.status = Some(st);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `cond` until it gives `Some`, or fails after `timeout` saying
/// `what` (for conditions another process makes true and that have no
/// wait of their own: stats it flushes, its exit).
#[track_caller]
pub fn poll_until<T>(timeout: Duration, what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < end, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

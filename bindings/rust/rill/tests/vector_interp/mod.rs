// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The Rust interpreter of the shared test vectors (tests/vectors/*.vec,
//! whose header comment is the format's specification): the counterpart
//! of `rill_xpeer vector write|check FILE DIR` (tests/xpeer.c), whose
//! parsing rules and failure messages (`FILE:LINE: expected X, got Y`) it
//! repeats, so that a mismatch reads the same whichever language found it.
//!
//! It goes through the safe `rill` API wherever that has the call:
//!
//! | line | call |
//! |---|---|
//! | region (writer) / checker's open | `Region::create` / `Region::open` |
//! | channel | `Region::create_channel` |
//! | consumer | `Channel::reliable` / `Channel::lossy`, then `Consumer::slot` |
//! | rejoin | `Channel::rejoin_any` (the slot's mode, kept for a slot whose consumer left) |
//! | producer | `Channel::producer` |
//! | commit | `Producer::reserve`, fill, `Reservation::commit_with` |
//! | send | `Producer::send` |
//! | recv | `Consumer::recv` (`Ok(None)` is `again`) |
//! | poll | `Consumer::poll`; a lossy view is copied and checked by `LossyView::read` |
//! | wait | `Consumer::recv_wait` (5 s) |
//! | flush, leave | `flush()`, `leave()` of the endpoint |
//! | stats, slot | `Region::channel_stats`, `Channel::consumer_stats` |
//!
//! What the safe API does not let it compare as C does, without raw calls:
//! the byte count `rill_recv` returns apart from `meta.sz` (the crate
//! returns only the latter, [`rill::Meta::size`]); a reliable view's
//! `rill_check` (the crate has none for reliable views, which cannot be
//! overwritten); and `evicted`, read as a bool (C compares the u32).
//!
//! The writer must exit with the endpoints it did not leave explicitly
//! still joined, so that the checker finds them dead: [`peer_main`] is the
//! entry of a child process (the test binary itself, see tests/vector.rs)
//! and ends with `std::process::exit`, no destructor run.
#![allow(dead_code)] // each test file uses part of it

use rill::{
    ChannelOptions, Consumer, Error, Lossy, ModeKind, Peer, Producer, Region, RegionOptions,
    Reliable,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The timeout of `wait` lines (xpeer.c's VEC_WAIT_NS).
const WAIT: Duration = Duration::from_secs(5);
/// The receive buffer of `recv` and `wait` lines (VEC_BUF).
const BUF: usize = 65536;
/// Consumer slots a process may hold on a channel (MAX_SLOTS).
const MAX_SLOTS: u64 = 256;
const MAX_TOKENS: usize = 32;
const MAX_KV: usize = 16;

/// The environment of a child run by [`run_peer`]: its role (`write` or
/// `check`), the vector file, the region directory.
pub const ROLE_VAR: &str = "RILL_RS_VECTOR_ROLE";
pub const FILE_VAR: &str = "RILL_RS_VECTOR_FILE";
pub const DIR_VAR: &str = "RILL_RS_VECTOR_DIR";
/// The #[test] of tests/vector.rs that calls [`peer_main`].
pub const ENTRY_TEST: &str = "vector_peer";

/// Which part of the vector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The lines before `check`, in a region created in the directory.
    Write,
    /// The lines after `check`, in the region the writer left.
    Check,
}

/// A failure: the whole `FILE:LINE: ...` line.
pub type Fail = String;

/// Where a line is, to blame it.
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'a str,
    line: usize,
}

impl At<'_> {
    fn fail(&self, msg: impl fmt::Display) -> Fail {
        format!("{}:{}: {}", self.file, self.line, msg)
    }
    fn err<T>(&self, msg: impl fmt::Display) -> Result<T, Fail> {
        Err(self.fail(msg))
    }
    /// `expected WHAT WANT, got GOT`.
    fn eq(&self, what: &str, want: u64, got: u64) -> Result<(), Fail> {
        if want != got {
            return self.err(format!("expected {what} {want}, got {got}"));
        }
        Ok(())
    }
    /// A call that must succeed.
    fn call<T>(&self, what: &str, r: rill::Result<T>) -> Result<T, Fail> {
        r.map_err(|e| {
            self.fail(format!(
                "expected {what} to succeed, got {} ({e})",
                code_name(&e)
            ))
        })
    }
}

/// The short name of an error, as the vector files and xpeer.c spell them.
pub fn code_name(e: &Error) -> &'static str {
    match e {
        Error::Again => "again",
        Error::Overrun { .. } => "overrun",
        Error::Invalid => "inval",
        Error::NoMemory => "nomem",
        Error::NotFound => "noent",
        Error::Exists => "exist",
        Error::PermissionDenied => "acces",
        Error::NoDirectory => "nodir",
        Error::NoSpace => "nospc",
        Error::Busy => "busy",
        Error::Full => "full",
        Error::EmptyFile => "empty",
        Error::Truncated => "trunc",
        Error::BadMagic => "magic",
        Error::BadVersion => "version",
        Error::Corrupt => "corrupt",
        Error::MessageSize { .. } => "msgsize",
        Error::TimedOut => "timedout",
        Error::Io { .. } => "io",
        Error::Closed => "closed",
        Error::ProducerDead => "dead",
        _ => "unknown error",
    }
}

/// Byte `j` of the message with sig `sig`.
pub fn pattern(sig: u64, j: u64) -> u8 {
    sig.wrapping_mul(31).wrapping_add(j) as u8
}

// ---- parsing -----------------------------------------------------------

/// What `commit` and `send` expect ([expect again|msgsize]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    Again,
    MsgSize,
}

impl Expect {
    fn name(self) -> &'static str {
        match self {
            Expect::Ok => "ok",
            Expect::Again => "again",
            Expect::MsgSize => "msgsize",
        }
    }
    /// The outcome of a call against this expectation.
    fn check<T>(self, at: At<'_>, what: &str, r: &rill::Result<T>) -> Result<(), Fail> {
        let good = matches!(
            (self, r),
            (Expect::Ok, Ok(_))
                | (Expect::Again, Err(Error::Again))
                | (Expect::MsgSize, Err(Error::MessageSize { .. }))
        );
        if !good {
            let got = match r {
                Ok(_) => "ok",
                Err(e) => code_name(e),
            };
            return at.err(format!("expected {what} {}, got {got}", self.name()));
        }
        Ok(())
    }
}

/// A consumer slot, or the producer (flush and leave).
#[derive(Debug, Clone, Copy)]
enum Who {
    Slot(u32),
    Producer,
}

#[derive(Debug, Clone, Copy)]
enum RecvWant {
    Again,
    Msg {
        size: u64,
        sig: u64,
        ctl: u64,
        tsorig: u64,
        lost: u64,
    },
}

#[derive(Debug, Clone, Copy)]
enum PollWant {
    Msg {
        seq: u64,
        size: u64,
        sig: u64,
        ctl: u64,
        tsorig: u64,
        offset: u64,
    },
    Overrun {
        lost: u64,
    },
    Empty,
}

/// The keys of `stats` and `slot` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Seq,
    Msgs,
    Bytes,
    Backpressure,
    Consumers,
    Evictions,
    Producer,
    Mode,
    OverrunPoll,
    OverrunRead,
    Lost,
    Liveness,
    Evicted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Num,
    Peer,
    Mode,
}

/// (name, key, in stats lines, in slot lines, how its value reads)
const KEYS: &[(&str, Key, bool, bool, KeyType)] = &[
    ("seq", Key::Seq, true, true, KeyType::Num),
    ("msgs", Key::Msgs, true, true, KeyType::Num),
    ("bytes", Key::Bytes, true, true, KeyType::Num),
    ("backpressure", Key::Backpressure, true, false, KeyType::Num),
    ("consumers", Key::Consumers, true, false, KeyType::Num),
    ("evictions", Key::Evictions, true, false, KeyType::Num),
    ("producer", Key::Producer, true, false, KeyType::Peer),
    ("mode", Key::Mode, false, true, KeyType::Mode),
    ("overrun_poll", Key::OverrunPoll, false, true, KeyType::Num),
    ("overrun_read", Key::OverrunRead, false, true, KeyType::Num),
    ("lost", Key::Lost, false, true, KeyType::Num),
    ("liveness", Key::Liveness, false, true, KeyType::Peer),
    ("evicted", Key::Evicted, false, true, KeyType::Num),
];

/// A value of a key, as a line gives it or the stats hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    Num(u64),
    Peer(Peer),
    /// `None`: a free slot.
    Mode(Option<ModeKind>),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Val::Num(n) => return write!(f, "{n}"),
            Val::Peer(Peer::None) => "none",
            Val::Peer(Peer::Alive) => "alive",
            Val::Peer(Peer::Dead) => "dead",
            Val::Peer(Peer::Unknown) => "unknown",
            Val::Mode(Some(ModeKind::Reliable)) => "reliable",
            Val::Mode(Some(ModeKind::Lossy)) => "lossy",
            Val::Mode(None) => "free",
        })
    }
}

#[derive(Debug, Clone)]
struct KeyVal {
    name: &'static str,
    key: Key,
    want: Val,
}

/// One line of a vector, parsed.
#[derive(Debug, Clone)]
enum Line {
    Region {
        name: String,
        size: u64,
    },
    Channel {
        chan: String,
        opts: ChannelOptions,
    },
    Consumer {
        chan: String,
        mode: ModeKind,
    },
    Rejoin {
        chan: String,
        slot: u32,
    },
    Producer {
        chan: String,
    },
    Commit {
        chan: String,
        size: usize,
        sig: u64,
        ctl: u16,
        tsorig: u32,
        expect: Expect,
    },
    Send {
        chan: String,
        size: usize,
        sig: u64,
        expect: Expect,
    },
    Recv {
        chan: String,
        slot: u32,
        want: RecvWant,
    },
    Poll {
        chan: String,
        slot: u32,
        want: PollWant,
    },
    Wait {
        chan: String,
        slot: u32,
        /// `Error::Closed` or `Error::ProducerDead`.
        want: Error,
    },
    Flush {
        chan: String,
        who: Who,
    },
    Leave {
        chan: String,
        who: Who,
    },
    Stats {
        chan: String,
        kv: Vec<KeyVal>,
    },
    Slot {
        chan: String,
        slot: u32,
        kv: Vec<KeyVal>,
    },
    Check,
}

#[derive(Debug, Clone)]
struct Op {
    line: usize,
    what: Line,
}

/// A vector file, parsed whole: a mistake anywhere fails before anything
/// runs.
#[derive(Debug, Clone)]
pub struct Vector {
    file: String,
    ops: Vec<Op>,
    /// The index of the `check` line in `ops`.
    split: usize,
}

/// Strict decimal: digits only (no sign, no space), within u64.
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The tokens of one line, and where it is.
struct Toks<'a> {
    at: At<'a>,
    tok: Vec<&'a str>,
}

impl<'a> Toks<'a> {
    fn n(&self) -> usize {
        self.tok.len()
    }
    fn num(&self, k: usize, what: &str, max: u64) -> Result<u64, Fail> {
        let t = self.tok[k];
        let Some(v) = parse_u64(t) else {
            return self
                .at
                .err(format!("expected {what} (a decimal number), got '{t}'"));
        };
        if v > max {
            return self.at.err(format!("expected {what} <= {max}, got {v}"));
        }
        Ok(v)
    }
    fn count(&self, want: usize) -> Result<(), Fail> {
        if self.n() != want {
            return self.at.err(format!(
                "expected {want} tokens for '{}', got {}",
                self.tok[0],
                self.n()
            ));
        }
        Ok(())
    }
    fn slot(&self, k: usize) -> Result<u32, Fail> {
        Ok(self.num(k, "a consumer slot", MAX_SLOTS - 1)? as u32)
    }
    fn who(&self, k: usize) -> Result<Who, Fail> {
        if self.tok[k] == "producer" {
            return Ok(Who::Producer);
        }
        self.slot(k).map(Who::Slot)
    }
    /// `[expect again|msgsize]` at token `k`.
    fn opt_expect(&self, k: usize) -> Result<Expect, Fail> {
        if self.n() == k {
            return Ok(Expect::Ok);
        }
        if self.n() != k + 2 || self.tok[k] != "expect" {
            return self.at.err(format!(
                "expected '{} ... [expect again|msgsize]', got extra tokens",
                self.tok[0]
            ));
        }
        match self.tok[k + 1] {
            "again" => Ok(Expect::Again),
            "msgsize" => Ok(Expect::MsgSize),
            x => self.at.err(format!("expected again or msgsize, got '{x}'")),
        }
    }
    /// The `key=value` tokens from `first` on.
    fn kv(&self, first: usize, stats: bool) -> Result<Vec<KeyVal>, Fail> {
        let mut out = Vec::new();
        for t in &self.tok[first..] {
            if out.len() == MAX_KV {
                return self
                    .at
                    .err(format!("expected at most {MAX_KV} keys, got more"));
            }
            let Some((k, v)) = t.split_once('=') else {
                return self.at.err(format!("expected key=value, got '{t}'"));
            };
            let Some(&(name, key, _, _, ty)) = KEYS
                .iter()
                .find(|d| d.0 == k && if stats { d.2 } else { d.3 })
            else {
                let kind = if stats { "stats" } else { "slot" };
                return self.at.err(format!("expected a {kind} key, got '{k}'"));
            };
            let want = match ty {
                KeyType::Num => {
                    let Some(n) = parse_u64(v) else {
                        return self
                            .at
                            .err(format!("expected {name} (a decimal number), got '{v}'"));
                    };
                    Val::Num(n)
                }
                KeyType::Peer => Val::Peer(match v {
                    "none" => Peer::None,
                    "alive" => Peer::Alive,
                    "dead" => Peer::Dead,
                    _ => {
                        return self
                            .at
                            .err(format!("expected {name}=none|alive|dead, got '{v}'"));
                    }
                }),
                KeyType::Mode => Val::Mode(Some(match v {
                    "reliable" => ModeKind::Reliable,
                    "lossy" => ModeKind::Lossy,
                    _ => {
                        return self
                            .at
                            .err(format!("expected mode=reliable|lossy, got '{v}'"));
                    }
                })),
            };
            out.push(KeyVal { name, key, want });
        }
        Ok(out)
    }

    fn parse(&self) -> Result<Line, Fail> {
        let verb = self.tok[0];
        let at = self.at;
        if verb == "check" {
            self.count(1)?;
            return Ok(Line::Check);
        }
        if self.n() < 2 {
            return at.err(format!("expected a name after '{verb}', got nothing"));
        }
        let name = self.tok[1];
        if name.len() > rill::NAME_MAX {
            return at.err(format!(
                "expected a name of at most {} bytes, got '{name}'",
                rill::NAME_MAX
            ));
        }
        let chan = name.to_string();
        let u32max = u64::from(u32::MAX);
        let u16max = u64::from(u16::MAX);
        Ok(match verb {
            "region" => {
                self.count(3)?;
                Line::Region {
                    name: chan,
                    size: self.num(2, "SIZE", u64::MAX)?,
                }
            }
            "channel" => {
                self.count(6)?;
                let opts = ChannelOptions::new()
                    .depth(self.num(2, "DEPTH", u32max)? as u32)
                    .mtu(self.num(3, "MTU", u32max)? as u32)
                    .max_consumers(self.num(4, "MAX_CONSUMERS", u32max)? as u32)
                    .max_msg(self.num(5, "MAX_MSG", u64::MAX)?);
                Line::Channel { chan, opts }
            }
            "consumer" => {
                self.count(3)?;
                let mode = match self.tok[2] {
                    "reliable" => ModeKind::Reliable,
                    "lossy" => ModeKind::Lossy,
                    x => return at.err(format!("expected reliable or lossy, got '{x}'")),
                };
                Line::Consumer { chan, mode }
            }
            "rejoin" => {
                self.count(3)?;
                Line::Rejoin {
                    chan,
                    slot: self.slot(2)?,
                }
            }
            "producer" => {
                self.count(2)?;
                Line::Producer { chan }
            }
            "commit" => {
                if self.n() < 6 {
                    self.count(6)?;
                }
                Line::Commit {
                    chan,
                    size: self.num(2, "SIZE", u16max + 1)? as usize,
                    sig: self.num(3, "SIG", u64::MAX)?,
                    ctl: self.num(4, "CTL", u16max)? as u16,
                    tsorig: self.num(5, "TSORIG", u32max)? as u32,
                    expect: self.opt_expect(6)?,
                }
            }
            "send" => {
                if self.n() < 4 {
                    self.count(4)?;
                }
                Line::Send {
                    chan,
                    size: self.num(2, "SIZE", 1 << 30)? as usize,
                    sig: self.num(3, "SIG", u64::MAX)?,
                    expect: self.opt_expect(4)?,
                }
            }
            "recv" | "poll" | "wait" => {
                if self.n() < 5 || self.tok[3] != "expect" {
                    return at.err(format!(
                        "expected '{verb} CHAN SLOT expect ...', got {} tokens",
                        self.n()
                    ));
                }
                let slot = self.slot(2)?;
                match (verb, self.tok[4]) {
                    ("recv", "again") => {
                        self.count(5)?;
                        Line::Recv {
                            chan,
                            slot,
                            want: RecvWant::Again,
                        }
                    }
                    ("recv", _) => {
                        self.count(9)?;
                        let want = RecvWant::Msg {
                            size: self.num(4, "SIZE", BUF as u64)?,
                            sig: self.num(5, "SIG", u64::MAX)?,
                            ctl: self.num(6, "CTL", u16max)?,
                            tsorig: self.num(7, "TSORIG", u32max)?,
                            lost: self.num(8, "LOST", u64::MAX)?,
                        };
                        Line::Recv { chan, slot, want }
                    }
                    ("poll", "msg") => {
                        self.count(11)?;
                        let want = PollWant::Msg {
                            seq: self.num(5, "SEQ", u64::MAX)?,
                            size: self.num(6, "SIZE", u16max)?,
                            sig: self.num(7, "SIG", u64::MAX)?,
                            ctl: self.num(8, "CTL", u16max)?,
                            tsorig: self.num(9, "TSORIG", u32max)?,
                            offset: self.num(10, "OFFSET", u64::MAX)?,
                        };
                        Line::Poll { chan, slot, want }
                    }
                    ("poll", "overrun") => {
                        self.count(6)?;
                        let lost = self.num(5, "LOST", u64::MAX)?;
                        Line::Poll {
                            chan,
                            slot,
                            want: PollWant::Overrun { lost },
                        }
                    }
                    ("poll", "empty") => {
                        self.count(5)?;
                        Line::Poll {
                            chan,
                            slot,
                            want: PollWant::Empty,
                        }
                    }
                    ("wait", x @ ("closed" | "dead")) => {
                        self.count(5)?;
                        let want = if x == "closed" {
                            Error::Closed
                        } else {
                            Error::ProducerDead
                        };
                        Line::Wait { chan, slot, want }
                    }
                    (_, x) => {
                        let what = match verb {
                            "poll" => "expect msg|overrun|empty",
                            _ => "expect closed|dead",
                        };
                        return at.err(format!("expected {what}, got 'expect {x}'"));
                    }
                }
            }
            "flush" => {
                self.count(3)?;
                Line::Flush {
                    chan,
                    who: self.who(2)?,
                }
            }
            "leave" => {
                self.count(3)?;
                Line::Leave {
                    chan,
                    who: self.who(2)?,
                }
            }
            "stats" => Line::Stats {
                chan,
                kv: self.kv(2, true)?,
            },
            "slot" => {
                if self.n() < 3 {
                    self.count(3)?;
                }
                Line::Slot {
                    chan,
                    slot: self.slot(2)?,
                    kv: self.kv(3, false)?,
                }
            }
            _ => return at.err(format!("expected a known verb, got '{verb}'")),
        })
    }
}

impl Vector {
    /// Reads and parses vector file `path` (named as given in failures).
    pub fn load(path: &Path) -> Result<Vector, Fail> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot open: {e}"))?;
        Vector::parse(&file, &text)
    }

    /// Parses the text of a vector; `file` names it in failures.
    pub fn parse(file: &str, text: &str) -> Result<Vector, Fail> {
        let mut ops = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let at = At { file, line: i + 1 };
            let line = raw.split('#').next().unwrap_or("");
            let tok: Vec<&str> = line
                .split([' ', '\t', '\r'])
                .filter(|t| !t.is_empty())
                .collect();
            if tok.is_empty() {
                continue;
            }
            if tok.len() > MAX_TOKENS {
                return at.err(format!("expected at most {MAX_TOKENS} tokens, got more"));
            }
            let what = Toks { at, tok }.parse()?;
            ops.push(Op {
                line: at.line,
                what,
            });
        }
        let mut split = None;
        for (i, op) in ops.iter().enumerate() {
            if matches!(op.what, Line::Check) {
                if split.is_some() {
                    let at = At {
                        file,
                        line: op.line,
                    };
                    return at.err("expected one check line, got a second one");
                }
                split = Some(i);
            }
        }
        let Some(split) = split else {
            return At { file, line: 0 }.err("expected a line 'check', got none");
        };
        Ok(Vector {
            file: file.to_string(),
            ops,
            split,
        })
    }
}

// ---- running -----------------------------------------------------------

/// A consumer of this process, of either mode.
enum Cons {
    Reliable(Consumer<Reliable>),
    Lossy(Consumer<Lossy>),
}

/// A received message's metadata: the byte count the receive returned and
/// `meta` (the safe API has one number for both, [`rill::Meta::size`]).
struct Msg {
    count: u64,
    size: u64,
    sig: u64,
    ctl: u16,
    tsorig: u32,
    lost: u64,
}

impl From<rill::Meta> for Msg {
    fn from(m: rill::Meta) -> Msg {
        Msg {
            count: m.size,
            size: m.size,
            sig: m.sig,
            ctl: m.ctl,
            tsorig: m.tsorig,
            lost: m.lost,
        }
    }
}

/// What a poll found, copied out of the view.
enum Polled {
    Empty,
    Overrun(u64),
    Msg {
        seq: u64,
        sig: u64,
        ctl: u16,
        tsorig: u32,
        data: Vec<u8>,
        /// The view's check after the copy (`LossyView::read`,
        /// `rill_check`); the safe API has none for a reliable view, whose
        /// bytes cannot be overwritten.
        intact: rill::Result<()>,
    },
    Err(Error),
}

impl Cons {
    fn recv(&mut self, buf: &mut [u8]) -> rill::Result<Option<Msg>> {
        match self {
            Cons::Reliable(c) => c.recv(buf).map(|m| m.map(Msg::from)),
            Cons::Lossy(c) => c.recv(buf).map(|m| m.map(Msg::from)),
        }
    }
    fn recv_wait(&mut self, buf: &mut [u8], timeout: Duration) -> rill::Result<Msg> {
        match self {
            Cons::Reliable(c) => c.recv_wait(buf, timeout).map(Msg::from),
            Cons::Lossy(c) => c.recv_wait(buf, timeout).map(Msg::from),
        }
    }
    fn poll(&mut self) -> Polled {
        match self {
            Cons::Reliable(c) => match c.poll() {
                Ok(None) => Polled::Empty,
                Ok(Some(v)) => Polled::Msg {
                    seq: v.seq(),
                    sig: v.sig(),
                    ctl: v.ctl(),
                    tsorig: v.tsorig(),
                    data: v.to_vec(),
                    intact: Ok(()),
                },
                Err(Error::Overrun { lost }) => Polled::Overrun(lost),
                Err(e) => Polled::Err(e),
            },
            Cons::Lossy(c) => match c.poll() {
                Ok(None) => Polled::Empty,
                Ok(Some(v)) => {
                    let mut data = vec![0u8; v.len()];
                    let intact = v.read(&mut data).map(|_| ());
                    Polled::Msg {
                        seq: v.seq(),
                        sig: v.sig(),
                        ctl: v.ctl(),
                        tsorig: v.tsorig(),
                        data,
                        intact,
                    }
                }
                Err(Error::Overrun { lost }) => Polled::Overrun(lost),
                Err(e) => Polled::Err(e),
            },
        }
    }
    fn flush(&mut self) -> rill::Result<()> {
        match self {
            Cons::Reliable(c) => c.flush(),
            Cons::Lossy(c) => c.flush(),
        }
    }
    fn leave(self) -> rill::Result<()> {
        match self {
            Cons::Reliable(c) => c.leave(),
            Cons::Lossy(c) => c.leave(),
        }
    }
    fn slot(&self) -> u32 {
        match self {
            Cons::Reliable(c) => c.slot(),
            Cons::Lossy(c) => c.slot(),
        }
    }
}

/// A channel as the interpreter knows it: the endpoints of this process.
#[derive(Default)]
struct Chan {
    prod: Option<Producer>,
    cons: BTreeMap<u32, Cons>,
    /// Where the next commit goes on in its message.
    frag_off: u64,
}

impl Chan {
    fn prod(&mut self, at: At<'_>, name: &str) -> Result<&mut Producer, Fail> {
        self.prod.as_mut().ok_or_else(|| {
            at.fail(format!(
                "expected a producer of this process on {name}, got none"
            ))
        })
    }
    fn cons(&mut self, at: At<'_>, name: &str, slot: u32) -> Result<&mut Cons, Fail> {
        self.cons.get_mut(&slot).ok_or_else(|| {
            at.fail(format!(
                "expected a consumer of this process in slot {slot} of {name}, got none"
            ))
        })
    }
}

/// Compares `p` with bytes `[off, off + p.len())` of the message with sig `sig`.
fn check_payload(at: At<'_>, p: &[u8], sig: u64, off: u64) -> Result<(), Fail> {
    for (j, &b) in p.iter().enumerate() {
        let want = pattern(sig, off.wrapping_add(j as u64));
        if b != want {
            return at.err(format!(
                "expected payload byte {j} = 0x{want:02x}, got 0x{b:02x}"
            ));
        }
    }
    Ok(())
}

/// The interpreter's state: the region and the endpoints it holds.
/// Dropping it leaves them; the writer's process must not (see
/// [`peer_main`]).
pub struct Runner {
    dir: PathBuf,
    region: Option<Region>,
    chans: HashMap<String, Chan>,
    buf: Vec<u8>,
}

impl Runner {
    /// A runner on region directory `dir`.
    pub fn new(dir: &Path) -> Runner {
        Runner {
            dir: dir.to_path_buf(),
            region: None,
            chans: HashMap::new(),
            buf: vec![0; BUF],
        }
    }

    /// Runs one part of `v`.
    pub fn run(&mut self, v: &Vector, phase: Phase) -> Result<(), Fail> {
        let file = v.file.as_str();
        match phase {
            Phase::Write => {
                for op in &v.ops[..v.split] {
                    self.op(file, op, false)?;
                }
            }
            Phase::Check => {
                let check = At {
                    file,
                    line: v.ops[v.split].line,
                };
                let region = v.ops[..v.split].iter().rev().find_map(|op| match &op.what {
                    Line::Region { name, .. } => Some((op.line, name)),
                    _ => None,
                });
                let Some((line, name)) = region else {
                    return check.err("expected a region line before check, got none");
                };
                let at = At { file, line };
                let opts = RegionOptions::new().dir(&self.dir);
                self.region = Some(at.call("rill_region_open", Region::open(name, &opts))?);
                for op in &v.ops[v.split + 1..] {
                    self.op(file, op, true)?;
                }
            }
        }
        Ok(())
    }

    fn op(&mut self, file: &str, op: &Op, checker: bool) -> Result<(), Fail> {
        let at = At {
            file,
            line: op.line,
        };
        let Runner {
            dir,
            region,
            chans,
            buf,
        } = self;
        if let Line::Region { name, size } = &op.what {
            if checker {
                return at.err("expected no region line after check, got one");
            }
            if region.is_some() {
                return at.err("expected one region line, got a second one");
            }
            let opts = RegionOptions::new().dir(&*dir).size(*size);
            *region = Some(at.call("rill_region_create", Region::create(name, &opts))?);
            return Ok(());
        }
        let Some(region) = region.as_ref() else {
            return at.err("expected a region line before this one, got none");
        };
        match &op.what {
            Line::Region { .. } | Line::Check => Ok(()),
            Line::Channel { chan, opts } => {
                at.call("rill_channel_create", region.create_channel(chan, opts))?;
                Ok(())
            }
            Line::Consumer { chan, mode } => {
                let c = at.call(
                    "rill_consumer_join",
                    region.channel(chan).and_then(|ch| match mode {
                        ModeKind::Reliable => ch.reliable().map(Cons::Reliable),
                        ModeKind::Lossy => ch.lossy().map(Cons::Lossy),
                    }),
                )?;
                hold(at, chans.entry(chan.clone()).or_default(), c)
            }
            Line::Rejoin { chan, slot } => {
                // In the mode the slot had (its cursor page keeps it, even
                // for a slot whose consumer left).
                let c = at.call(
                    "rill_consumer_rejoin",
                    region
                        .channel(chan)
                        .and_then(|ch| ch.rejoin_any(*slot))
                        .map(|c| match c {
                            rill::AnyConsumer::Reliable(c) => Cons::Reliable(c),
                            rill::AnyConsumer::Lossy(c) => Cons::Lossy(c),
                        }),
                )?;
                at.eq("slot", u64::from(*slot), u64::from(c.slot()))?;
                hold(at, chans.entry(chan.clone()).or_default(), c)
            }
            Line::Producer { chan } => {
                let c = chans.entry(chan.clone()).or_default();
                if c.prod.is_some() {
                    return at.err(format!(
                        "expected no producer of this process on {chan}, got one"
                    ));
                }
                let p = at.call(
                    "rill_producer_join",
                    region.channel(chan).and_then(|ch| ch.producer()),
                )?;
                c.prod = Some(p);
                c.frag_off = 0;
                Ok(())
            }
            Line::Commit {
                chan,
                size,
                sig,
                ctl,
                tsorig,
                expect,
            } => {
                let c = chans.entry(chan.clone()).or_default();
                let frag_off = c.frag_off;
                let p = c.prod(at, chan)?;
                let mut r = match p.reserve(*size) {
                    Ok(r) if *expect == Expect::Ok => r,
                    other => return expect.check(at, "reserve", &other.map(|_| ())),
                };
                let off = if ctl & rill::ctl::SOM != 0 {
                    0
                } else {
                    frag_off
                };
                for (j, b) in r.iter_mut().enumerate() {
                    *b = pattern(*sig, off + j as u64);
                }
                let res = r.commit_with(*size, *sig, *ctl, *tsorig);
                Expect::Ok.check(at, "commit", &res)?;
                c.frag_off = if ctl & rill::ctl::EOM != 0 {
                    0
                } else {
                    off + *size as u64
                };
                Ok(())
            }
            Line::Send {
                chan,
                size,
                sig,
                expect,
            } => {
                let p = chans.entry(chan.clone()).or_default().prod(at, chan)?;
                let data: Vec<u8> = (0..*size as u64).map(|j| pattern(*sig, j)).collect();
                expect.check(at, "send", &p.send(&data, *sig))
            }
            Line::Recv { chan, slot, want } => {
                let k = chans
                    .entry(chan.clone())
                    .or_default()
                    .cons(at, chan, *slot)?;
                let res = k.recv(buf);
                match *want {
                    RecvWant::Again => match res {
                        Ok(None) => Ok(()),
                        Ok(Some(m)) => at.err(format!(
                            "expected again, got a message of {} bytes (sig {})",
                            m.size, m.sig
                        )),
                        Err(e) => at.err(format!("expected again, got {}", code_name(&e))),
                    },
                    RecvWant::Msg {
                        size,
                        sig,
                        ctl,
                        tsorig,
                        lost,
                    } => {
                        let m = match res {
                            Ok(Some(m)) => m,
                            Ok(None) => {
                                return at
                                    .err(format!("expected a message of {size} bytes, got again"));
                            }
                            Err(e) => {
                                return at.err(format!(
                                    "expected a message of {size} bytes, got {}",
                                    code_name(&e)
                                ));
                            }
                        };
                        // rill_recv's count and meta.sz are one number in
                        // the safe API (Meta::size): compared twice there.
                        at.eq("size", size, m.count)?;
                        at.eq("meta.sz", size, m.size)?;
                        at.eq("sig", sig, m.sig)?;
                        at.eq("ctl", ctl, u64::from(m.ctl))?;
                        at.eq("tsorig", tsorig, u64::from(m.tsorig))?;
                        at.eq("lost", lost, m.lost)?;
                        check_payload(at, &buf[..m.count as usize], m.sig, 0)
                    }
                }
            }
            Line::Poll { chan, slot, want } => {
                let k = chans
                    .entry(chan.clone())
                    .or_default()
                    .cons(at, chan, *slot)?;
                let got = k.poll();
                let name = |p: &Polled| match p {
                    Polled::Empty => "again",
                    Polled::Overrun(_) => "overrun",
                    Polled::Msg { .. } => "ok",
                    Polled::Err(e) => code_name(e),
                };
                match (*want, got) {
                    (PollWant::Empty, Polled::Empty) => Ok(()),
                    (PollWant::Empty, Polled::Msg { seq, .. }) => {
                        at.err(format!("expected empty, got a descriptor (seq {seq})"))
                    }
                    (PollWant::Empty, g) => at.err(format!("expected empty, got {}", name(&g))),
                    (PollWant::Overrun { lost }, Polled::Overrun(got)) => at.eq("lost", lost, got),
                    (PollWant::Overrun { .. }, Polled::Msg { seq, .. }) => {
                        at.err(format!("expected overrun, got a descriptor (seq {seq})"))
                    }
                    (PollWant::Overrun { .. }, g) => {
                        at.err(format!("expected overrun, got {}", name(&g)))
                    }
                    (
                        PollWant::Msg {
                            seq,
                            size,
                            sig,
                            ctl,
                            tsorig,
                            offset,
                        },
                        Polled::Msg {
                            seq: g_seq,
                            sig: g_sig,
                            ctl: g_ctl,
                            tsorig: g_tsorig,
                            data,
                            intact,
                        },
                    ) => {
                        at.eq("seq", seq, g_seq)?;
                        at.eq("size", size, data.len() as u64)?;
                        at.eq("sig", sig, g_sig)?;
                        at.eq("ctl", ctl, u64::from(g_ctl))?;
                        at.eq("tsorig", tsorig, u64::from(g_tsorig))?;
                        // A copy that failed its check is not the payload.
                        if let Err(e) = intact {
                            return at.err(format!(
                                "expected the payload intact (rill_check), got {}",
                                code_name(&e)
                            ));
                        }
                        check_payload(at, &data, g_sig, offset)
                    }
                    (PollWant::Msg { .. }, g) => at.err(format!("expected msg, got {}", name(&g))),
                }
            }
            Line::Wait { chan, slot, want } => {
                let k = chans
                    .entry(chan.clone())
                    .or_default()
                    .cons(at, chan, *slot)?;
                let wname = code_name(want);
                match k.recv_wait(buf, WAIT) {
                    Ok(m) => at.err(format!(
                        "expected {wname}, got a message of {} bytes (sig {})",
                        m.size, m.sig
                    )),
                    Err(e) if e == *want => Ok(()),
                    Err(e) => at.err(format!("expected {wname}, got {}", code_name(&e))),
                }
            }
            Line::Flush { chan, who } => {
                let c = chans.entry(chan.clone()).or_default();
                match *who {
                    Who::Producer => at.call("rill_producer_flush", c.prod(at, chan)?.flush()),
                    Who::Slot(s) => at.call("rill_consumer_flush", c.cons(at, chan, s)?.flush()),
                }
            }
            Line::Leave { chan, who } => {
                let c = chans.entry(chan.clone()).or_default();
                match *who {
                    Who::Producer => {
                        c.prod(at, chan)?;
                        let p = c.prod.take().expect("checked above");
                        at.call("rill_producer_leave", p.leave())
                    }
                    Who::Slot(s) => {
                        c.cons(at, chan, s)?;
                        let k = c.cons.remove(&s).expect("checked above");
                        at.call("rill_consumer_leave", k.leave())
                    }
                }
            }
            Line::Stats { chan, kv } => {
                let st = at.call("rill_channel_stats_get", region.channel_stats(chan))?;
                for d in kv {
                    let got = match d.key {
                        Key::Seq => Val::Num(st.seq),
                        Key::Msgs => Val::Num(st.msgs),
                        Key::Bytes => Val::Num(st.bytes),
                        Key::Backpressure => Val::Num(st.backpressure),
                        Key::Consumers => Val::Num(u64::from(st.consumers)),
                        Key::Evictions => Val::Num(st.evictions),
                        Key::Producer => Val::Peer(st.producer),
                        _ => unreachable!("not a stats key: {}", d.name),
                    };
                    kv_eq(at, d, got)?;
                }
                Ok(())
            }
            Line::Slot { chan, slot, kv } => {
                let st = at.call("rill_channel_stats_get", region.channel_stats(chan))?;
                if *slot >= st.max_consumers {
                    return at.err(format!(
                        "expected a slot below max_consumers {}, got {slot}",
                        st.max_consumers
                    ));
                }
                let cs = at.call(
                    "rill_consumer_stats_get",
                    region.channel(chan).and_then(|ch| ch.consumer_stats(*slot)),
                )?;
                for d in kv {
                    let got = match d.key {
                        Key::Seq => Val::Num(cs.seq),
                        Key::Msgs => Val::Num(cs.msgs),
                        Key::Bytes => Val::Num(cs.bytes),
                        Key::Mode => Val::Mode(cs.mode),
                        Key::OverrunPoll => Val::Num(cs.overrun_poll),
                        Key::OverrunRead => Val::Num(cs.overrun_read),
                        Key::Lost => Val::Num(cs.lost),
                        Key::Liveness => Val::Peer(cs.liveness),
                        Key::Evicted => Val::Num(u64::from(cs.evicted)),
                        _ => unreachable!("not a slot key: {}", d.name),
                    };
                    kv_eq(at, d, got)?;
                }
                Ok(())
            }
        }
    }
}

/// Keeps consumer `c` in its slot, which this process must not hold yet.
fn hold(at: At<'_>, ch: &mut Chan, c: Cons) -> Result<(), Fail> {
    let slot = c.slot();
    if u64::from(slot) >= MAX_SLOTS || ch.cons.contains_key(&slot) {
        return at.err(format!("expected a slot not held here, got slot {slot}"));
    }
    ch.cons.insert(slot, c);
    Ok(())
}

fn kv_eq(at: At<'_>, d: &KeyVal, got: Val) -> Result<(), Fail> {
    if got != d.want {
        let k = d.name;
        return at.err(format!("expected {k}={}, got {k}={got}", d.want));
    }
    Ok(())
}

// ---- the child process -------------------------------------------------

/// The peer's entry: runs the part of the vector `$RILL_RS_VECTOR_ROLE`
/// names (`write` or `check`) on `$RILL_RS_VECTOR_FILE` in
/// `$RILL_RS_VECTOR_DIR`, then exits as rill_xpeer does: 0 on success, 1
/// with one line on stderr on a failure, 2 on a usage error. It exits
/// without leaving the endpoints it did not leave explicitly (no
/// destructor runs), so that the checker finds them dead.
pub fn peer_main(role: &str) -> ! {
    let usage = || -> ! {
        eprintln!("usage: {ROLE_VAR}=write|check {FILE_VAR}=FILE {DIR_VAR}=DIR");
        std::process::exit(2)
    };
    let phase = match role {
        "write" => Phase::Write,
        "check" => Phase::Check,
        _ => usage(),
    };
    let (Some(file), Some(dir)) = (std::env::var_os(FILE_VAR), std::env::var_os(DIR_VAR)) else {
        usage()
    };
    let mut runner = Runner::new(Path::new(&dir));
    let rc = match Vector::load(Path::new(&file)).and_then(|v| runner.run(&v, phase)) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("{msg}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // Every endpoint not left explicitly stays joined: the kernel drops
    // their locks at exit, and the checker finds them dead.
    std::mem::forget(runner);
    std::process::exit(rc)
}

/// Runs this test binary as a Rust vector peer (`role` is `write` or
/// `check`) on `file` in `dir`, to its end, output captured.
pub fn run_peer(role: &str, file: &Path, dir: &Path) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    Command::new(exe)
        .args([ENTRY_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .env(FILE_VAR, file)
        .env(DIR_VAR, dir)
        .stdin(Stdio::null())
        .output()
        .expect("the test binary runs")
}

/// [`run_peer`] that panics with the peer's stderr unless it exits 0.
#[track_caller]
pub fn run_peer_ok(role: &str, file: &Path, dir: &Path) -> Output {
    let out = run_peer(role, file, dir);
    assert!(
        out.status.success(),
        "rust peer vector {role} {} {} failed ({}): {}",
        file.display(),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

// ---- the masked byte comparison (tests/vectors/README.md, "Same bytes") --

/// A copy of region file `b` with the fields two writers may leave
/// different zeroed: times, pids, latency samples, the stamp requests that
/// ask for them, the producer's ASYM flag (the table of
/// tests/vectors/README.md; docs/PROTOCOL.md §4). As Python's and Go's
/// `mask`.
pub fn mask(b: &[u8]) -> Vec<u8> {
    const PAGE: usize = 4096;
    const TABLE: usize = 128;
    const ENTRY: usize = 64;
    const MAX_OBJECTS: usize = 62;
    const DESC: usize = 32;
    let mut b = b.to_vec();
    let u32_at = |b: &[u8], o: usize| {
        b.get(o..o + 4)
            .map_or(0, |s| u32::from_le_bytes(s.try_into().unwrap()) as usize)
    };
    let u64_at = |b: &[u8], o: usize| {
        b.get(o..o + 8)
            .map_or(0, |s| u64::from_le_bytes(s.try_into().unwrap()) as usize)
    };
    let zero = |b: &mut Vec<u8>, o: usize, n: usize| {
        let end = o.saturating_add(n).min(b.len());
        if o < end {
            b[o..end].fill(0);
        }
    };
    zero(&mut b, 24, 8); // region created_ns
    zero(&mut b, 32, 4); // creator_pid
    for i in 0..u32_at(&b, 44).min(MAX_OBJECTS) {
        let off = u64_at(&b, TABLE + i * ENTRY + 48);
        let (depth, max_consumers) = (u32_at(&b, off + 24), u32_at(&b, off + 32));
        zero(&mut b, off + 104, 8); // channel created_ns
        let prod = off + PAGE;
        zero(&mut b, prod + 12, 4); // producer pid
        zero(&mut b, prod + 20, 4); // flags (ASYM)
        zero(&mut b, prod + 32, 8); // hb_ns
        zero(&mut b, off + 2 * PAGE + 8, 4); // wait page stamp_req
        let cursors = off + 3 * PAGE;
        for s in 0..max_consumers {
            let k = cursors + s * PAGE;
            zero(&mut b, k + 16, 4); // pid
            zero(&mut b, k + 32, 8); // hb_ns
            zero(&mut b, k + 128, 8); // lat_sum
            zero(&mut b, k + 192, 1024); // lat (samples)
        }
        let meta = cursors + max_consumers * PAGE;
        for d in 0..depth {
            zero(&mut b, meta + d * DESC + 28, 4); // tspub
        }
    }
    b
}

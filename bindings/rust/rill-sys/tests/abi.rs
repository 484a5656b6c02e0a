// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The bindings against include/rill.h and include/rill_rpc.h:
//!   - `layout_and_constants`: every struct's size, alignment, field
//!     offsets and field sizes, and every constant, as the C compiler sees
//!     them (abi_probe.c, compiled by build.rs) and as Rust sees lib.rs;
//!   - `probe_covers_abi_layout`: the probe lists every line of
//!     abi/layout.txt (the checked list of the ABI, which ctest abi_layout
//!     compares with the C compiler), so that a field added to a header
//!     and to layout.txt cannot be missed here;
//!   - `every_function_is_bound`, `every_constant_is_bound`: the headers
//!     read as text; each function they declare is in lib.rs's extern
//!     block (under `#[cfg(unix)]` or `#[cfg(windows)]` when the header
//!     declares it under `#ifndef _WIN32` or its `#else`), each function of
//!     lib.rs is in one of them, and each integer constant of theirs is a
//!     `pub const`.
use core::ffi::{CStr, c_char};
use core::mem::{align_of, offset_of, size_of};
use rill_sys::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[repr(C)]
struct ProbeEntry {
    name: *const c_char,
    value: u64,
}

unsafe extern "C" {
    static rill_sys_abi_probe: [ProbeEntry; 0];
    static rill_sys_abi_probe_len: usize;
}

/// The entries of abi_probe.c, by name.
fn probe() -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    // SAFETY: abi_probe.c defines rill_sys_abi_probe as a const array of
    // rill_sys_abi_probe_len entries ({const char *, uint64_t}, the layout
    // of ProbeEntry), each name a string literal; nothing writes them.
    let entries = unsafe {
        core::slice::from_raw_parts(
            core::ptr::addr_of!(rill_sys_abi_probe).cast::<ProbeEntry>(),
            rill_sys_abi_probe_len,
        )
    };
    for e in entries {
        // SAFETY: each name is a NUL-terminated string literal (above).
        let name = unsafe { CStr::from_ptr(e.name) }
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            m.insert(name.clone(), e.value).is_none(),
            "{name} twice in abi_probe.c"
        );
    }
    m
}

fn field_size<T, F>(_: impl Fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// The same entries, as Rust lays out lib.rs.
fn rust() -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    let mut put = |k: String, v: u64| assert!(m.insert(k.clone(), v).is_none(), "{k} twice");
    macro_rules! layout {
        ($t:ident { $($f:ident),* $(,)? }) => {
            put(format!("{} size", stringify!($t)), size_of::<$t>() as u64);
            put(format!("{} align", stringify!($t)), align_of::<$t>() as u64);
            $(
                let f = stringify!($f).trim_start_matches("r#");
                put(format!("{}.{f} offset", stringify!($t)), offset_of!($t, $f) as u64);
                put(format!("{}.{f} size", stringify!($t)), field_size(|s: &$t| &s.$f) as u64);
            )*
        };
    }
    macro_rules! consts {
        ($($c:ident),* $(,)?) => { $( put(stringify!($c).to_string(), $c as u64); )* };
    }
    consts!(
        RILL_VERSION_MAJOR,
        RILL_VERSION_MINOR,
        RILL_VERSION_PATCH,
        RILL_VERSION
    );
    put(
        "RILL_CHECK_VERSION(0, 2, 0)".into(),
        RILL_CHECK_VERSION(0, 2, 0) as u64,
    );
    put(
        "RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH)".into(),
        RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH) as u64,
    );
    put(
        "RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH + 1)".into(),
        RILL_CHECK_VERSION(
            RILL_VERSION_MAJOR,
            RILL_VERSION_MINOR,
            RILL_VERSION_PATCH + 1,
        ) as u64,
    );
    put(
        "RILL_CHECK_VERSION(RILL_VERSION_MAJOR + 1, 0, 0)".into(),
        RILL_CHECK_VERSION(RILL_VERSION_MAJOR + 1, 0, 0) as u64,
    );
    consts!(RILL_ERR_MAX_);
    put("RILL_CTL_USER(5)".into(), RILL_CTL_USER(5) as u64);
    put("RILL_CTL_USER(0x1fff)".into(), RILL_CTL_USER(0x1fff) as u64);

    layout!(rill_region_opts {
        size,
        dir,
        mode,
        flags,
        reserved
    });
    layout!(rill_clean_opts {
        dir,
        min_age_ns,
        flags,
        reserved0,
        reserved
    });
    layout!(rill_region_info {
        size,
        used,
        created_ns,
        creator_pid,
        creator_uid,
        nobjects,
        owner_uid,
        page_size,
        reserved
    });
    layout!(rill_object_info {
        name,
        r#type,
        reserved0,
        off,
        size,
        reserved
    });
    layout!(rill_channel_opts {
        depth,
        mtu,
        max_consumers,
        flags,
        max_msg,
        reserved
    });
    layout!(rill_view {
        data,
        seq,
        sig,
        sz,
        ctl,
        reserved0,
        tsorig,
        tspub,
        lost,
        reserved
    });
    layout!(rill_msg {
        data,
        sz,
        sig,
        ctl,
        reserved0,
        tsorig
    });
    layout!(rill_meta {
        seq,
        sig,
        sz,
        lost,
        ctl,
        reserved0,
        tsorig,
        tspub,
        reserved
    });
    layout!(rill_channel_stats {
        depth,
        mtu,
        max_consumers,
        nconsumers,
        max_msg,
        off,
        size,
        meta_off,
        data_off,
        data_chunks,
        seq0,
        created_ns,
        seq,
        msgs,
        bytes,
        backpressure,
        producer_joined,
        producer_liveness,
        producer_pid,
        producer_gen,
        producer_heartbeat_ns,
        evictions,
        wakes,
        reserved
    });
    layout!(rill_consumer_stats {
        slot,
        mode,
        seq,
        lag,
        msgs,
        bytes,
        overrun_poll,
        overrun_read,
        lost,
        liveness,
        evicted,
        parked,
        pid,
        heartbeat_ns,
        reserved
    });
    layout!(rill_latency {
        count,
        sum_ns,
        buckets
    });
    layout!(rill_rpc_opts {
        lanes,
        depth,
        mtu,
        flags,
        max_msg,
        reserved
    });
    layout!(rill_rpc_result {
        id,
        method,
        reserved0,
        status,
        size,
        reserved
    });

    consts!(
        RILL_OK,
        RILL_EAGAIN,
        RILL_EOVERRUN,
        RILL_EINVAL,
        RILL_ENOMEM,
        RILL_ENOENT,
        RILL_EEXIST,
        RILL_EACCES,
        RILL_ENODIR,
        RILL_ENOSPC,
        RILL_EBUSY,
        RILL_EFULL,
        RILL_EEMPTY,
        RILL_ETRUNC,
        RILL_EMAGIC,
        RILL_EVERSION,
        RILL_ECORRUPT,
        RILL_EMSGSIZE,
        RILL_ETIMEDOUT,
        RILL_EIO,
        RILL_ECLOSED,
        RILL_EDEAD,
        RILL_ESRVDEAD,
        RILL_ESRVLEFT,
        RILL_ENOMETHOD,
        RILL_EWORKERS,
        RILL_ENOHUGE,
        RILL_NAME_MAX,
        RILL_FOREVER,
        RILL_REGION_READONLY,
        RILL_REGION_HUGE,
        RILL_OBJECT_CHANNEL,
        RILL_CLEAN_DRY_RUN,
        RILL_CLEAN_ANY_AGE,
        RILL_CTL_SOM,
        RILL_CTL_EOM,
        RILL_CTL_ERR,
        RILL_CTL_MSG,
        RILL_CTL_USER_SHIFT,
        RILL_STAMP_SAMPLED,
        RILL_STAMP_EVERY,
        RILL_RELIABLE,
        RILL_LOSSY,
        RILL_WAIT_ANY_MAX,
        RILL_PEER_NONE,
        RILL_PEER_ALIVE,
        RILL_PEER_DEAD,
        RILL_PEER_UNKNOWN,
        RILL_LATENCY_BUCKETS,
    );
    consts!(RILL_RPC_MAX_LANES, RILL_RPC_NAME_MAX, RILL_RPC_METHOD_MAX);
    m
}

#[test]
fn layout_and_constants() {
    let c = probe();
    let r = rust();
    let mut bad = Vec::new();
    for (k, v) in &r {
        match c.get(k) {
            Some(cv) if cv == v => {}
            Some(cv) => bad.push(format!("{k}: C {cv}, Rust {v}")),
            None => bad.push(format!("{k}: in the Rust test, not in abi_probe.c")),
        }
    }
    for k in c.keys().filter(|k| !r.contains_key(*k)) {
        bad.push(format!("{k}: in abi_probe.c, not checked in Rust"));
    }
    assert!(
        bad.is_empty(),
        "lib.rs and the headers disagree:\n  {}",
        bad.join("\n  ")
    );
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn probe_covers_abi_layout() {
    let c = probe();
    // abi/layout.txt's values are those of 64-bit Linux
    let compare = cfg!(all(target_os = "linux", target_pointer_width = "64"));
    let mut bad = Vec::new();
    let mut n = 0;
    for line in read("abi/layout.txt").lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty() || w[0].starts_with('#') {
            continue;
        }
        let pairs: Vec<(String, &str)> = match w.as_slice() {
            [name, value] => vec![(name.to_string(), *value)],
            [name, k1, v1, k2, v2] => {
                vec![(format!("{name} {k1}"), *v1), (format!("{name} {k2}"), *v2)]
            }
            _ => panic!("abi/layout.txt: cannot read {line:?}"),
        };
        for (k, v) in pairs {
            n += 1;
            match c.get(&k) {
                None => bad.push(format!("{k}: in abi/layout.txt, not in abi_probe.c")),
                Some(cv) if compare && cv.to_string() != v => {
                    bad.push(format!("{k}: abi/layout.txt {v}, C compiler {cv}"))
                }
                _ => {}
            }
        }
    }
    assert!(n > 100, "abi/layout.txt has only {n} entries");
    assert!(
        bad.is_empty(),
        "abi_probe.c is behind abi/layout.txt:\n  {}",
        bad.join("\n  ")
    );
}

/// The public headers that lib.rs binds (paths from the repository's
/// root), each with how many functions and constants it declares at least:
/// a check on the parsers below.
const HEADERS: [(&str, usize, usize); 2] =
    [("include/rill.h", 60, 50), ("include/rill_rpc.h", 13, 3)];

/// Header REL without its comments.
fn header(rel: &str) -> String {
    let h = read(rel);
    let mut out = String::with_capacity(h.len());
    let mut rest = h.as_str();
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let end = rest[i + 2..]
            .find("*/")
            .unwrap_or_else(|| panic!("unterminated comment in {rel}"));
        // keep the line count (and so the preprocessor lines) intact
        out.extend(rest[i..i + 2 + end + 2].chars().filter(|&ch| ch == '\n'));
        rest = &rest[i + 2 + end + 2..];
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Each function header REL declares, with the platform its declaration is
/// under: None (every one), Some("unix") (`#ifndef _WIN32`) or
/// Some("windows") (`#ifdef _WIN32`, or the `#else` of the former).
fn header_functions(rel: &str) -> Vec<(String, Option<&'static str>)> {
    let mut stack: Vec<Option<&'static str>> = Vec::new();
    let mut found = Vec::new();
    for line in header(rel).lines() {
        let t = line.trim_start();
        if let Some(d) = t.strip_prefix('#') {
            let d = d.trim_start();
            if d.starts_with("ifndef _WIN32") {
                stack.push(Some("unix"));
            } else if d.starts_with("ifdef _WIN32") {
                stack.push(Some("windows"));
            } else if d.starts_with("if") {
                stack.push(None);
            } else if d.starts_with("else") {
                let top = stack
                    .last_mut()
                    .unwrap_or_else(|| panic!("#else without #if in {rel}"));
                *top = match *top {
                    Some("unix") => Some("windows"),
                    Some("windows") => Some("unix"),
                    other => other,
                };
            } else if d.starts_with("endif") {
                stack
                    .pop()
                    .unwrap_or_else(|| panic!("#endif without #if in {rel}"));
            }
            continue; // macros are checked as constants
        }
        let platform = stack.iter().rev().find_map(|p| *p);
        let b = line.as_bytes();
        let mut i = 0;
        while let Some(j) = line[i..].find("rill_") {
            let s = i + j;
            let mut e = s;
            while e < b.len() && is_ident(b[e]) {
                e += 1;
            }
            let before = line[..s].trim_end();
            let after = line[e..].trim_start();
            let word_start = s == 0 || !is_ident(b[s - 1]);
            // a declaration: `TYPE rill_x(` (a pointer to function typedef
            // reads `(*rill_x_fn)(`: not one)
            if word_start && after.starts_with('(') && !before.ends_with("(*") {
                found.push((line[s..e].to_string(), platform));
            }
            i = e;
        }
    }
    found
}

/// Each `pub fn rill_*` of lib.rs with the platform of its `#[cfg]`.
fn lib_functions() -> BTreeMap<String, Option<&'static str>> {
    let lib = read("bindings/rust/rill-sys/src/lib.rs");
    let lines: Vec<&str> = lib.lines().collect();
    let mut m = BTreeMap::new();
    for (n, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("pub fn rill_") else {
            continue;
        };
        let name = format!("rill_{}", rest.split('(').next().unwrap());
        let mut platform = None;
        for prev in lines[..n].iter().rev().map(|l| l.trim()) {
            if !(prev.starts_with("#[") || prev.starts_with("///")) {
                break;
            }
            match prev {
                "#[cfg(unix)]" => platform = Some("unix"),
                "#[cfg(windows)]" => platform = Some("windows"),
                _ => {}
            }
        }
        assert!(
            m.insert(name.clone(), platform).is_none(),
            "{name} twice in lib.rs"
        );
    }
    m
}

#[test]
fn every_function_is_bound() {
    let mut h = Vec::new(); // (name, platform, header)
    for (rel, min, _) in HEADERS {
        let found = header_functions(rel);
        assert!(
            found.len() >= min,
            "only {} functions found in {rel}: is the parser right?",
            found.len()
        );
        h.extend(found.into_iter().map(|(n, p)| (n, p, rel)));
    }
    let lib = lib_functions();
    let mut bad = Vec::new();
    for (name, platform, rel) in &h {
        match lib.get(name) {
            None => bad.push(format!("{name}: declared in {rel}, missing from lib.rs")),
            Some(p) if p != platform => bad.push(format!(
                "{name}: {rel} declares it for {}, lib.rs for {}",
                platform.unwrap_or("every platform"),
                p.unwrap_or("every platform")
            )),
            _ => {}
        }
    }
    for name in lib.keys() {
        if !h.iter().any(|(n, _, _)| n == name) {
            bad.push(format!(
                "{name}: in lib.rs, not declared in {}",
                HEADERS.map(|(rel, _, _)| rel).join(" or ")
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "lib.rs's functions and the headers disagree:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn every_constant_is_bound() {
    let lib = read("bindings/rust/rill-sys/src/lib.rs");
    let mut bad = Vec::new();
    for (rel, _, min) in HEADERS {
        let names = header_constants(rel);
        assert!(
            names.len() >= min,
            "only {} constants found in {rel}",
            names.len()
        );
        for (name, func) in &names {
            let decl = if *func {
                format!("pub const fn {name}(")
            } else {
                format!("pub const {name}:")
            };
            if !lib.contains(&decl) {
                bad.push(format!("{name}: in {rel}, no `{decl}` in lib.rs"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "constants missing from lib.rs:\n  {}",
        bad.join("\n  ")
    );
}

/// Each constant header REL defines (`#define RILL_X`, but not its include
/// guard, and `enum { RILL_X, ... }`), with whether it is function-like.
fn header_constants(rel: &str) -> Vec<(String, bool)> {
    let h = header(rel);
    let mut guard = None; // the name of the first #ifndef
    let mut names = Vec::new();
    for line in h.lines() {
        let t = line.trim_start();
        if let Some(d) = t.strip_prefix('#').map(str::trim_start) {
            if let Some(rest) = d.strip_prefix("ifndef ") {
                guard.get_or_insert_with(|| rest.trim().to_string());
            }
            if let Some(rest) = d.strip_prefix("define ") {
                let rest = rest.trim_start();
                let end = rest
                    .bytes()
                    .position(|b| !is_ident(b))
                    .unwrap_or(rest.len());
                let name = &rest[..end];
                if name.starts_with("RILL_") && guard.as_deref() != Some(name) {
                    names.push((name.to_string(), rest[end..].starts_with('(')));
                }
            }
        }
    }
    // enum { RILL_X = 1, RILL_Y, ... };
    let mut rest = h.as_str();
    while let Some(i) = rest.find("enum {") {
        let body_end = rest[i..].find('}').unwrap() + i;
        for item in rest[i + 6..body_end].split(',') {
            let item = item.trim();
            let end = item
                .bytes()
                .position(|b| !is_ident(b))
                .unwrap_or(item.len());
            if item[..end].starts_with("RILL_") {
                names.push((item[..end].to_string(), false));
            }
        }
        rest = &rest[body_end..];
    }
    names
}

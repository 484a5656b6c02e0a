// SPDX-License-Identifier: Apache-2.0 OR MIT
//! [`Region`], [`Channel`] and their options.
use crate::consumer::{AnyConsumer, Consumer, Lossy, Mode, ModeKind, Reliable};
use crate::error::{Error, Result, check};
use crate::producer::Producer;
use crate::stats::{ChannelStats, ConsumerStats, Latency};
use crate::{nanos, path_cstring};
use core::ffi::{c_char, c_int, c_void};
use core::ptr::{self, NonNull};
use rill_sys as sys;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A name as C wants it: no NUL inside (else [`Error::Invalid`]). The
/// library checks the rest (1 to [`NAME_MAX`](crate::NAME_MAX) bytes of
/// `[A-Za-z0-9_.-]`).
pub(crate) fn name_cstring(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| Error::Invalid)
}

/// Options of [`Region::create`] and [`Region::open`]: where the region
/// file lives, its size, its mode. The defaults are rill.h's: 64 MiB in
/// `$RILL_DIR` (else `/dev/shm`), mode 0600.
///
/// ```
/// let opts = rill::RegionOptions::new().size(8 << 20).mode(0o640);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
pub struct RegionOptions {
    size: u64,
    dir: Option<PathBuf>,
    mode: u32,
    flags: u32,
}

impl RegionOptions {
    /// The defaults.
    pub fn new() -> RegionOptions {
        RegionOptions::default()
    }
    /// Create: total bytes, rounded up to 4 KiB (to the huge page size on
    /// hugetlbfs); 0 = 64 MiB.
    pub fn size(mut self, bytes: u64) -> RegionOptions {
        self.size = bytes;
        self
    }
    /// The directory of the region file (and of the consumers' FIFOs).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> RegionOptions {
        self.dir = Some(dir.into());
        self
    }
    /// Create: the file's mode, set exactly (umask aside); 0 = 0600.
    pub fn mode(mut self, mode: u32) -> RegionOptions {
        self.mode = mode;
        self
    }
    /// Open: to look at the region only ([`Region::channel_stats`],
    /// [`Region::info`]), read with `pread` and never mapped writable;
    /// joining it as producer or consumer fails.
    pub fn read_only(mut self) -> RegionOptions {
        self.flags |= sys::RILL_REGION_READONLY;
        self
    }
    /// Create: back the region with huge pages (its directory must be on
    /// hugetlbfs), or fail with [`Error::NoHugePages`].
    pub fn huge(mut self) -> RegionOptions {
        self.flags |= sys::RILL_REGION_HUGE;
        self
    }
    /// The directory set, if any.
    pub fn get_dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

/// The C options and the directory string they point at (kept alive
/// together for the call).
struct RawRegionOpts {
    opts: sys::rill_region_opts,
    _dir: Option<CString>,
}

impl RawRegionOpts {
    fn new(o: &RegionOptions) -> Result<RawRegionOpts> {
        let dir = o.dir.as_deref().map(path_cstring).transpose()?;
        let opts = sys::rill_region_opts {
            size: o.size,
            dir: dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
            mode: o.mode,
            flags: o.flags,
            reserved: [0; 5],
        };
        Ok(RawRegionOpts { opts, _dir: dir })
    }
}

/// An open region: a file of shared memory holding channels. Create it in
/// one process, open it in the others, then make and join channels in it.
///
/// A `Region` may be shared by threads (`Sync`): creating, opening,
/// joining and reading stats are safe from several at once. Endpoints
/// joined through it keep their own mapping and outlive it. Dropping it
/// unmaps it; the file stays until [`Region::unlink`].
///
/// ```
/// use rill::{Region, RegionOptions, ChannelOptions};
/// # let dir = std::env::temp_dir().join(format!("rill-region-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let opts = RegionOptions::new().dir(&dir).size(4 << 20);
/// let region = Region::create("doc", &opts)?;
/// let ch = region.create_channel("ticks", &ChannelOptions::new().depth(256))?;
/// let mut rx = ch.reliable()?;
/// let mut tx = ch.producer()?;
/// tx.send(b"hello", 7)?;
/// let msg = rx.poll()?.expect("published");
/// assert_eq!(&msg[..], b"hello");
/// assert_eq!(msg.sig(), 7);
/// # drop(msg); drop(rx); drop(tx); drop(region);
/// Region::unlink("doc", Some(&dir))?;
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rill::Error>(())
/// ```
#[derive(Debug)]
pub struct Region {
    raw: NonNull<sys::rill_region>,
}

// SAFETY: rill.h's threading rule: a region handle may be shared by the
// threads of a process for create/open/join/stats calls, which are all
// this type offers; nothing in it is tied to the thread that opened it.
unsafe impl Send for Region {}
// SAFETY: as above, every method takes &self and is one of those calls.
unsafe impl Sync for Region {}

impl Region {
    /// Creates region `name` (a file `DIR/name`; fails with
    /// [`Error::Exists`] if there is one). The name is 1 to
    /// [`NAME_MAX`](crate::NAME_MAX) bytes of `[A-Za-z0-9_.-]`.
    pub fn create(name: &str, opts: &RegionOptions) -> Result<Region> {
        let name = name_cstring(name)?;
        let raw = RawRegionOpts::new(opts)?;
        let mut out = ptr::null_mut();
        // SAFETY: name and raw.opts (with the dir string it points at)
        // live across the call; out is a valid place for the handle.
        check(unsafe { sys::rill_region_create(name.as_ptr(), &raw.opts, &mut out) })?;
        Ok(Region::from_raw(out))
    }

    /// Opens an existing region, validating its header and table.
    pub fn open(name: &str, opts: &RegionOptions) -> Result<Region> {
        let name = name_cstring(name)?;
        let raw = RawRegionOpts::new(opts)?;
        let mut out = ptr::null_mut();
        // SAFETY: as in create.
        check(unsafe { sys::rill_region_open(name.as_ptr(), &raw.opts, &mut out) })?;
        Ok(Region::from_raw(out))
    }

    /// [`Region::open`] that waits up to `timeout` for the region to be
    /// there and complete (`Duration::MAX`: no limit), then
    /// [`Error::TimedOut`].
    pub fn open_wait(name: &str, opts: &RegionOptions, timeout: Duration) -> Result<Region> {
        let name = name_cstring(name)?;
        let raw = RawRegionOpts::new(opts)?;
        let mut out = ptr::null_mut();
        // SAFETY: as in create.
        check(unsafe {
            sys::rill_region_open_wait(name.as_ptr(), &raw.opts, nanos(timeout), &mut out)
        })?;
        Ok(Region::from_raw(out))
    }

    fn from_raw(p: *mut sys::rill_region) -> Region {
        Region {
            raw: NonNull::new(p).expect("rill_region_create/open returned 0 and no handle"),
        }
    }

    /// The raw handle, for calls of `rill-sys` this crate does not wrap.
    /// It stays owned by `self`.
    pub fn as_raw(&self) -> *mut sys::rill_region {
        self.raw.as_ptr()
    }

    /// Removes region `name` from `dir` (`None`: `$RILL_DIR` or
    /// `/dev/shm`), and its consumers' FIFOs. Processes that have it mapped
    /// keep using it.
    pub fn unlink(name: &str, dir: Option<&Path>) -> Result<()> {
        let name = name_cstring(name)?;
        let dir = dir.map(path_cstring).transpose()?;
        // SAFETY: both strings live across the call; a NULL dir means the
        // default.
        check(unsafe {
            sys::rill_region_unlink(
                name.as_ptr(),
                dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
            )
        })?;
        Ok(())
    }

    /// True if some live process has region `name` open or joined to one
    /// of its channels.
    pub fn in_use(name: &str, dir: Option<&Path>) -> Result<bool> {
        let name = name_cstring(name)?;
        let dir = dir.map(path_cstring).transpose()?;
        // SAFETY: as in unlink.
        let rc = check(unsafe {
            sys::rill_region_in_use(
                name.as_ptr(),
                dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
            )
        })?;
        Ok(rc == 1)
    }

    /// The names of the rill regions in `dir` (`None`: `$RILL_DIR` or
    /// `/dev/shm`).
    pub fn list(dir: Option<&Path>) -> Result<Vec<String>> {
        unsafe extern "C" fn push(name: *const c_char, arg: *mut c_void) -> c_int {
            // SAFETY: arg is the &mut Vec<String> passed below, alive for
            // the whole rill_region_list call; name is a NUL-terminated
            // string valid during this callback.
            unsafe {
                let names = &mut *arg.cast::<Vec<String>>();
                names.push(CStr::from_ptr(name).to_string_lossy().into_owned());
            }
            0
        }
        let dir = dir.map(path_cstring).transpose()?;
        let mut names: Vec<String> = Vec::new();
        // SAFETY: push matches rill_list_fn and only uses arg as the Vec
        // it is; the callback does not unwind (push cannot panic short of
        // an allocation failure, which aborts).
        check(unsafe {
            sys::rill_region_list(
                dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
                Some(push),
                (&mut names as *mut Vec<String>).cast(),
            )
        })?;
        Ok(names)
    }

    /// The region's header: size, use, creator.
    pub fn info(&self) -> Result<RegionInfo> {
        let mut i = core::mem::MaybeUninit::<sys::rill_region_info>::zeroed();
        // SAFETY: the handle is live (owned by self); i is a valid
        // rill_region_info to fill.
        check(unsafe { sys::rill_region_info_get(self.as_raw(), i.as_mut_ptr()) })?;
        // SAFETY: zeroed is a valid rill_region_info (plain integers), and
        // the call filled it.
        let i = unsafe { i.assume_init() };
        Ok(RegionInfo {
            size: i.size,
            used: i.used,
            created_ns: i.created_ns,
            creator_pid: i.creator_pid,
            creator_uid: i.creator_uid,
            objects: i.nobjects,
            owner_uid: i.owner_uid,
            page_size: i.page_size,
        })
    }

    /// The names of the channels in the region, in table order.
    pub fn channels(&self) -> Result<Vec<String>> {
        let n = self.info()?.objects;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let mut o = core::mem::MaybeUninit::<sys::rill_object_info>::zeroed();
            // SAFETY: live handle; o is a valid rill_object_info to fill.
            check(unsafe { sys::rill_region_object_get(self.as_raw(), i, o.as_mut_ptr()) })?;
            // SAFETY: zeroed is valid for this plain struct; the call
            // filled it, name NUL-terminated within its array (rill.h).
            let o = unsafe { o.assume_init() };
            if o.r#type == sys::RILL_OBJECT_CHANNEL {
                // SAFETY: name is NUL-terminated within the array.
                let name = unsafe { CStr::from_ptr(o.name.as_ptr()) };
                out.push(name.to_string_lossy().into_owned());
            }
        }
        Ok(out)
    }

    /// Creates channel `name` in this region ([`Error::Exists`] if there is
    /// one, [`Error::NoSpace`] if the region has no room: see
    /// [`ChannelOptions::footprint`]).
    pub fn create_channel(&self, name: &str, opts: &ChannelOptions) -> Result<Channel<'_>> {
        let cname = name_cstring(name)?;
        let o = opts.raw();
        // SAFETY: live handle, NUL-terminated name and options across the call.
        check(unsafe { sys::rill_channel_create(self.as_raw(), cname.as_ptr(), &o) })?;
        Ok(Channel {
            region: self,
            name: cname,
        })
    }

    /// Channel `name` of this region, which must exist ([`Error::NotFound`]).
    pub fn channel(&self, name: &str) -> Result<Channel<'_>> {
        self.wait_channel(name, Duration::ZERO)
    }

    /// Channel `name`, waiting up to `timeout` for another process to
    /// create it (`Duration::MAX`: no limit); [`Error::TimedOut`].
    pub fn wait_channel(&self, name: &str, timeout: Duration) -> Result<Channel<'_>> {
        let cname = name_cstring(name)?;
        // SAFETY: live handle, NUL-terminated name.
        let rc = unsafe { sys::rill_channel_wait(self.as_raw(), cname.as_ptr(), nanos(timeout)) };
        match check(rc) {
            Ok(_) => Ok(Channel {
                region: self,
                name: cname,
            }),
            Err(Error::TimedOut) if timeout.is_zero() => Err(Error::NotFound),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the handle is live and dropped once; endpoints joined
        // through it keep their own mappings (rill.h).
        unsafe { sys::rill_region_close(self.raw.as_ptr()) };
    }
}

/// A region's header, from [`Region::info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegionInfo {
    /// Total bytes.
    pub size: u64,
    /// Bytes allocated to objects (header included).
    pub used: u64,
    /// `CLOCK_REALTIME` at creation, ns.
    pub created_ns: u64,
    /// The creator's process id.
    pub creator_pid: u32,
    /// The creator's user id.
    pub creator_uid: u32,
    /// Objects (channels) in the table.
    pub objects: u32,
    /// The file's owner, now.
    pub owner_uid: u32,
    /// The pages backing the file (the huge page size on hugetlbfs).
    pub page_size: u64,
}

/// Options of a channel: ring depth, fragment size, consumer slots,
/// largest message. The defaults are rill.h's: 4096 descriptors, 1024-byte
/// mtu, 8 consumers, messages up to 16 × mtu.
///
/// ```
/// let o = rill::ChannelOptions::new().depth(1024).mtu(256).max_msg(4096);
/// assert!(o.footprint() > 1024 * 256);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelOptions {
    depth: u32,
    mtu: u32,
    max_consumers: u32,
    max_msg: u64,
}

impl ChannelOptions {
    /// The defaults.
    pub fn new() -> ChannelOptions {
        ChannelOptions::default()
    }
    /// Descriptors in the ring, a power of 2; 0 = 4096.
    pub fn depth(mut self, n: u32) -> ChannelOptions {
        self.depth = n;
        self
    }
    /// Largest fragment payload in bytes; 0 = 1024.
    pub fn mtu(mut self, bytes: u32) -> ChannelOptions {
        self.mtu = bytes;
        self
    }
    /// Consumer slots; 0 = 8.
    pub fn max_consumers(mut self, n: u32) -> ChannelOptions {
        self.max_consumers = n;
        self
    }
    /// Largest message, sent in fragments of at most the mtu; 0 = 16 × mtu.
    pub fn max_msg(mut self, bytes: u64) -> ChannelOptions {
        self.max_msg = bytes;
        self
    }
    /// Bytes such a channel takes in a region (0 if the options are invalid).
    pub fn footprint(&self) -> u64 {
        let o = self.raw();
        // SAFETY: o is a valid rill_channel_opts for the call.
        unsafe { sys::rill_channel_footprint(&o) }
    }
    fn raw(&self) -> sys::rill_channel_opts {
        sys::rill_channel_opts {
            depth: self.depth,
            mtu: self.mtu,
            max_consumers: self.max_consumers,
            flags: 0,
            max_msg: self.max_msg,
            reserved: [0; 5],
        }
    }
}

/// A channel of a region, by name: where its producer and consumers join
/// and its stats are read. It borrows the region; the endpoints it makes
/// do not.
#[derive(Debug, Clone)]
pub struct Channel<'r> {
    region: &'r Region,
    name: CString,
}

impl Channel<'_> {
    /// The channel's name.
    pub fn name(&self) -> &str {
        // Made from a &str in create_channel/channel.
        self.name.to_str().unwrap_or_default()
    }

    /// Joins as the channel's producer. Only one producer may be joined at
    /// a time: [`Error::Busy`] while another lives (one that died is
    /// replaced, and the new one carries on from its last sequence number).
    pub fn producer(&self) -> Result<Producer> {
        let mut out = ptr::null_mut();
        // SAFETY: live region handle, NUL-terminated name, out a valid place.
        check(unsafe {
            sys::rill_producer_join(self.region.as_raw(), self.name.as_ptr(), &mut out)
        })?;
        Ok(Producer::from_raw(out))
    }

    /// Joins as a reliable consumer: the producer never laps it (it waits
    /// for credit instead), and its views are plain `&[u8]`. It starts at
    /// the producer's next message.
    pub fn reliable(&self) -> Result<Consumer<Reliable>> {
        self.join::<Reliable>()
    }

    /// Joins as a lossy consumer: it never slows the producer and may be
    /// lapped, so the bytes of its views must be checked before they are
    /// trusted ([`LossyView`](crate::LossyView)).
    pub fn lossy(&self) -> Result<Consumer<Lossy>> {
        self.join::<Lossy>()
    }

    fn join<M: Mode>(&self) -> Result<Consumer<M>> {
        let mut out = ptr::null_mut();
        // SAFETY: live region handle, NUL-terminated name, out a valid place.
        check(unsafe {
            sys::rill_consumer_join(self.region.as_raw(), self.name.as_ptr(), M::RAW, &mut out)
        })?;
        Ok(Consumer::from_raw(out))
    }

    /// Rejoins consumer slot `slot` (of a consumer whose process died, or
    /// that left) from the cursor it had, in the mode it had, which must
    /// be `M`: [`Error::Invalid`] otherwise. A dead slot's mode is known
    /// before the rejoin, and a wrong one is refused untouched; a slot
    /// whose consumer left keeps its mode where only the rejoin reads it,
    /// so it is rejoined and left again at once (its cursor unchanged; a
    /// reliable one holds the producer back for that moment).
    /// [`Error::Busy`] while its consumer lives.
    pub fn rejoin<M: Mode>(&self, slot: u32) -> Result<Consumer<M>> {
        // A live slot's stats tell its mode: refuse the wrong one without
        // touching it. A free slot's say none; its cursor page keeps the
        // mode, which the rejoin takes.
        let before = self.consumer_stats(slot)?.mode;
        if before.is_some_and(|m| m != M::MODE) {
            return Err(Error::Invalid);
        }
        match self.rejoin_any(slot)? {
            AnyConsumer::Reliable(c) => c.into_mode(),
            AnyConsumer::Lossy(c) => c.into_mode(),
        }
    }

    /// Rejoins consumer slot `slot` in whichever mode it had: for a tool
    /// that does not know it.
    pub fn rejoin_any(&self, slot: u32) -> Result<AnyConsumer> {
        let mut out = ptr::null_mut();
        // SAFETY: live region handle, NUL-terminated name, out a valid place.
        check(unsafe {
            sys::rill_consumer_rejoin(self.region.as_raw(), self.name.as_ptr(), slot, &mut out)
        })?;
        // Its mode, now that it holds the slot.
        let c = Consumer::<Reliable>::from_raw(out);
        // Only a slot that says reliable is typed so: a reliable View is a
        // &[u8] the producer must not overwrite, and a lossy type over a
        // reliable handle is merely cautious.
        match self.consumer_stats(slot)?.mode {
            Some(ModeKind::Reliable) => Ok(AnyConsumer::Reliable(c)),
            _ => Ok(AnyConsumer::Lossy(c.retag())),
        }
    }

    /// The channel's layout and its producer's counters, as last flushed.
    pub fn stats(&self) -> Result<ChannelStats> {
        self.region.channel_stats_raw(&self.name)
    }

    /// Consumer slot `slot`'s counters and liveness.
    pub fn consumer_stats(&self, slot: u32) -> Result<ConsumerStats> {
        self.region.consumer_stats_raw(&self.name, slot)
    }

    /// Consumer slot `slot`'s publish-to-consume latency samples.
    pub fn latency(&self, slot: u32) -> Result<Latency> {
        self.region.latency_raw(&self.name, slot)
    }
}

impl Region {
    /// Stats of channel `name` ([`Channel::stats`] without the lookup).
    pub fn channel_stats(&self, name: &str) -> Result<ChannelStats> {
        self.channel_stats_raw(&name_cstring(name)?)
    }

    fn channel_stats_raw(&self, name: &CStr) -> Result<ChannelStats> {
        let mut st = core::mem::MaybeUninit::<sys::rill_channel_stats>::zeroed();
        // SAFETY: live handle, NUL-terminated name, st valid to fill.
        check(unsafe {
            sys::rill_channel_stats_get(self.as_raw(), name.as_ptr(), st.as_mut_ptr())
        })?;
        // SAFETY: plain integers, zeroed then filled.
        Ok(ChannelStats::from_raw(&unsafe { st.assume_init() }))
    }

    fn consumer_stats_raw(&self, name: &CStr, slot: u32) -> Result<ConsumerStats> {
        let mut st = core::mem::MaybeUninit::<sys::rill_consumer_stats>::zeroed();
        // SAFETY: live handle, NUL-terminated name, st valid to fill.
        check(unsafe {
            sys::rill_consumer_stats_get(self.as_raw(), name.as_ptr(), slot, st.as_mut_ptr())
        })?;
        // SAFETY: plain integers, zeroed then filled.
        Ok(ConsumerStats::from_raw(&unsafe { st.assume_init() }))
    }

    fn latency_raw(&self, name: &CStr, slot: u32) -> Result<Latency> {
        let mut h = Box::new(core::mem::MaybeUninit::<sys::rill_latency>::zeroed());
        // SAFETY: live handle, NUL-terminated name, h valid to fill.
        check(unsafe {
            sys::rill_latency_get(self.as_raw(), name.as_ptr(), slot, h.as_mut_ptr())
        })?;
        // SAFETY: plain integers, zeroed then filled.
        Ok(Latency::from_raw(unsafe { h.assume_init_ref() }))
    }
}

// SPDX-License-Identifier: Apache-2.0 OR MIT
//! rill behind the harness's traits, through this repository's Rust
//! binding (the `rill` crate, bindings/rust/rill): Tx on rill::Producer,
//! Rx on rill::Consumer<Reliable>, and a channel that owns one of each,
//! joined by this thread to a channel of a region of its own.

use std::path::Path;

use rill::{ChannelOptions, Consumer, Producer, Region, RegionOptions, Reliable};

use crate::chan::{Channel, Poll, Rx, Tx};

/// The channel's name in its region.
pub const CHANNEL: &str = "c";

/// Channel of DEPTH descriptors and payloads of at most MTU bytes, one
/// consumer, in a fresh region NAME of directory DIR, big enough for it
/// (and no bigger: 1 MiB over the channel's footprint).  Returns the open
/// region; on failure nothing is left in DIR.
pub fn create(dir: &Path, name: &str, depth: u32, mtu: u32) -> Result<Region, String> {
    let copts = ChannelOptions::new().depth(depth).mtu(mtu).max_consumers(1);
    let fp = copts.footprint();
    if fp == 0 {
        return Err(format!("rill: bad channel options depth {depth} mtu {mtu}"));
    }
    let ropts = RegionOptions::new()
        .dir(dir)
        .size(fp + (1 << 20))
        .mode(0o600);
    let region = Region::create(name, &ropts).map_err(|e| format!("rill region {name}: {e}"))?;
    if let Err(e) = region.create_channel(CHANNEL, &copts) {
        drop(region);
        let _ = Region::unlink(name, Some(dir));
        return Err(format!("rill channel: {e}"));
    }
    Ok(region)
}

/// A region holding one channel, its producer and one reliable consumer,
/// all joined by this thread.  The region's file is unlinked as soon as both
/// endpoints are joined (they keep their mappings), so nothing is left in
/// the directory even if the program is killed.
pub struct RillChan {
    // dropped in this order: the consumer leaves, then the producer
    cons: Consumer<Reliable>,
    prod: Producer,
}

impl RillChan {
    /// Channel of DEPTH descriptors and payloads of at most MTU bytes, in a
    /// fresh region NAME of directory DIR.
    pub fn new(dir: &Path, name: &str, depth: u32, mtu: u32) -> Result<RillChan, String> {
        let region = create(dir, name, depth, mtu)?;
        let joined = (|| -> rill::Result<RillChan> {
            let ch = region.channel(CHANNEL)?;
            let prod = ch.producer()?;
            let cons = ch.reliable()?;
            Ok(RillChan { cons, prod })
        })();
        drop(region);
        let _ = Region::unlink(name, Some(dir));
        joined.map_err(|e| format!("rill join: {e}"))
    }
}

impl Channel for RillChan {
    type Tx<'a> = &'a mut Producer;
    type Rx<'a> = &'a mut Consumer<Reliable>;
    fn endpoints(&mut self) -> (&mut Producer, &mut Consumer<Reliable>) {
        (&mut self.prod, &mut self.cons)
    }
}

impl Tx for Producer {
    /// Producer::send (rill_send): copies MSG into the data ring and
    /// publishes it (as rust-tango's publish() does); false when the
    /// reliable consumer has not freed room yet.
    #[inline]
    fn try_send(&mut self, msg: &[u8], sig: u64) -> bool {
        match self.send(msg, sig) {
            Ok(()) => true,
            Err(rill::Error::Again) => false,
            Err(e) => panic!("rill send: {e}"),
        }
    }
}

impl Rx for Consumer<Reliable> {
    /// Consumer::poll (rill_poll): the View derefs to the payload where it
    /// lies in shared memory; F reads it there.
    #[inline]
    fn poll<F: FnOnce(u64, &[u8])>(&mut self, f: F) -> Poll {
        match Consumer::<Reliable>::poll(self) {
            Ok(Some(v)) => {
                f(v.sig(), &v);
                Poll::Msg
            }
            Ok(None) => Poll::Empty,
            Err(rill::Error::Overrun { lost }) => Poll::Overrun(lost),
            Err(_) => Poll::Corrupt,
        }
    }

    /// Consumer::flush (rill_consumer_flush): a reliable consumer tells the
    /// producer how far it got every so many messages and when it finds
    /// nothing to read; one that stops right after a message has not yet.
    fn finish(&mut self) {
        let _ = self.flush();
    }
}

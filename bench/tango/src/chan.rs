// SPDX-License-Identifier: Apache-2.0 OR MIT
//! What the harness needs of a channel, and rust-tango behind it.  rill is
//! behind it in rill_chan.rs.  The harness (harness.rs) is generic over these
//! traits, so both contenders run the very same code around their calls.

use rust_tango::{Consumer, DCache, Fctl, Fseq, MCache, Producer, TangoError};

/// What one look at the consumer side found.
pub enum Poll {
    /// A message; the closure was called with its bytes.
    Msg,
    /// Nothing published yet.
    Empty,
    /// The producer lapped the consumer, which skipped this many sequence
    /// numbers and carries on with a newer message.
    Overrun(u64),
    /// The channel reported something it should never report here.
    Corrupt,
}

pub trait Tx: Send {
    /// Publishes MSG with SIG in its descriptor, copying MSG into the
    /// channel.  false: no room now (flow control); try again.
    fn try_send(&mut self, msg: &[u8], sig: u64) -> bool;
}

pub trait Rx: Send {
    /// Looks at the next message and calls F with its descriptor's sig and
    /// its payload where it lies in the channel (no copy).
    fn poll<F: FnOnce(u64, &[u8])>(&mut self, f: F) -> Poll;

    /// The consumer stops for now (its thread ends): publish whatever
    /// position it keeps to itself, so that the producer of the next sample
    /// starts with the credit a fresh channel would have.
    fn finish(&mut self) {}
}

/// An endpoint lent by a channel (`endpoints`) is one.
impl<T: Tx> Tx for &mut T {
    #[inline]
    fn try_send(&mut self, msg: &[u8], sig: u64) -> bool {
        (**self).try_send(msg, sig)
    }
}

impl<R: Rx> Rx for &mut R {
    #[inline]
    fn poll<F: FnOnce(u64, &[u8])>(&mut self, f: F) -> Poll {
        (**self).poll(f)
    }

    fn finish(&mut self) {
        (**self).finish()
    }
}

/// A single-producer single-consumer channel whose two endpoints are lent to
/// two threads at a time.
pub trait Channel: Send {
    type Tx<'a>: Tx
    where
        Self: 'a;
    type Rx<'a>: Rx
    where
        Self: 'a;
    fn endpoints(&mut self) -> (Self::Tx<'_>, Self::Rx<'_>);
}

/// rust-tango's channel: an MCache of D slots, a DCache of C chunks of S
/// bytes, the shared sequence counter, and credits (Fctl) when asked for.
/// The rings are on the heap (built on a big stack: see main.rs).
pub struct TangoChan<const D: usize, const C: usize, const S: usize> {
    mcache: Box<MCache<D>>,
    dcache: Box<DCache<C, S>>,
    fseq: Fseq,
    fctl: Option<Fctl>,
}

impl<const D: usize, const C: usize, const S: usize> TangoChan<D, C, S> {
    /// FLOW_CONTROL: credits as the crate's README sets them up (Fctl of the
    /// DCache's capacity, Producer/Consumer::with_flow_control); without it,
    /// Producer::new/Consumer::new as its benchmarks do.
    pub fn new(flow_control: bool) -> Self {
        TangoChan {
            mcache: Box::new(MCache::new()),
            dcache: Box::new(DCache::new()),
            fseq: Fseq::new(1),
            fctl: flow_control.then(|| Fctl::new(C as u64)),
        }
    }
}

pub struct TangoTx<'a, const D: usize, const C: usize, const S: usize> {
    p: Producer<'a, D, C, S>,
}

pub struct TangoRx<'a, const D: usize, const C: usize, const S: usize> {
    c: Consumer<'a, D, C, S>,
    mcache: &'a MCache<D>,
    dcache: &'a DCache<C, S>,
    fseq: &'a Fseq,
    fctl: Option<&'a Fctl>,
}

impl<'a, const D: usize, const C: usize, const S: usize> TangoRx<'a, D, C, S> {
    fn consumer_at(&self, seq: u64) -> Consumer<'a, D, C, S> {
        match self.fctl {
            Some(f) => Consumer::with_flow_control(self.mcache, self.dcache, f, seq),
            None => Consumer::new(self.mcache, self.dcache, seq),
        }
    }
}

impl<const D: usize, const C: usize, const S: usize> Channel for TangoChan<D, C, S> {
    type Tx<'a> = TangoTx<'a, D, C, S>;
    type Rx<'a> = TangoRx<'a, D, C, S>;

    /// A producer and a consumer that starts at the next sequence number
    /// (the channel is reused from sample to sample; the consumer of the
    /// previous sample read everything).
    fn endpoints(&mut self) -> (TangoTx<'_, D, C, S>, TangoRx<'_, D, C, S>) {
        let (m, d, s) = (&*self.mcache, &*self.dcache, &self.fseq);
        let p = match &self.fctl {
            Some(f) => Producer::with_flow_control(m, d, s, f),
            None => Producer::new(m, d, s),
        };
        let fctl = self.fctl.as_ref();
        let c = match fctl {
            Some(f) => Consumer::with_flow_control(m, d, f, s.current()),
            None => Consumer::new(m, d, s.current()),
        };
        (
            TangoTx { p },
            TangoRx {
                c,
                mcache: m,
                dcache: d,
                fseq: s,
                fctl,
            },
        )
    }
}

impl<const D: usize, const C: usize, const S: usize> Tx for TangoTx<'_, D, C, S> {
    /// Producer::publish copies the payload into a DCache chunk.
    #[inline]
    fn try_send(&mut self, msg: &[u8], sig: u64) -> bool {
        match self.p.publish(msg, sig, 0, 0) {
            Ok(_) => true,
            Err(TangoError::NoCredits) => false,
            Err(e) => panic!("rust-tango publish: {e}"),
        }
    }
}

impl<const D: usize, const C: usize, const S: usize> Rx for TangoRx<'_, D, C, S> {
    /// Consumer::poll, the payload read through DcacheView::as_slice (no copy).
    #[inline]
    fn poll<F: FnOnce(u64, &[u8])>(&mut self, f: F) -> Poll {
        match self.c.poll() {
            Ok(Some(frag)) => {
                f(frag.meta.sig, frag.payload.as_slice());
                Poll::Msg
            }
            Ok(None) => Poll::Empty,
            Err(TangoError::Overrun) => {
                // The crate's consumer stays on the lost sequence number and
                // has no call to move on; start a new one at the newest
                // sequence number handed out (it is published, or about to
                // be, so the consumer will see it).
                let from = self.c.next_seq();
                let to = self.fseq.current().wrapping_sub(1).max(from + 1);
                self.c = self.consumer_at(to);
                Poll::Overrun(to - from)
            }
            Err(_) => Poll::Corrupt,
        }
    }
}

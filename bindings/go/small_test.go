// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"bytes"
	"testing"
)

// Send's small path copies payloads of up to 64 bytes itself (publishSmall,
// in assembly on amd64), by overlapping loads and stores of a size class
// per length.  Every length from 0 to 65 (one past the small path), with
// the fenced and the plain publish: the consumer gets exactly the bytes
// sent, and nothing of the chunks around the payload is written.
func TestSendSmallCopy(t *testing.T) {
	for _, fenced := range []bool{false, true} {
		r := testRegion(t, 4<<20)
		must(t, r.CreateChannel("s", &ChannelOpts{Depth: 256, MTU: 128, MaxMsg: 128}))
		c, err := r.JoinConsumer("s", Reliable)
		must(t, err)
		p, err := r.JoinProducer("s")
		must(t, err)
		if fenced { // as a producer that cannot rely on heavy barriers
			p.asym, p.lazy = false, false
		}
		buf := make([]byte, 128)
		var m Meta
		for n := 0; n <= 65; n++ {
			// The chunks the payload can touch and the one after them,
			// painted: the copy may write only its n bytes.
			ch := p.place(chunks(uint64(n)))
			ring := p.data[ch<<chunkShift : (ch+3)<<chunkShift]
			for i := range ring {
				ring[i] = 0xee
			}
			msg := batchMsg(uint64(n), n)
			src := append(make([]byte, 0, n+64), msg...) // bytes past n, not to be read as payload
			src = append(src, bytes.Repeat([]byte{0x55}, 64)...)[:n]
			must(t, p.Send(src, uint64(n)))
			for i, b := range ring[n:] {
				if b != 0xee {
					t.Fatalf("fenced %v, %d bytes: ring byte %d after the payload written (%#x)", fenced, n, n+i, b)
				}
			}
			k, err := c.Recv(buf, &m)
			if err != nil || k != n || m.Sig != uint64(n) || !bytes.Equal(buf[:k], msg) {
				t.Fatalf("fenced %v, %d bytes: got %d bytes sig %d err %v: %x", fenced, n, k, m.Sig, err, buf[:max(k, 0)])
			}
		}
		p.Leave()
		c.Leave()
	}
}

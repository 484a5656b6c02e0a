// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import "testing"

// In-process micro-benchmarks of the hot paths (the cross-process figures
// are rill_bench's, with bench/go's worker on the Go side).

func benchChannel(b *testing.B) (*Region, *Producer) {
	r, err := CreateRegion("b", &RegionOpts{Size: 32 << 20, Dir: testTempDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	if err := r.CreateChannel("c", &ChannelOpts{Depth: 4096, MTU: 4096, MaxMsg: 4096}); err != nil {
		b.Fatal(err)
	}
	p, err := r.JoinProducer("c")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Leave() })
	return r, p
}

// benchPair is benchChannel with a reliable consumer joined.
func benchPair(b *testing.B) (*Producer, *Consumer) {
	r, p := benchChannel(b)
	c, err := r.JoinConsumer("c", Reliable)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Leave() })
	return p, c
}

// Send of 64 bytes with no reliable consumer (no credit limit).
func BenchmarkSend64(b *testing.B) {
	_, p := benchChannel(b)
	msg := make([]byte, 64)
	for i := 0; i < b.N; i++ {
		if err := p.Send(msg, uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// Send then Recv of 64 bytes in one goroutine.
func BenchmarkSendRecv64(b *testing.B) {
	p, c := benchPair(b)
	msg, buf := make([]byte, 64), make([]byte, 4096)
	var m Meta
	for i := 0; i < b.N; i++ {
		if err := p.Send(msg, uint64(i)); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Recv(buf, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMonoNs(b *testing.B) {
	for i := 0; i < b.N; i++ {
		monoNs()
	}
}

// Recv of 64 bytes: the producer fills half the ring, untimed, then the
// consumer reads it back, timed.
func BenchmarkRecv64(b *testing.B) {
	p, c := benchPair(b)
	msg, buf := make([]byte, 64), make([]byte, 4096)
	var m Meta
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		k := min(2048, b.N-done)
		for i := 0; i < k; i++ {
			if err := p.Send(msg, uint64(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for i := 0; i < k; i++ {
			if _, err := c.Recv(buf, &m); err != nil {
				b.Fatal(err)
			}
		}
		done += k
	}
}

// Send of 64 bytes by a producer that does not rely on the consumers'
// heavy barriers: each publish ends with a full barrier (what a producer
// that could not register for them, or one on another architecture, pays).
func BenchmarkSend64Fenced(b *testing.B) {
	_, p := benchChannel(b)
	p.asym = false
	msg := make([]byte, 64)
	for i := 0; i < b.N; i++ {
		if err := p.Send(msg, uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

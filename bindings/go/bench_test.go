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

// SendMany of 64-byte messages in batches of 16 with no reliable consumer:
// ns/op is per message.
func BenchmarkSendMany64(b *testing.B) {
	_, p := benchChannel(b)
	msgs := make([]Msg, 16)
	for i := range msgs {
		msgs[i] = Msg{Data: make([]byte, 64), Sig: uint64(i)}
	}
	for done := 0; done < b.N; {
		k := min(len(msgs), b.N-done)
		if err := p.SendMany(msgs[:k]); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

// PollMany of 64-byte messages, up to 64 views a call: the producer fills
// half the ring, untimed, then the consumer reads it back in bursts and
// touches each payload, timed; ns/op is per message.
func BenchmarkPollMany64(b *testing.B) {
	p, c := benchPair(b)
	msg := make([]byte, 64)
	views := make([]View, 64)
	sum := byte(0)
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
		for got := 0; got < k; {
			n, err := c.PollMany(views[:min(len(views), k-got)])
			if err != nil {
				b.Fatal(err)
			}
			for _, v := range views[:n] {
				sum += v.Data[0]
			}
			got += n
		}
		done += k
	}
	_ = sum
}

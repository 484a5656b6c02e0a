// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill_test

import (
	"fmt"
	"os"
	"time"

	rill "github.com/rill-ipc/rill/bindings/go"
)

func Example() {
	dir, _ := os.MkdirTemp("", "rill-example")
	defer os.RemoveAll(dir)

	r, err := rill.CreateRegion("example", &rill.RegionOpts{Size: 4 << 20, Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	if err := r.CreateChannel("greetings", &rill.ChannelOpts{Depth: 1024, MTU: 256}); err != nil {
		fmt.Println(err)
		return
	}
	c, _ := r.JoinConsumer("greetings", rill.Reliable) // before the first message
	defer c.Leave()
	p, _ := r.JoinProducer("greetings")
	for i := uint64(0); i < 3; i++ {
		p.Send([]byte(fmt.Sprintf("hello %d", i)), i)
	}
	p.Send(make([]byte, 1000), 99) // four fragments, one message
	p.Leave()

	buf := make([]byte, c.MaxMsg())
	var m rill.Meta
	for {
		n, err := c.RecvWait(buf, &m, time.Second)
		if err == rill.ErrClosed {
			fmt.Println("closed")
			break
		}
		if m.Sig == 99 {
			fmt.Println("sig 99:", n, "bytes")
			continue
		}
		fmt.Printf("sig %d: %s\n", m.Sig, buf[:n])
	}
	// Output:
	// sig 0: hello 0
	// sig 1: hello 1
	// sig 2: hello 2
	// sig 99: 1000 bytes
	// closed
}

// SPDX-License-Identifier: Apache-2.0 OR MIT
module github.com/rill-ipc/rill/bench/go

go 1.22

require github.com/rill-ipc/rill/bindings/go v0.2.0

require golang.org/x/sys v0.30.0 // indirect

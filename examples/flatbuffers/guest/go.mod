// SPDX-License-Identifier: Apache-2.0 OR MIT
module github.com/rill-ipc/rill/examples/flatbuffers/guest

go 1.22

require (
	github.com/google/flatbuffers v2.0.8+incompatible
	github.com/rill-ipc/rill/bindings/go v0.2.0
)

require golang.org/x/sys v0.30.0 // indirect

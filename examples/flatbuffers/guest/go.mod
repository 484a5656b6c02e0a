// SPDX-License-Identifier: Apache-2.0 OR MIT
module rill.example/fbguest

go 1.22

require (
	github.com/google/flatbuffers v2.0.8+incompatible
	rill v0.0.0
)

require golang.org/x/sys v0.30.0 // indirect

replace rill => ../../../bindings/go

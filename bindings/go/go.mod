// SPDX-License-Identifier: Apache-2.0 OR MIT
module github.com/rill-ipc/rill/bindings/go

go 1.22

require golang.org/x/sys v0.30.0

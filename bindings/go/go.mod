// SPDX-License-Identifier: Apache-2.0 OR MIT
module rill

go 1.22

require golang.org/x/sys v0.30.0

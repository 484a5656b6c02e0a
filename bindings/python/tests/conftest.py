# SPDX-License-Identifier: Apache-2.0 OR MIT
import itertools
import os
import shutil
import tempfile

import pytest

import rill

_n = itertools.count()


@pytest.fixture
def rdir():
    """A region directory of its own (short: FIFO paths must fit)."""
    d = tempfile.mkdtemp(prefix="rill-py-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def region(rdir):
    with rill.Region.create(f"r{os.getpid()}-{next(_n)}", size=8 << 20, dir=rdir) as r:
        yield r


@pytest.fixture
def xpeer():
    """The C peer (tests/xpeer.c): $RILL_XPEER, which make test sets."""
    p = os.environ.get("RILL_XPEER")
    if not p:
        if os.environ.get("RILL_REQUIRE_XPEER"):
            pytest.fail("RILL_XPEER is not set")
        pytest.skip("RILL_XPEER is not set (make test sets it)")
    return p

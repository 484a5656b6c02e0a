# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The shared test vector (tests/vectors/basic.vec) through the Python
binding (vector.py): Python writes and Python, C or Go checks; C or Go
writes and Python checks; and a Python writer leaves the same bytes as a
C or a Go one (tests/vectors/README.md, "Same bytes")."""
import sys
from pathlib import Path

import pytest

import vector
from conftest import Peer

VEC = vector.BASIC
PY = Peer("python", [sys.executable, str(Path(vector.__file__).resolve())])


def ok(peer, phase, d, file=VEC):
    r = peer.run("vector", phase, file, d, timeout=60)
    assert r.returncode == 0, f"{peer.name} {phase}: {r.stderr}"
    return r


def test_vector_python_writes_python_checks(rdir):
    ok(PY, "write", rdir)
    ok(PY, "check", rdir)


@pytest.mark.parametrize("python", ["python-writes", "python-checks"])
def test_vector_across_languages(peer, rdir, python):
    """Python writer with a C or Go checker, and C or Go writer with a
    Python checker (the checker finds the writer's endpoints dead, rejoins
    slots, reads what was left, compares the counters)."""
    w, c = (PY, peer) if python == "python-writes" else (peer, PY)
    ok(w, "write", rdir)
    ok(c, "check", rdir)


def test_vector_same_bytes(peer, tmp_path):
    """A Python writer and a C or Go writer leave the same region file but
    for the masked fields (times, pids, latency samples, ASYM)."""
    pdir, odir = tmp_path / "py", tmp_path / peer.name
    pdir.mkdir()
    odir.mkdir()
    ok(PY, "write", pdir)
    ok(peer, "write", odir)
    raw_p, raw_o = (pdir / "vec").read_bytes(), (odir / "vec").read_bytes()
    a, b = vector.mask(raw_p), vector.mask(raw_o)
    assert len(a) == len(b) == 1048576
    diff = next((i for i in range(len(a)) if a[i] != b[i]), None) if a != b else None
    assert diff is None, f"first difference at byte {diff:#x}: Python {a[diff]:#04x}, " \
                         f"{peer.name} {b[diff]:#04x}"
    # not vacuous: the ring holds the last message left for the checker
    # (sig 22, 100 bytes: 64 + 36), and the mask hid something (created_ns)
    holds = vector.payload(22, 0, 64) in a and vector.payload(22, 64, 36) in a
    assert holds and raw_p[24:32] != bytes(8) and raw_p != raw_o


def test_vector_writer_needs_no_exception(rdir):
    """Every line of basic.vec as written, tsorig included: the writer says
    nothing on stderr."""
    r = ok(PY, "write", rdir)
    assert r.stderr == ""


# Each edit of basic.vec (line number, old text, new text) must make the
# Python runner fail at that line: it compares what it says it compares.
EDITS = [
    ("write", 63, "recv a 0 expect 0 1 3 0 0", "recv a 0 expect 0 2 3 0 0"),       # sig
    ("write", 64, "recv a 0 expect 1 2 7 11 0", "recv a 0 expect 1 2 7 12 0"),     # tsorig
    ("write", 69, "recv a 0 expect 33 7 131 16 0", "recv a 0 expect 34 7 131 16 0"),  # size
    ("write", 99, "poll a 1 expect overrun 16", "poll a 1 expect overrun 15"),    # lost
    ("write", 100, "17 0 26 64", "17 0 26 0"),                                     # offset
    ("write", 103, "poll a 1 expect empty", "poll a 1 expect overrun 1"),
    ("write", 109, "send a 100 22", "send a 100 22 expect again"),
    ("write", 62, "commit a 1 9 3 0 expect again", "commit a 1 9 3 0"),
    ("check", 128, "backpressure=1", "backpressure=2"),
    ("check", 129, "liveness=dead", "liveness=alive"),
    ("check", 130, "producer=dead", "producer=none"),
    ("check", 130, "evictions=0", "evicitons=0"),                                  # unknown key
    ("check", 132, "30 20 3 0 0", "30 20 3 5 0"),                               # tsorig
    ("check", 133, "recv a 0 expect 0 21 3 0 0", "recv a 0 expect 0 21 3 0 1"),    # lost
    ("check", 135, "wait a 0 expect closed", "wait a 0 expect dead"),
    ("check", 144, "liveness=alive", "liveness=dead"),
    ("check", 144, "lost=1", "lost=0"),                                         # the rejoin's gap
    ("check", 141, "recv b 0 expect again", "recv b 0 expect 100 504 3 0 0"),  # 0.3's rejoin
]


@pytest.mark.parametrize("phase,line,old,new", EDITS)
def test_vector_runner_finds_a_mismatch(tmp_path, phase, line, old, new):
    lines = VEC.read_text().split("\n")
    assert old in lines[line - 1], lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new)
    bad = tmp_path / "basic.vec"
    bad.write_text("\n".join(lines))
    d = tmp_path / "dir"
    d.mkdir()
    if phase == "check":
        ok(PY, "write", d)
    r = PY.run("vector", phase, bad, d, timeout=60)
    assert r.returncode == 1, r.stderr
    assert f"basic.vec:{line}: " in r.stderr.splitlines()[-1], r.stderr

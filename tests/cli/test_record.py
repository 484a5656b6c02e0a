# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Tests of rill record, rill replay and rill tail --json / --raw
(docs/cli.md, docs/recording.md).

Recordings are read here by a reader of their own, written from
docs/recording.md alone (read_recording below), so the tests check the
file against its documentation as well as rill's reader against it.
The messages come from rill_cli_fixture's sendx (tests/cli/fixture.c):
message K's sig, ctl, tsorig, size and every byte follow from K, which
xmsg() below computes the same way.
"""

import base64
import json
import os
import signal
import struct
import subprocess
import tempfile

import pytest

from test_cli import DEADLINE, FIXTURE, RILL, peers, rill, shm, wait_for  # noqa: F401 (fixtures)

try:
    import zstandard
except ImportError:  # the reader says so if it meets a compressed block
    zstandard = None

CTL_SOM, CTL_EOM, CTL_ERR = 1, 2, 4


# ---- the messages of sendx ---------------------------------------------------


def xmsg(k, maxsize):
    """Message K of the fixture's sendx: (sig, ctl, tsorig, payload)."""
    n = k * 7919 % (maxsize + 1)
    payload = bytes((k * 31 + j * 7 + j // 256) & 0xFF for j in range(n))
    ctl = ((k & 0x1FFF) << 3) | (0 if k % 5 else CTL_ERR)
    return 0xFEDC000000000000 + k, ctl, (k * 2654435761) & 0xFFFFFFFF, payload


def check_msg(m, maxsize):
    """M, a message read back, is sendx's message K (from its sig): K."""
    k = m["sig"] - 0xFEDC000000000000
    assert 0 <= k < 1 << 32, m["sig"]
    sig, ctl, tsorig, payload = xmsg(k, maxsize)
    assert m["ctl"] == ctl | CTL_SOM | CTL_EOM, (k, m["ctl"])
    assert m["tsorig"] == tsorig, k
    assert m["payload"] == payload, k
    return k


def frags(size, mtu):
    return max(1, -(-size // mtu))


# ---- a reader of docs/recording.md -----------------------------------------------

_CRC = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


class Bad(Exception):
    def __init__(self, kind, index, offset, why):
        super().__init__(f"{kind} at record {index} (byte {offset}): {why}")
        self.kind, self.index, self.offset = kind, index, offset


def read_recording(path):
    """Reads a recording as docs/recording.md describes it: a dict with
    info, msgs, losses, end (or None), and bad (a Bad, or None: every
    record intact).  What comes before a bad record is kept."""
    data = open(path, "rb").read()
    rec = {"info": None, "msgs": [], "losses": [], "end": None, "bad": None}
    index = 0

    def record(buf, off, where):
        if len(buf) - off < 16:
            raise Bad("truncated" if where is None else "corrupt", index, off, "header cut")
        ln, typ, flags, hcrc, bcrc = struct.unpack_from("<IHHII", buf, off)
        if crc32c(buf[off:off + 8]) != hcrc:
            raise Bad("corrupt", index, off, "header crc")
        if len(buf) - off - 16 < ln:
            raise Bad("truncated" if where is None else "corrupt", index, off, "body cut")
        body = buf[off + 16:off + 16 + ln]
        if crc32c(body) != bcrc:
            raise Bad("corrupt", index, off, "body crc")
        return typ, flags, body, off + 16 + ln

    def take(typ, body):
        nonlocal index
        if typ == 2:
            seq, sig, rx, tsorig, tspub, ctl, _, size = struct.unpack_from("<QQQIIHHI", body)
            assert size == len(body) - 40
            rec["msgs"].append({"seq": seq, "sig": sig, "rx_ns": rx, "tsorig": tsorig,
                                "tspub": tspub, "ctl": ctl, "payload": body[40:]})
        elif typ == 3:
            seq, count, rx = struct.unpack_from("<QQQ", body)
            rec["losses"].append({"seq": seq, "count": count, "rx_ns": rx})
        elif typ == 4:
            msgs, nbytes, lost, real, rx = struct.unpack_from("<QQQQQ", body)
            rec["end"] = {"messages": msgs, "bytes": nbytes, "lost": lost, "rx_ns": rx}
        else:
            raise AssertionError(f"record type {typ}")
        index += 1

    try:
        if len(data) < 16:
            raise Bad("truncated", 0, 0, "preamble cut")
        assert data[:8] == b"RILLREC\n"
        major, minor, pcrc = struct.unpack_from("<HHI", data, 8)
        assert (major, pcrc) == (1, crc32c(data[:12]))
        typ, _, body, off = record(data, 16, None)
        assert typ == 1
        f = struct.unpack_from("<QQQIIIHHHH", body)
        rl, cl = f[8], f[9]
        rec["info"] = {"start_real_ns": f[0], "start_mono_ns": f[1], "max_msg": f[2],
                       "depth": f[3], "mtu": f[4], "max_consumers": f[5], "mode": f[6],
                       "compression": f[7], "region": body[48:48 + rl].decode(),
                       "channel": body[48 + rl:48 + rl + cl].decode()}
        index = 1
        while off < len(data):
            start = off
            typ, flags, body, off = record(data, off, None)
            if typ != 5:
                take(typ, body)
                continue
            raw_len, count = struct.unpack_from("<II", body)
            assert zstandard, "a compressed recording: pip install zstandard"
            try:
                raw = zstandard.ZstdDecompressor().decompress(body[8:], max_output_size=raw_len)
            except zstandard.ZstdError as e:
                raise Bad("corrupt", index, start, str(e))
            assert len(raw) == raw_len
            parsed, roff = [], 0
            while roff < len(raw):
                typ, _, inner, roff = record(raw, roff, start)
                parsed.append((typ, inner))
            assert len(parsed) == count
            for typ, inner in parsed:
                take(typ, inner)
    except Bad as e:
        rec["bad"] = e
    return rec


# ---- helpers -----------------------------------------------------------------------


def zstd_built():
    p = subprocess.run([RILL, "record", "--zstd", "x/y", os.devnull], capture_output=True, text=True)
    return "without libzstd" not in p.stderr


needs_zstd = pytest.mark.skipif(not zstd_built(), reason="rill built without libzstd")
COMPRESS = [pytest.param([], id="plain"), pytest.param(["--compress"], id="zstd", marks=needs_zstd)]


class Fixture:
    """rill_cli_fixture in a region md of its own, a channel per test."""

    def __init__(self, peers, d):
        self.d = d
        self.peer = peers(d)
        self.peer.do("region md 16777216")

    def channel(self, name, depth=64, mtu=128, slots=4, max_msg=2048):
        self.peer.do(f"channel md/{name} {depth} {mtu} {slots} {max_msg}")


def start(d, *args):
    return subprocess.Popen([RILL, "--dir", d, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(p):
    try:
        out, err = p.communicate(timeout=DEADLINE)
    finally:
        if p.poll() is None:
            p.kill()
    return p.returncode, out, err


def joined(d, chan, pid):
    """Waits until process PID is a consumer of CHAN."""
    def look():
        ch = json.loads(rill(d, "info", "--json", chan, check=0).stdout)["channel"]
        return any(c["pid"] == pid for c in ch["consumers"])
    wait_for(look, f"{pid} joining {chan}")


def ready(path):
    """Waits until a recorder is ready: joined, at its start, and its
    file's header written (it writes it after it joined)."""
    wait_for(lambda: os.path.exists(path) and read_recording(path)["info"] is not None,
             f"the header of {path}")


def recorded(path, n):
    """Waits until the recording at PATH holds N messages (the recorder
    writes what it has when idle)."""
    wait_for(lambda: os.path.exists(path) and len(read_recording(path)["msgs"]) >= n,
             f"{n} messages in {path}")


def check_json(*args):
    p = subprocess.run([RILL, "replay", "--check", "--json", *args], capture_output=True,
                       text=True, timeout=DEADLINE)
    return p.returncode, json.loads(p.stdout), p.stderr


def record_stream(fx, tmp, name, n, maxsize, extra=()):
    """A reliable recording of N sendx messages of md/NAME into a file."""
    fx.channel(name)
    path = os.path.join(tmp, f"{name}.rec")
    rec = start(fx.d, "record", "--reliable", "--until-closed", "--json", *extra, f"md/{name}", path)
    ready(path)
    p = fx.peer.do(f"producer md/{name}")[0]
    assert fx.peer.do(f"sendx {p} {n} {maxsize}") == [n]
    fx.peer.do(f"leavep {p}")
    rc, out, err = finish(rec)
    assert rc == 0, err
    return path, json.loads(out)


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="rill-rec-") as t:
        yield t


# ---- record and replay -------------------------------------------------------------


@pytest.mark.parametrize("compress", COMPRESS)
def test_record_replay_identical(shm, peers, tmp, compress):
    """A reliable recording holds every message, every byte, fragments put
    together; a replay into another channel publishes the same again."""
    fx = Fixture(peers, shm)
    n, maxsize = 400, 1500  # up to 12 fragments of 128 bytes, through a ring of 64
    path, summary = record_stream(fx, tmp, "src", n, maxsize, compress)
    assert (summary["messages"], summary["lost"], summary["stopped"]) == (n, 0, "closed")
    assert summary["compression"] == ("zstd" if compress else "none")
    assert summary["file_size"] == os.path.getsize(path)
    r = read_recording(path)
    assert r["bad"] is None and not r["losses"]
    info = r["info"]
    assert (info["region"], info["channel"], info["depth"], info["mtu"], info["max_consumers"],
            info["max_msg"], info["mode"], info["compression"]) == \
        ("md", "src", 64, 128, 4, 2048, 1, 1 if compress else 0)
    assert [check_msg(m, maxsize) for m in r["msgs"]] == list(range(n))
    assert sum(len(m["payload"]) for m in r["msgs"]) == summary["bytes"]
    for a, b in zip(r["msgs"], r["msgs"][1:]):  # every descriptor accounted for
        assert b["seq"] == a["seq"] + frags(len(a["payload"]), 128)
        assert b["rx_ns"] >= a["rx_ns"]
    assert r["end"] == {"messages": n, "bytes": summary["bytes"], "lost": 0,
                        "rx_ns": r["end"]["rx_ns"]}
    rc, doc, _ = check_json(path)
    assert rc == 0 and doc["valid"] and doc["complete"] and doc["messages"] == n
    assert doc["first_seq"] == r["msgs"][0]["seq"] and doc["last_seq"] == r["msgs"][-1]["seq"]

    # replayed into a fresh channel, recorded again: the same messages
    fx.channel("dst")
    again = os.path.join(tmp, "again.rec")
    rec = start(shm, "record", "--reliable", "--until-closed", "md/dst", again)
    ready(again)
    p = subprocess.run([RILL, "--dir", shm, "replay", "--max", "--wait-consumers", "1", "--json",
                        path, "md/dst"], capture_output=True, text=True, timeout=DEADLINE)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert (doc["messages"], doc["valid"], doc["target"]) == (n, True, "md/dst")
    assert finish(rec)[0] == 0
    r2 = read_recording(again)
    assert r2["bad"] is None and not r2["losses"]
    assert [check_msg(m, maxsize) for m in r2["msgs"]] == list(range(n))
    for a, b in zip(r["msgs"], r2["msgs"]):
        assert (a["sig"], a["ctl"], a["tsorig"], a["payload"]) == \
            (b["sig"], b["ctl"], b["tsorig"], b["payload"])
    # rill's own dump agrees with this reader
    p = subprocess.run([RILL, "replay", "--check", "--dump", again], capture_output=True,
                       text=True, timeout=DEADLINE, check=True)
    dump = [json.loads(line) for line in p.stdout.splitlines()]
    assert [(d["seq"], d["sig"], d["ctl"], d["size"], base64.b64decode(d["payload"]))
            for d in dump] == [(m["seq"], m["sig"], m["ctl"], len(m["payload"]), m["payload"])
                               for m in r2["msgs"]]


def test_replay_create(shm, peers, tmp):
    """--create makes the region and the channel with the recording's
    geometry; the replayed messages are the recorded ones."""
    fx = Fixture(peers, shm)
    path, _ = record_stream(fx, tmp, "src", 20, 300)
    p = rill(shm, "replay", "--create", "--max", path, "new/chan", check=0)
    assert "replayed 20 messages" in p.stdout
    ch = json.loads(rill(shm, "info", "--json", "new/chan", check=0).stdout)["channel"]
    assert (ch["depth"], ch["mtu"], ch["max_consumers"], ch["max_msg"]) == (64, 128, 4, 2048)
    out = rill(shm, "tail", "--json", "--last", "5", "new/chan", check=0).stdout
    got = [json.loads(line) for line in out.splitlines()]
    want = read_recording(path)["msgs"][-5:]
    # tail shows the last fragment's ctl: EOM, and SOM if it is the only one
    assert [(g["sig"], g["ctl"] | 3, g["tsorig"], base64.b64decode(g["payload"])) for g in got] == \
        [(m["sig"], m["ctl"], m["tsorig"], m["payload"]) for m in want]
    # the channel is there now: a second replay publishes into it
    assert "replayed 20" in rill(shm, "replay", "--max", path, "new/chan", check=0).stdout


def test_record_lossy_laps(shm, peers, tmp):
    """A lossy recorder never slows the producer: lapped, it records the
    loss, and every message it has is whole and right."""
    fx = Fixture(peers, shm)
    fx.channel("fast", depth=64)
    path = os.path.join(tmp, "lossy.rec")
    rec = start(shm, "record", "--until-closed", "--json", "md/fast", path)
    try:
        ready(path)
        joined(shm, "md/fast", rec.pid)  # as a consumer: lossy, so the producer never waits
        p = fx.peer.do("producer md/fast")[0]
        assert fx.peer.do(f"sendx {p} 1 100") == [1]
        recorded(path, 1)  # it is past its start, waiting for more
        rec.send_signal(signal.SIGSTOP)
        assert fx.peer.do(f"sendx {p} 1000 100") == [1000]  # laps it 15 times over
        rec.send_signal(signal.SIGCONT)
        assert fx.peer.do(f"sendx {p} 10 100") == [10]
        fx.peer.do(f"leavep {p}")
    finally:
        rec.send_signal(signal.SIGCONT)
    rc, out, err = finish(rec)
    assert rc == 0, err
    summary = json.loads(out)
    r = read_recording(path)
    assert r["bad"] is None
    ks = [check_msg(m, 100) for m in r["msgs"]]
    lost = sum(x["count"] for x in r["losses"])
    assert r["losses"] and lost >= 1000 - 64
    assert len(ks) + lost == 1011 and ks == sorted(ks) and ks[0] == 0 and ks[-1] == 1010
    assert (summary["messages"], summary["lost"]) == (len(ks), lost)
    # one descriptor a message (<= 100 bytes): seq - k is the channel's
    # first seq; the losses are exactly the sequence numbers missing
    seq0 = r["msgs"][0]["seq"]
    assert all(m["seq"] == seq0 + k for m, k in zip(r["msgs"], ks))
    missing = sorted(set(range(1011)) - set(ks))
    assert missing == [s - seq0 for x in r["losses"] for s in range(x["seq"], x["seq"] + x["count"])]
    rc, doc, _ = check_json(path)
    assert rc == 0 and doc["lost"] == lost and doc["losses"] == len(r["losses"])


def test_record_interrupted_and_stdout(shm, peers, tmp):
    """SIGINT closes the file properly; '-' records to standard output;
    --count and --duration stop it."""
    fx = Fixture(peers, shm)
    fx.channel("q")
    path = os.path.join(tmp, "int.rec")
    rec = start(shm, "record", "md/q", path)
    ready(path)
    p = fx.peer.do("producer md/q")[0]
    assert fx.peer.do(f"sendx {p} 5 300") == [5]
    recorded(path, 5)
    rec.send_signal(signal.SIGINT)
    rc, out, err = finish(rec)
    assert rc == 0, err
    assert "recorded 5 messages" in out
    r = read_recording(path)
    assert r["bad"] is None and r["end"]["messages"] == 5
    # to standard output, stopped by --count; the summary on stderr
    with open(os.path.join(tmp, "out.rec"), "wb") as f:
        rec = subprocess.Popen([RILL, "--dir", shm, "record", "--count", "3", "md/q", "-"],
                               stdout=f, stderr=subprocess.PIPE, text=True)
        ready(os.path.join(tmp, "out.rec"))
        assert fx.peer.do(f"sendx {p} 4 300") == [4]
        assert rec.wait(timeout=DEADLINE) == 0
        assert "recorded 3 messages" in rec.stderr.read()
    r = read_recording(os.path.join(tmp, "out.rec"))
    assert r["bad"] is None and [check_msg(m, 300) for m in r["msgs"]] == [5, 6, 7]
    # --duration: nothing comes, it stops all the same
    p = rill(shm, "record", "--duration", "0.2", "--json", "md/q", path, check=0)
    assert json.loads(p.stdout)["stopped"] == "duration"
    assert read_recording(path)["end"]["messages"] == 0


def test_replay_speed(shm, peers, tmp):
    """The recorded spacing, scaled by --speed; --max ignores it."""
    fx = Fixture(peers, shm)
    fx.channel("slow")
    path = os.path.join(tmp, "slow.rec")
    rec = start(shm, "record", "--until-closed", "md/slow", path)
    ready(path)
    p = fx.peer.do("producer md/slow")[0]
    fx.peer.do(f"sendx {p} 1 10")
    recorded(path, 1)  # the gap is the time this wait and the next line take, at least
    fx.peer.do(f"sendx {p} 1 10")
    fx.peer.do(f"leavep {p}")
    assert finish(rec)[0] == 0
    m = read_recording(path)["msgs"]
    gap = (m[1]["rx_ns"] - m[0]["rx_ns"]) / 1e9
    assert gap > 0.05  # the recorder writes when idle for 100 ms

    def replay(*args):
        p = subprocess.run([RILL, "--dir", shm, "replay", "--json", *args, path, "md/slow"],
                           capture_output=True, text=True, timeout=DEADLINE)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)["seconds"]

    assert replay() >= 0.8 * gap
    assert replay("--speed", "2") >= 0.4 * gap
    assert replay("--max") < gap


# ---- damaged recordings ---------------------------------------------------------------


def batches(fx, tmp, name, compress, sizes=(40, 40, 40)):
    """A lossy recording of md/NAME made of one block (or one write) per
    batch: the recorder writes what it has when idle.  (path, records:
    offsets where each whole record or block ends.)"""
    fx.channel(name)
    path = os.path.join(tmp, f"{name}.rec")
    rec = start(fx.d, "record", *compress, "--until-closed", f"md/{name}", path)
    ready(path)
    p = fx.peer.do(f"producer md/{name}")[0]
    total = 0
    for n in sizes:
        assert fx.peer.do(f"sendx {p} {n} 200") == [n]
        total += n
        recorded(path, total)
    fx.peer.do(f"leavep {p}")
    assert finish(rec)[0] == 0
    return path, total


def record_ends(path):
    """Offsets where a top-level record ends, and the messages before each."""
    data = open(path, "rb").read()
    off, ends, msgs = 16, [], 0
    while off < len(data):
        ln, typ = struct.unpack_from("<IH", data, off)
        off += 16 + ln
        if typ == 2:
            msgs += 1
        elif typ == 5:
            msgs += struct.unpack_from("<I", data, off - ln + 4)[0]
        ends.append((off, msgs, typ))
    return ends


@pytest.mark.parametrize("compress", COMPRESS)
def test_truncated(shm, peers, tmp, compress):
    """A recording cut anywhere: every whole record (block) before the
    cut is kept; a cut within a record is named."""
    fx = Fixture(peers, shm)
    path, total = batches(fx, tmp, "cut", compress)
    ends = record_ends(path)
    assert ends[-1][2] == 4 and ends[-1][1] == total
    if compress:
        assert [t for _, _, t in ends] == [1, 5, 5, 5, 4]  # header, a block a batch, end
    data = open(path, "rb").read()
    cut = os.path.join(tmp, "cut-short.rec")
    header_end = ends[0][0]
    # (cut at, messages kept, whether it is cut within a record)
    cases = [(header_end, 0, False), (ends[2][0], ends[2][1], False), (ends[-2][0], total, False)]
    for i in (1, 2, len(ends) - 1):  # within a record's header, within its body
        cases.append((ends[i - 1][0] + 7, ends[i - 1][1], True))
        cases.append((ends[i][0] - 3, ends[i - 1][1], True))
    for at, kept, within in cases:
        with open(cut, "wb") as f:
            f.write(data[:at])
        rc, doc, err = check_json(cut)
        assert doc["messages"] == kept, (at, doc)
        assert not doc["complete"]
        mine = read_recording(cut)
        assert len(mine["msgs"]) == kept
        if within:
            assert rc == 1 and not doc["valid"] and doc["truncated"], (at, doc)
            i = next(j for j, e in enumerate(ends) if e[0] > at)
            assert doc["error_offset"] == ends[i - 1][0]
            assert f"at byte {ends[i - 1][0]}) cut short" in err
            assert f"record {doc['error_record']} " in err and f"the {kept} messages before it" in err
            assert mine["bad"].kind == "truncated"
        else:
            assert rc == 0 and doc["valid"], (at, doc, err)
            assert mine["bad"] is None
    for at in (0, 5, 16, 30):  # no preamble or no header: not a recording yet
        with open(cut, "wb") as f:
            f.write(data[:at])
        p = rill(shm, "replay", "--check", cut, check=1)
        assert "cut-short.rec" in p.stderr


@pytest.mark.parametrize("compress", COMPRESS)
def test_corrupt(shm, peers, tmp, compress):
    """A flipped byte is caught at its record (block); the records before
    it are kept, by --check and by replay."""
    fx = Fixture(peers, shm)
    path, total = batches(fx, tmp, "bad", compress)
    ends = record_ends(path)
    data = bytearray(open(path, "rb").read())
    bad = os.path.join(tmp, "flipped.rec")
    # a byte of the third record's (block's) body, of its length, of its CRC
    i = 3
    first, kept = ends[i - 1][0], ends[i - 1][1]
    for at, why in ((ends[i][0] - 5, "body's checksum"), (first + 1, "header's checksum"),
                    (first + 13, "body's checksum")):
        flipped = bytearray(data)
        flipped[at] ^= 0x40
        with open(bad, "wb") as f:
            f.write(flipped)
        rc, doc, err = check_json(bad)
        assert rc == 1 and not doc["valid"] and not doc["truncated"], (at, doc)
        assert doc["messages"] == kept and doc["error_offset"] == first
        assert f"corrupt: its {why} does not match" in err, err
        assert read_recording(bad)["bad"].kind == "corrupt"
        assert len(read_recording(bad)["msgs"]) == kept
    # replay publishes what comes before the bad record, then fails naming it
    fx.channel("dst")
    again = os.path.join(tmp, "again.rec")
    rec = start(shm, "record", "--reliable", "--until-closed", "md/dst", again)
    ready(again)
    p = rill(shm, "replay", "--max", bad, "md/dst", check=1)
    assert f"the {kept} messages before it were replayed" in p.stderr
    assert f"replayed {kept} messages" in p.stdout
    assert finish(rec)[0] == 0
    assert [check_msg(m, 200) for m in read_recording(again)["msgs"]] == list(range(kept))


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk(shm, peers, tmp):
    """A full disk stops the recorder with ENOSPC; the file is valid up to
    the last whole record, and holds what the recorder says it wrote."""
    small = os.path.join(tmp, "small")
    os.mkdir(small)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small], check=True)
    try:
        fx = Fixture(peers, shm)
        fx.channel("big")
        path = os.path.join(small, "full.rec")
        rec = start(shm, "record", "--reliable", "--json", "md/big", path)
        ready(path)
        p = fx.peer.do("producer md/big")[0]
        # about 1 MB: four times the disk.  The recorder fails and leaves,
        # which frees the producer's credit: all are sent
        assert fx.peer.do(f"sendx {p} 2000 1000") == [2000]
        rc, out, err = finish(rec)
        assert rc == 1
        assert "No space left on device" in err and "it is valid" in err, err
        summary = json.loads(out)
        assert summary["stopped"] == "error" and "No space left" in summary["error"]
        n = summary["messages"]
        assert 0 < n < 2000
        assert os.path.getsize(path) == summary["file_size"]
        r = read_recording(path)
        assert r["bad"] is None and r["end"] is None
        assert [check_msg(m, 1000) for m in r["msgs"]] == list(range(n))
        rc, doc, _ = check_json(path)
        assert rc == 0 and doc["valid"] and not doc["complete"] and doc["messages"] == n
    finally:
        subprocess.run(["umount", small], check=True)


# ---- tail --json and --raw ----------------------------------------------------------


def test_tail_json_and_raw(shm, peers):
    fx = Fixture(peers, shm)
    fx.channel("t")
    p = fx.peer.do("producer md/t")[0]
    assert fx.peer.do(f"sendx {p} 6 600") == [6]  # binary, multi-fragment, one empty
    fx.peer.do(f"send {p} 1")  # "msg 6", text
    out = rill(shm, "tail", "--json", "--last", "7", "md/t", check=0).stdout
    got = [json.loads(line) for line in out.splitlines()]
    assert len(got) == 7
    for k, g in enumerate(got[:6]):
        sig, ctl, tsorig, payload = xmsg(k, 600)
        assert (g["sig"], g["ctl"] & ~3, g["tsorig"], g["size"], g["lost"]) == \
            (sig, ctl, tsorig, len(payload), 0)
        assert base64.b64decode(g["payload"]) == payload  # whole: no --max-bytes cut
        assert "text" not in g or payload == b""
        assert isinstance(g["tspub"], int)
    assert got[0]["size"] == 0 and got[0]["payload"] == ""
    assert (got[6]["sig"], got[6]["text"], base64.b64decode(got[6]["payload"])) == (6, "msg 6", b"msg 6")
    assert [g["seq"] for g in got] == sorted(g["seq"] for g in got)
    # --max-bytes, asked for, cuts the payload; size stays the message's
    g = json.loads(rill(shm, "tail", "--json", "-b", "4", "-l", "2", "md/t", check=0).stdout.splitlines()[0])
    assert len(base64.b64decode(g["payload"])) == 4 and g["size"] == len(xmsg(5, 600)[3])
    # --raw: a u32 little-endian length, then the bytes
    raw = subprocess.run([RILL, "--dir", shm, "tail", "--raw", "--last", "7", "md/t"],
                         capture_output=True, timeout=DEADLINE, check=True).stdout
    frames, off = [], 0
    while off < len(raw):
        (n,) = struct.unpack_from("<I", raw, off)
        frames.append(raw[off + 4:off + 4 + n])
        off += 4 + n
    assert off == len(raw)
    assert frames == [xmsg(k, 600)[3] for k in range(6)] + [b"msg 6"]
    for args in (["--raw", "-b", "4"], ["--json", "--hex"], ["--raw", "--json"]):
        assert "Try 'rill" in rill(shm, "tail", *args, "md/t", check=2).stderr


# ---- usage ----------------------------------------------------------------------------


def test_record_replay_usage(shm, tmp):
    top = rill(shm, "--help", check=0).stdout
    for c in ("record", "replay"):
        assert f"\n  {c} " in top
        out = rill(shm, c, "--help", check=0).stdout
        assert f"Usage: rill {c}" in out and "--dir DIR" in out and "-d, --dir" not in out
        assert rill(shm, "help", c, check=0).stdout == out
    f = os.path.join(tmp, "x.rec")
    for args in (["record", "md/q"], ["record", "md", f], ["record", "--count", "0", "md/q", f],
                 ["record", "--reliable", "--last", "3", "md/q", f], ["record", "--zstd=30", "md/q", f],
                 ["record", "--duration", "soon", "md/q", f], ["replay", f],
                 ["replay", "--max", "--speed", "2", f, "md/q"], ["replay", "--speed", "0", f, "md/q"],
                 ["replay", "--check", f, "md/q"], ["replay", "--dump", f],
                 ["replay", "--size", "1M", f, "md/q"], ["replay", "--wait-consumers", "0", f, "md/q"]):
        assert "Try 'rill" in rill(shm, *args, check=2).stderr, args
    # failures: 1, saying why
    assert "no such region" in rill(shm, "record", "md/q", f, check=1).stderr
    with open(f, "wb") as w:
        w.write(b"not a recording at all")
    assert "not a rill recording" in rill(shm, "replay", "--check", f, check=1).stderr
    assert "No such file" in rill(shm, "replay", "--check", f + ".none", check=1).stderr

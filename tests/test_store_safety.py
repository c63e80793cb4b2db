"""Nothing of the user's store is lost: tracks not found now keep their rows until pruned, damaged
parts are found and repaired, never committed again, and a damaged record is rebuilt or reported.
On excerpts of real music (Debian's freedroidrpg-data), one fast model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import embedexplore
from audiofiles import excerpt
from embedexplore import Collection
from embedexplore._text import TEXT, records_frame
from embedexplore.extraction import extract
from embedexplore.store import DamagedStoreError, StoreError
from embedexplore.store_check import prune, verify
from realmusic import real_music
from unprivileged import scan_as_nobody

pytestmark = pytest.mark.realmusic

MODEL = "vgg-msd"  # the fastest of the four: what is tested here is the store
OPTS = dict(models=[MODEL], device="cpu", progress=False)


@pytest.fixture(scope="module")
def music_source(tmp_path_factory) -> Path:
    """Five real tracks cut to 3-7 s (1-2 segments each): two in a/, three in b/."""
    folder = tmp_path_factory.mktemp("source")
    files = sorted(real_music("freedroidrpg-data").glob("*.ogg"))[:5]
    for i, src in enumerate(files):
        excerpt(src, folder / ("a" if i < 2 else "b") / src.name, 3.2 + i)
    return folder


@pytest.fixture
def music(music_source, tmp_path) -> Path:
    folder = tmp_path / "music"
    shutil.copytree(music_source, folder)
    return folder


@pytest.fixture(scope="module")
def clean(music_source, tmp_path_factory):
    """One store extracted without incident from ``music_source``: what repairs must give."""
    store = tmp_path_factory.mktemp("clean") / "store"
    emb = extract(_scan(music_source), store=store, **OPTS)
    return store, {layer: np.array(emb.array(MODEL, layer)) for layer in emb.layers(MODEL)}


def _scan(folder) -> Collection:
    return embedexplore.scan(folder, cache=False, progress=False)


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "embedexplore", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _arrays(store) -> dict[str, np.ndarray]:
    emb = embedexplore.open_store(store)
    return {layer: np.array(emb.array(MODEL, layer)) for layer in emb.layers(MODEL)}


def _assert_equal_to(store, want: dict[str, np.ndarray]) -> None:
    got = _arrays(store)
    assert set(got) == set(want)
    for layer in want:
        np.testing.assert_array_equal(got[layer], want[layer], err_msg=layer)


def _the_part(store) -> Path:
    (part,) = (Path(store) / "parts" / MODEL).iterdir()
    return part


# -- tracks that are not found ---------------------------------------------------------------------


def test_an_unmounted_drive_keeps_the_store(music, tmp_path):
    """The review's reproduction: the drive away, extract, the drive back: nothing recomputed."""
    store = tmp_path / "store"
    args = ("extract", str(music), "--store", str(store), "--models", MODEL, "--device", "cpu",
            "--no-cache", "-q")  # fmt: skip
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    before = _arrays(store)
    away = tmp_path / "away"
    away.mkdir()
    for p in list(music.iterdir()):
        shutil.move(p, away / p.name)  # "unmounted": the mount point is an empty folder

    gone = cli(*args)
    assert gone.returncode == 1, gone.stderr  # nothing read: a script can tell
    assert gone.stderr.strip().splitlines()[-1] == (
        f"embedexplore: error: no audio file in {music} (nor in its sub-folders); the store's "
        f"tracks are kept in {store}"
    )
    assert "5 of the 5 tracks in the store" in gone.stderr
    assert "if a drive is not mounted" in gone.stderr and "holds no audio file now" in gone.stderr
    assert "5 tracks not found kept" in gone.stdout
    kept = embedexplore.open_store(store)
    assert len(kept.tracks) == 5 and kept.tracks["missing"].all()
    _assert_equal_to(store, before)
    assert len(embedexplore.open_store(store, collection=_scan(music)).tracks) == 0

    for p in list(away.iterdir()):
        shutil.move(p, music / p.name)
    back = cli(*args)
    assert back.returncode == 0, back.stderr
    assert "0 extracted, 5 already there" in back.stdout
    assert not embedexplore.open_store(store).tracks["missing"].any()
    _assert_equal_to(store, before)


def test_an_unreadable_folder_keeps_its_tracks_and_pruning_is_refused(music, tmp_path):
    store = tmp_path / "store"
    extract(_scan(music), store=store, **OPTS)
    before = _arrays(store)
    (music / "b").chmod(0)
    try:
        # what a user who may not read b/ gets from the scan (root reads every folder)
        paths, errors = scan_as_nobody(music)
    finally:
        (music / "b").chmod(0o755)
    assert len(paths) == 2 and any(e["path"] == str(music / "b") for e in errors)
    full = _scan(music)
    seen = Collection(
        tracks=full.tracks[full.tracks["path"].isin(paths)],
        errors=records_frame(errors, ["path", "reason", "indexed"],
                             {"path": TEXT, "reason": TEXT, "indexed": "bool"}),
        roots=full.roots,
    )  # fmt: skip
    with pytest.raises(StoreError, match=r"not pruning 3 tracks.*could not read"):
        extract(seen, store=store, prune=True, **OPTS)
    _assert_equal_to(store, before)
    with pytest.warns(UserWarning, match=r"3 of the 5 tracks.*could not read .*/b"):
        emb = extract(seen, store=store, **OPTS)
    assert len(emb.tracks) == 2 and emb.stats.missing == 3
    assert len(embedexplore.open_store(store).tracks) == 5
    _assert_equal_to(store, before)


def test_a_subfolder_extracted_on_its_own_computes_nothing_and_drops_nothing(music, tmp_path):
    store = tmp_path / "store"
    extract(_scan(music), store=store, **OPTS)
    before = _arrays(store)
    with pytest.warns(UserWarning, match="3 of the 5 tracks"):
        sub = extract(_scan(music / "a"), store=store, **OPTS)
    assert sub.stats.extracted == 0 and sub.stats.reused == 2 and len(sub.tracks) == 2
    assert len(embedexplore.open_store(store).tracks) == 5
    again = extract(_scan(music), store=store, **OPTS)
    assert again.stats.extracted == 0 and again.stats.reused == 5
    _assert_equal_to(store, before)


def test_prune_only_when_asked(music, tmp_path):
    store = tmp_path / "store"
    first = extract(_scan(music), store=store, **OPTS)
    ids = dict(zip(first.tracks["path"], first.tracks.index, strict=True))
    rows = {t: np.array(first.array(MODEL, "embeddings")[first.rows(t)]) for t in ids.values()}
    victim = sorted(music.rglob("*.ogg"))[0]
    victim.unlink()
    with pytest.warns(UserWarning, match="1 of the 5 tracks"):
        kept = extract(_scan(music), store=store, **OPTS)
    assert kept.stats.missing == 1 and len(embedexplore.open_store(store).tracks) == 5
    pruned = extract(_scan(music), store=store, prune=True, **OPTS)
    assert pruned.stats.pruned == 1 and pruned.stats.missing == 0
    left = embedexplore.open_store(store)
    assert len(left.tracks) == 4 and ids[str(victim)] not in left.tracks.index
    for tid in left.tracks.index:  # the others' rows unchanged
        np.testing.assert_array_equal(left.array(MODEL, "embeddings")[left.rows(tid)], rows[tid])
    # embedexplore.prune: the tracks kept as missing, and only them
    second = sorted(music.rglob("*.ogg"))[0]
    second.unlink()
    with pytest.warns(UserWarning):
        extract(_scan(music), store=store, **OPTS)
    assert prune(store) == 1 and prune(store) == 0
    assert len(embedexplore.open_store(store).tracks) == 3
    assert verify(store).ok
    # everything gone from the folder: pruning refused
    for p in music.rglob("*.ogg"):
        p.unlink()
    with pytest.raises(StoreError, match="not pruning 3 tracks"):
        extract(_scan(music), store=store, prune=True, **OPTS)
    assert len(embedexplore.open_store(store).tracks) == 3


# -- damaged stores -------------------------------------------------------------------------------


def _truncate(store):
    p = _the_part(store) / "embeddings.npy"
    p.write_bytes(p.read_bytes()[:-100])


def _empty(store):
    (_the_part(store) / "taggrams.npy").write_bytes(b"")


def _flip(store):
    p = _the_part(store) / "taggrams.npy"
    data = bytearray(p.read_bytes())
    data[-7] ^= 0x40  # in the last value: a number, only wrong
    p.write_bytes(bytes(data))


def _manifest_cut(store):
    p = Path(store) / "manifest.json"
    p.write_bytes(p.read_bytes()[:40])


def _manifest_null(store):
    (Path(store) / "manifest.json").write_text("null")


def _no_collection(store):
    (Path(store) / "collection.json").unlink()


DAMAGES = {
    "truncated array": (_truncate, "embeddings.npy is cut short"),
    "0-byte array": (_empty, r"taggrams.npy is empty \(0 bytes\)"),
    "flipped byte": (_flip, "taggrams.npy changed since it was written"),
    "cut manifest": (_manifest_cut, "manifest.json of .* is damaged \\(not valid JSON"),
    "null manifest": (_manifest_null, "manifest.json of .* is damaged \\(not a JSON object"),
    "no collection.json": (_no_collection, "collection.json of .* is missing"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_verify_finds_the_damage_and_repair_gives_a_clean_store(damage, clean, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(clean[0], store)
    hurt, found = DAMAGES[damage]
    hurt(store)
    checked = cli("verify", "--store", str(store))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert __import__("re").search(found, checked.stdout), checked.stdout
    assert "--repair" in checked.stdout and "Traceback" not in checked.stderr
    repaired = cli("verify", "--store", str(store), "--repair", "--device", "cpu", "-q")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired" in repaired.stdout
    _assert_equal_to(store, clean[1])
    assert verify(store).ok


@pytest.mark.parametrize("damage", ["truncated array", "0-byte array"])
def test_extraction_replaces_a_damaged_part_and_never_commits_it_again(damage, clean, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(clean[0], store)
    music = Path(embedexplore.open_store(store).tracks["path"].iloc[0]).parents[1]
    DAMAGES[damage][0](store)
    emb = extract(_scan(music), store=store, **OPTS)  # no EOFError, no mmap error
    assert emb.stats.extracted == 5
    assert verify(store).ok
    _assert_equal_to(store, clean[1])
    again = extract(_scan(music), store=store, **OPTS)
    assert again.stats.extracted == 0


def test_damaged_records_are_reported_to_readers_or_rebuilt_by_writers(clean, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(clean[0], store)
    music = Path(embedexplore.open_store(store).tracks["path"].iloc[0]).parents[1]
    _manifest_null(store)
    with pytest.raises(DamagedStoreError, match=r"verify --store .* --repair"):
        embedexplore.open_store(store)
    with pytest.warns(RuntimeWarning, match="rebuilt from the parts"):
        emb = extract(_scan(music), store=store, **OPTS)
    assert emb.stats.extracted == 0 and emb.stats.reused == 5
    _truncate(store)
    with pytest.raises(DamagedStoreError, match="cannot be read"):
        embedexplore.open_store(store).array(MODEL, "embeddings")
    shutil.rmtree(store)
    shutil.copytree(clean[0], store)
    _no_collection(store)
    with pytest.warns(RuntimeWarning, match="collection.json .* is missing"):
        read = embedexplore.open_store(store)
    assert len(read.tracks) == 5 and not read.tracks["missing"].any()
    with pytest.warns(RuntimeWarning, match="collection.json .* is missing"):
        _assert_equal_to(store, clean[1])


def test_a_manifest_cannot_lead_out_of_the_store(clean, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(clean[0], store)
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["models"][MODEL]["parts"] = ["../../../../etc"]
    (store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DamagedStoreError, match="parts are not part ids"):
        embedexplore.open_store(store)


# -- the disk ------------------------------------------------------------------------------------


def _mount(args: list[str], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or 'not root'})")


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], check=False)


def test_a_full_disk_is_an_error_and_the_store_stays(music, tmp_path):
    disk = tmp_path / "disk"
    _mount(["-t", "tmpfs", "-o", "size=2m", "tmpfs"], disk)
    try:
        store = disk / "store"
        for p in (music / "b").iterdir():  # b/ comes later
            p.rename(tmp_path / p.name)
        args = ("extract", str(music), "--store", str(store), "--models", MODEL, "--device",
                "cpu", "--no-cache", "-q")  # fmt: skip
        assert cli(*args).returncode == 0
        before = _arrays(store)
        for p in tmp_path.glob("*.ogg"):
            p.rename(music / "b" / p.name)
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"\0" * (free - 12 * 1024))  # room for the records only
        full = cli(*args)
        assert full.returncode == 1, (full.returncode, full.stderr[-2000:])
        assert "embedexplore: error: cannot write to the store" in full.stderr
        assert "No space left on device" in full.stderr and "Traceback" not in full.stderr
        _assert_equal_to(store, before)
        assert verify(store).ok
        assert not list((store / "tmp").rglob("*")) if (store / "tmp").exists() else True
        (disk / "filler").unlink()
        done = cli(*args)  # a part written before the disk filled up is adopted, not recomputed
        assert done.returncode == 0, done.stderr
        assert "0 failed" in done.stdout and "5 tracks" in done.stdout
        assert verify(store).ok
    finally:
        _umount(disk)


def test_a_read_only_store_is_one_line(music, tmp_path):
    store = tmp_path / "store"
    extract(_scan(music / "a"), store=store, **OPTS)
    ro = tmp_path / "ro"
    _mount(["--bind", "-o", "ro", str(store)], ro)
    try:
        out = cli("extract", str(music), "--store", str(ro), "--models", MODEL, "--device", "cpu",
                  "--no-cache", "-q")  # fmt: skip
        assert out.returncode == 1
        assert "Read-only file system" in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert len(embedexplore.open_store(ro).tracks) == 2  # reading it works
        assert verify(ro).ok
    finally:
        _umount(ro)


def test_files_are_written_with_the_users_umask(music, tmp_path):
    old = os.umask(0o027)
    try:
        store = tmp_path / "store"
        emb = extract(_scan(music / "a"), store=store, **OPTS)
        pl = embedexplore.playlist.from_selection(emb, [0, 1])
        written = embedexplore.playlist.to_m3u8(pl, tmp_path / "mix.m3u8")
    finally:
        os.umask(old)
    for f in [*store.glob("*.json"), *store.glob("parts/*/*/*"), written]:
        assert (f.stat().st_mode & 0o777) == 0o640, f
    written.chmod(0o600)  # a file the user made private stays so when written again
    embedexplore.playlist.to_m3u8(pl, written)
    assert (written.stat().st_mode & 0o777) == 0o600


# -- the command line ------------------------------------------------------------------------------


def test_the_command_line_says_what_went_wrong_in_one_line(music, tmp_path):
    store = tmp_path / "store"
    bad = cli("extract", str(music), "--store", str(store), "--device", "nope", "-q")
    assert bad.returncode == 1 and "unknown device 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr
    env_timeout = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    far = subprocess.run(
        [sys.executable, "-m", "embedexplore", "extract", str(music), "--store", str(store),
         "--scheduler", "tcp://127.0.0.1:9", "-q"],
        capture_output=True, text=True, timeout=300, env=env_timeout,
    )  # fmt: skip
    assert far.returncode == 1, far.stderr[-2000:]
    assert "embedexplore: error:" in far.stderr and "Traceback" not in far.stderr
    assert len(far.stderr.strip().splitlines()) == 1, far.stderr


def test_extract_shows_the_scans_errors_with_names_made_printable(music, tmp_path):
    src = sorted(music.rglob("*.ogg"))[0]
    shutil.copy(src, music / "a" / "evil\x1b]0;owned\x07\x1b[2J.ogg")
    (music / "a" / "broken\x1b[31m.mp3").write_bytes(b"\x00not audio" * 50)
    out = cli("extract", str(music), "--store", str(tmp_path / "store"), "--models", MODEL,
              "--device", "cpu", "--no-cache", "-q")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "1 files or folders could not be read by the scan" in out.stdout
    assert "broken\\x1b[31m.mp3" in out.stdout
    assert "\x1b" not in out.stdout + out.stderr and "\x07" not in out.stdout + out.stderr
    listed = cli("scan", str(music), "--no-cache", "-q")
    assert "\x1b" not in listed.stdout and "broken\\x1b[31m.mp3" in listed.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: nothing missing
        emb = embedexplore.open_store(tmp_path / "store")
    assert len(emb.tracks) == 6


def test_a_store_written_without_pyarrow_opens_with_it(music, tmp_path):
    pytest.importorskip("pyarrow")
    src = sorted(music.rglob("*.ogg"))[0]
    latin = Path(os.fsdecode(os.fsencode(music / "a") + b"/caf\xe9 \x1b[1m.ogg"))
    shutil.copy(src, latin)
    store = tmp_path / "store"
    script = (
        "import sys; sys.modules['pyarrow'] = None\n"  # before pandas is imported
        "import embedexplore, pandas\n"
        "assert pandas.Series(['x']).dtype.storage == 'python'\n"
        "c = embedexplore.scan(sys.argv[1], cache=False, progress=False)\n"
        "embedexplore.extract(c, store=sys.argv[2], models=['vgg-msd'], device='cpu',"
        " progress=False)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(music), str(store)],
                          capture_output=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    emb = embedexplore.open_store(store)  # pyarrow is here now
    assert os.fsencode(latin) in {os.fsencode(p) for p in emb.tracks["path"]}
    joined = emb.join(_scan(music))
    assert len(joined) == len(emb.segments) and joined["path"].notna().all()
    assert emb.tracks["path"].dtype == TEXT

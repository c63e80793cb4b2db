"""Tags across the tagging schemes, written by mutagen into real files and read back."""

from __future__ import annotations

import struct

import mutagen
import pytest
from mutagen.apev2 import APEv2
from mutagen.asf import ASF
from mutagen.id3 import ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK, TYER
from mutagen.mp4 import MP4

import audiofiles as af
from embedexplore.tags import TagError, read_tags

EXPECTED = {
    "title": "Ännchen von Tharau",
    "artist": "Mäx & the Ωmegas",
    "album": "Live at 東京",
    "album_artist": "Various Artists",
    "genre": ["Folk", "Rock"],
    "year": 1998,
    "track_number": 3,
}


def _id3_frames(v23: bool = False) -> list:
    year = TYER(encoding=1, text="1998") if v23 else TDRC(encoding=3, text="1998-05-04")
    return [
        TIT2(encoding=3, text=EXPECTED["title"]),
        TPE1(encoding=3, text=EXPECTED["artist"]),
        TALB(encoding=3, text=EXPECTED["album"]),
        TPE2(encoding=3, text=EXPECTED["album_artist"]),
        TCON(encoding=3, text=["Folk", "Rock"]),
        year,
        TRCK(encoding=3, text="3/12"),
    ]


def _tag_id3(path, v23=False):
    f = mutagen.File(path)
    if f.tags is None:
        f.add_tags()
    for frame in _id3_frames(v23):
        f.tags.add(frame)
    f.save(v2_version=3 if v23 else 4)


def _tag_vorbis(path):
    f = mutagen.File(path)
    f["TITLE"], f["Artist"], f["album"] = EXPECTED["title"], EXPECTED["artist"], EXPECTED["album"]
    f["albumartist"], f["genre"] = EXPECTED["album_artist"], ["Folk", "Rock"]
    f["date"], f["tracknumber"] = "1998-05-04", "3/12"
    f.save()


def _tag_mp4(path):
    f = MP4(path)
    f["\xa9nam"], f["\xa9ART"], f["\xa9alb"] = (
        EXPECTED["title"],
        EXPECTED["artist"],
        EXPECTED["album"],
    )
    f["aART"], f["\xa9gen"] = EXPECTED["album_artist"], ["Folk", "Rock"]
    f["\xa9day"], f["trkn"] = "1998", [(3, 12)]
    f.save()


def _tag_ape(path):
    f = mutagen.File(path)
    if f.tags is None:
        f.add_tags()
    f.tags["Title"], f.tags["Artist"], f.tags["Album"] = (
        EXPECTED["title"],
        EXPECTED["artist"],
        EXPECTED["album"],
    )
    f.tags["Album Artist"], f.tags["Genre"] = EXPECTED["album_artist"], ["Folk", "Rock"]
    f.tags["Year"], f.tags["Track"] = "1998", "3/12"
    f.save()


def _tag_asf(path):
    f = ASF(path)
    f["Title"], f["Author"], f["WM/AlbumTitle"] = (
        EXPECTED["title"],
        EXPECTED["artist"],
        EXPECTED["album"],
    )
    f["WM/AlbumArtist"], f["WM/Genre"] = EXPECTED["album_artist"], ["Folk", "Rock"]
    f["WM/Year"], f["WM/TrackNumber"] = "1998", "3"
    f.save()


@pytest.mark.parametrize(
    ("kind", "tagger"),
    [
        ("mp3", _tag_id3),
        ("mp3", lambda p: _tag_id3(p, v23=True)),
        ("wav", _tag_id3),
        ("aiff", _tag_id3),
        ("ogg", _tag_vorbis),
        ("opus", _tag_vorbis),
        ("flac", _tag_vorbis),
        ("m4a", _tag_mp4),
        ("alac.m4a", _tag_mp4),
        ("wv", _tag_ape),
        ("wma", _tag_asf),
    ],
    ids=[
        "id3v24",
        "id3v23",
        "wav-id3",
        "aiff-id3",
        "ogg",
        "opus",
        "flac",
        "m4a",
        "alac",
        "ape",
        "asf",
    ],
)
def test_each_scheme_maps_to_the_same_fields(tmp_path, kind, tagger):
    path = af.write(tmp_path / f"a.{kind}", seconds=1.0)
    tagger(path)
    assert read_tags(path) == EXPECTED


def test_id3v1_only(tmp_path):
    path = af.write(tmp_path / "a.mp3", seconds=1.0)
    tags = ID3()
    tags.add(TIT2(encoding=0, text="Old School"))
    tags.add(TPE1(encoding=0, text="Tape Deck"))
    tags.add(TCON(encoding=0, text="(17)"))  # ID3v1 genre number 17 = Rock
    tags.add(TRCK(encoding=0, text="7"))
    tags.add(TDRC(encoding=0, text="1987"))
    tags.save(path, v1=2)
    mutagen.id3.delete(path, delete_v1=False, delete_v2=True)
    assert path.read_bytes()[-128:-125] == b"TAG" and not path.read_bytes().startswith(b"ID3")
    got = read_tags(path)
    assert got["title"] == "Old School" and got["artist"] == "Tape Deck"
    assert got["genre"] == ["Rock"] and got["track_number"] == 7 and got["year"] == 1987


def test_untagged_file_gives_empty_fields_not_someone_elses(tmp_path):
    tagged = af.write(tmp_path / "tagged.flac", seconds=1.0)
    _tag_vorbis(tagged)
    bare = af.write(tmp_path / "bare.flac", seconds=1.0)
    read_tags(tagged)
    got = read_tags(bare)
    assert got == {
        "title": None,
        "artist": None,
        "album": None,
        "album_artist": None,
        "genre": [],
        "year": None,
        "track_number": None,
    }


def test_several_values_and_separators(tmp_path):
    path = af.write(tmp_path / "a.flac", seconds=1.0)
    f = mutagen.File(path)
    f["artist"] = ["Ann", "Bob"]
    f["genre"] = ["Jazz; Soul / Funk"]
    f["tracknumber"] = "  04 of 10"
    f["date"] = "ca. 2003"
    f.save()
    got = read_tags(path)
    assert got["artist"] == "Ann; Bob"
    assert got["genre"] == ["Jazz", "Soul", "Funk"]
    assert got["track_number"] == 4 and got["year"] == 2003


def test_very_long_tags_are_kept_whole(tmp_path):
    path = af.write(tmp_path / "a.mp3", seconds=1.0)
    long_title = "la " * 40_000
    f = mutagen.File(path)
    f.tags.add(TIT2(encoding=3, text=long_title))  # FFmpeg already wrote an ID3 tag
    f.save()
    assert read_tags(path)["title"] == long_title.strip()


def test_invalid_utf8_in_vorbis_comments_is_replaced_not_fatal(tmp_path):
    path = af.write(tmp_path / "a.flac", seconds=1.0)
    f = mutagen.File(path)
    f["title"] = "ABCDEFGH"
    f["artist"] = "Someone"
    f.save()
    data = path.read_bytes()
    # Latin-1 bytes where UTF-8 is required, same length: "Caf\xe9 \xff\xfe!" (FLAC has no CRC here)
    data = data.replace(b"ABCDEFGH", b"Caf\xe9 \xff\xfe!")
    path.write_bytes(data)
    got = read_tags(path)
    assert got["title"].startswith("Caf") and "\ufffd" in got["title"]
    assert got["artist"] == "Someone"


def test_latin1_id3_text_decodes(tmp_path):
    path = af.write(tmp_path / "a.mp3", seconds=1.0)
    f = mutagen.File(path)
    f.tags.add(TIT2(encoding=0, text="Café Noir"))  # encoding 0 = ISO-8859-1
    f.save(v2_version=3)
    assert read_tags(path)["title"] == "Café Noir"


def test_null_bytes_and_blank_values_are_cleaned(tmp_path):
    path = af.write(tmp_path / "a.ogg", seconds=1.0)
    f = mutagen.File(path)
    f["title"] = "Side A\x00"
    f["artist"] = "   "
    f.save()
    got = read_tags(path)
    assert got["title"] == "Side A" and got["artist"] is None


def test_unsupported_id3_version_is_a_tag_error(tmp_path):
    audio_bytes = af.write(tmp_path / "a.mp3", seconds=1.0).read_bytes()
    body = b"\x00" * 20
    path = tmp_path / "v25.mp3"
    path.write_bytes(b"ID3\x05\x00\x00" + bytes([0, 0, 0, len(body)]) + body + audio_bytes)
    with pytest.raises(TagError, match="unreadable tags"):
        read_tags(path)


def test_corrupt_flac_comment_block_is_a_tag_error(tmp_path):
    path = af.write(tmp_path / "a.flac", seconds=1.0)
    f = mutagen.File(path)
    f["title"] = "XXXXTITLE"
    f.save()
    data = bytearray(path.read_bytes())
    at = data.find(b"title=XXXXTITLE")
    data[at - 4 : at] = struct.pack("<I", 10**6)  # the comment claims a megabyte
    path.write_bytes(bytes(data))
    with pytest.raises(TagError):
        read_tags(path)


def test_apev2_on_its_own(tmp_path):
    # APEv2 blocks also appear appended to other files; mutagen's APEv2 reader finds them
    path = af.write(tmp_path / "a.wv", seconds=1.0)
    tags = APEv2()
    tags["Title"] = "Only APE"
    tags.save(path)
    assert read_tags(path)["title"] == "Only APE"


def test_absurd_numbers_do_not_lose_the_other_tags(tmp_path):
    path = af.write(tmp_path / "a.flac", seconds=1.0)
    f = mutagen.File(path)
    f["title"], f["tracknumber"], f["date"] = "Keep me", "9" * 5000, "9" * 5000
    f.save()
    got = read_tags(path)
    assert got["title"] == "Keep me" and got["track_number"] is None and got["year"] is None

"""scripts/prepare_images.py's readers: Qt resource files (GCompris photos), DEP-5 copyright
files, captions from GCompris's names, and a split that adding sources never changes."""

import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import prepare_images as pi  # noqa: E402


def _rcc(files: dict[str, bytes]) -> bytes:
    """A version-2 Qt resource file with one directory 'res' holding ``files`` (zlib)."""
    names, blobs, tree = b"", b"", b""

    def name(s):
        nonlocal names
        off = len(names)
        enc = s.encode("utf-16-be")
        names += struct.pack(">HI", len(s), 0) + enc
        return off

    root_name, dir_name = name(""), name("res")
    entries = [(root_name, 0x02, 1, 1), (dir_name, 0x02, len(files), 2)]
    for fname, data in files.items():
        comp = struct.pack(">I", len(data)) + zlib.compress(data)
        entries.append((name(fname), 0x01, len(blobs)))
        blobs += struct.pack(">I", len(comp)) + comp
    for e in entries:
        if e[1] & 0x02:
            tree += struct.pack(">IHII", e[0], e[1], e[2], e[3]) + bytes(8)
        else:
            tree += struct.pack(">IHHHI", e[0], e[1], 0, 0, e[2]) + bytes(8)
    head = 24
    return (
        struct.pack(">4sIIIII", b"qres", 2, head, head + len(tree), head + len(tree) + len(blobs), 0)
        + tree + blobs + names
    )  # fmt: skip


def test_rcc_reader_returns_every_file_decompressed():
    files = {"lemur.webp": b"RIFF....WEBPdata" * 50, "map.svg": b"<svg/>"}
    got = dict(pi._rcc_files(_rcc(files)))
    assert got == {"/res/lemur.webp": files["lemur.webp"], "/res/map.svg": files["map.svg"]}


def test_copyright_lookup_takes_the_last_matching_stanza(tmp_path):
    p = tmp_path / "copyright"
    p.write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: the authors\nLicense: GPL-3+\n\n"
        "Files: src/activities/explore_world_animals/resource/animals/kangaroo.jpg\n"
        "Copyright: fir0002\nLicense: GFDL-NIV-1.2\n"
    )
    st = pi.copyright_stanzas(str(p))
    base = "src/activities/explore_world_animals/resource/animals/"
    assert pi.licence_of(st, [base + "kangaroo.webp", base + "kangaroo.jpg"]) == ("GFDL-NIV-1.2", "fir0002")
    assert pi.licence_of(st, [base + "koala.webp"])[0] == "GPL-3+"


def test_captions_and_split_are_stable():
    assert pi._words("greatWallofChina") == "great wall of china"
    assert pi._words("meidumPyramid") == "meidum pyramid" and pi._words("polar_bear") == "polar bear"
    # the split is a hash of the name alone: the shipped checkpoints' validation images stay there
    assert [pi.split_of(n) for n in ("kde-Volna", "gravel", "immunohistochemistry")] == ["val"] * 3

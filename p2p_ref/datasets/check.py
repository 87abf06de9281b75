"""`p2p-data check` and `p2p-data combine`: look at a dataset before a long run, and turn A/ + B/
folders into A|B files.

check reads every file in full (so corrupt and truncated files show), and reports per split the
count and layout, the image sizes, files that are likely not pairs, partners that are missing or
of another size, 16-bit / alpha / grayscale images and what the loader will do with them, the
files it will ignore, and the same image in two splits. Training runs only the cheap part (file
listing and headers: `AlignedDataset.quick_check`).
"""

import hashlib
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from p2p_ref.datasets.images import (channel_plan, is_image_file, match_channels, probe, read_image, write_image)
from p2p_ref.datasets.pairs import SplitListing, list_split, names, pair_folders, pair_issues

SPLIT_ORDER = ("train", "val", "test")


@dataclass
class CheckReport:
    """What `check_dataset` found: lines to print, errors (training would fail or be wrong) and
    warnings (probably a mistake)."""
    lines: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.errors

    def text(self):
        out = list(self.lines)
        for title, items in (("errors", self.errors), ("warnings", self.warnings)):
            if items:
                out.append(f"{len(items)} {title[:-1] if len(items) == 1 else title}:")
                out += [f"  - {item}" for item in items]
        out.append("OK: no errors" if self.ok else f"{len(self.errors)} error(s): fix them "
                   f"before training")
        return "\n".join(out)


def _holds_pairs(folder):
    return any((folder / s).is_dir() for s in ("A", "B")) or \
        any(p.is_file() and is_image_file(p) for p in folder.iterdir())


def find_splits(folder):
    """[(name, path)] of the split folders of a dataset (train, val, test first), or the folder
    itself as one split when it holds pairs directly."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}: expected a dataset folder holding train/ "
                                f"(and val/, test/) splits")
    subs = [p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")
            and p.name not in ("A", "B") and _holds_pairs(p)]
    subs.sort(key=lambda p: (SPLIT_ORDER.index(p.name) if p.name in SPLIT_ORDER else 9, p.name))
    if _holds_pairs(folder):
        return [(".", folder)]
    if not subs:
        raise FileNotFoundError(f"{folder} holds no split folders with images: expected "
                                f"{folder}/train/ with A|B images or with A/ and B/ folders")
    return [(p.name, p) for p in subs]


def _kind(info):
    colour = {1: "grayscale", 2: "grayscale", 3: "RGB", 4: "RGB"}.get(info.channels,
                                                                     f"{info.channels}-channel")
    alpha = " + alpha" if info.alpha else ""
    bits = "float" if info.bits == 32 else f"{info.bits}-bit"
    return f"{bits} {colour}{alpha}" + (" (.npy)" if info.mode == "npy" else "")


def _note_channels(report, infos, nc, kinds):
    """How each side of a pair will be read (channel conversion, 16 bit), grouped in `kinds`;
    a side that cannot give the channels the model needs is an error."""
    for side, info in (("A", infos[0]), ("B", infos[-1])):
        try:
            plan = channel_plan(info.channels, info.alpha, nc[side])
        except ValueError as e:
            report.errors.append(f"{info.path}: {e} (side {side} needs {nc[side]} "
                                 f"channel(s): set --input-nc / --output-nc)")
            continue
        notes = [plan] if plan else []
        if info.bits == 16:
            notes.insert(0, "read at full 16-bit precision")
        if notes:
            kinds[(side, _kind(info), ", ".join(notes))].append(info.path)


def _check_split(report, split, path, nc, seen):
    """Check the pairs of one split (train, val, test): readable, sizes, channels; record each
    file's content hash in `seen` (for duplicates across splits)."""
    listing = list_split(path)
    report.errors += listing.problems
    layout = "A|B files" if listing.layout == "A|B" else "A/ + B/ folders paired by name"
    report.lines.append(f"{split}: {len(listing.pairs)} pair(s) ({layout})")
    sizes, kinds, bad_pairs, unreadable = Counter(), defaultdict(list), [], []
    for a, b in listing.pairs:
        infos = []
        for f in (a, b) if b is not None else (a,):
            try:
                info = probe(f)
                read_image(f)  # a full decode: catches truncated and corrupt files
            except ValueError as e:
                unreadable.append(str(e).split(". Expected")[0])
                break
            infos.append(info)
            seen[hashlib.sha1(f.read_bytes()).hexdigest()].append((split, f))
        else:
            errors, warnings = pair_issues(*infos)
            report.errors += errors
            bad_pairs += warnings
            sizes[" | ".join(f"{i.width}x{i.height}" for i in infos)] += 1
            _note_channels(report, infos, nc, kinds)
    if sizes:
        common = ", ".join(f"{s} ({n})" for s, n in sizes.most_common(5))
        more = f" and {len(sizes) - 5} other size(s)" if len(sizes) > 5 else ""
        report.lines.append(f"  sizes: {common}{more}")
    for (side, kind, what), paths in sorted(kinds.items()):
        report.lines.append(f"  {side}: {len(paths)} {kind} image(s): {what} "
                            f"({names(paths, 3)})")
    report.errors += [f"corrupt or truncated: {u}" for u in unreadable]
    report.warnings += bad_pairs
    if listing.ignored:
        report.warnings.append(f"{split}: will be ignored (not images): "
                               f"{names(listing.ignored)}")
    if listing.hidden:
        report.lines.append(f"  hidden entries skipped: {names(listing.hidden)}")


def check_dataset(folder, input_nc=3, output_nc=3, direction="AtoB"):
    """Check every file of a dataset folder; returns a CheckReport."""
    folder = Path(folder)
    report = CheckReport()
    nc = {"A": input_nc, "B": output_nc} if direction == "AtoB" else \
        {"A": output_nc, "B": input_nc}
    report.lines.append(f"checking {folder} (direction {direction}: A has {nc['A']} channel(s), "
                        f"B {nc['B']})")
    seen = defaultdict(list)  # content hash -> [(split, path)]
    for split, path in find_splits(folder):
        _check_split(report, split, path, nc, seen)
    for digest, where in seen.items():
        splits = sorted({s for s, _ in where})
        if len(splits) > 1:
            report.warnings.append("the same image is in " + " and ".join(splits) + ": " +
                                   ", ".join(str(p.relative_to(folder)) for _, p in where))
    return report


def _combine_jobs(src, dst):
    """[(SplitListing with pairs, destination folder)] for the layouts combine accepts."""
    src, dst = Path(src), Path(dst)
    if (src / "A").is_dir() and (src / "B").is_dir():
        a_splits = {p.name for p in (src / "A").iterdir()
                    if p.is_dir() and not p.name.startswith(".")}
        if a_splits:  # the official layout: A/train, B/train, ...
            jobs = []
            for split in sorted(a_splits):
                listing = SplitListing(src / split, "A/B")
                if not (src / "B" / split).is_dir():
                    listing.problems.append(f"{src}/A/{split}/ has no {src}/B/{split}/")
                else:
                    pair_folders(src / "A" / split, src / "B" / split, listing)
                jobs.append((listing, dst / split))
            return jobs
        return [(list_split(src), dst)]  # A/ and B/ directly: one split
    jobs = [(list_split(path), dst / name) for name, path in find_splits(src)]
    if all(listing.layout != "A/B" for listing, _ in jobs):
        raise ValueError(f"{src} holds no A/ and B/ folders: expected SRC/<split>/A + "
                         f"SRC/<split>/B, SRC/A/<split> + SRC/B/<split>, or SRC/A + SRC/B")
    return jobs


_PNG_WIDTH = {1: 1, 2: 4, 3: 3, 4: 4}  # channels -> channels of an 8-bit image file that holds them


def combine_pairs(src, dst, ext="png", log=print):
    """Write A|B files (A left, B right) from paired A/ and B/ folders; returns the number of
    pairs written. Every problem (missing partners, sizes, 16-bit or unreadable files) is found
    and reported before anything is written, and the result appears at dst only when complete."""
    src, dst = Path(src), Path(dst)
    if ext not in ("png", "jpg"):
        raise ValueError(f"ext={ext!r}: expected png or jpg")
    if dst.exists() and any(dst.iterdir()):
        raise FileExistsError(f"{dst} exists and is not empty: choose a new folder")
    jobs = _combine_jobs(src, dst)
    problems = [p for listing, _ in jobs for p in listing.problems]
    for listing, _ in jobs:
        for a, b in listing.pairs:
            try:
                infos = [probe(a), probe(b)]
            except ValueError as e:
                problems.append(str(e).split(". Expected")[0])
                continue
            problems += pair_issues(*infos)[0]
            for info in infos:
                if info.bits != 8:
                    problems.append(f"{info.path} is {_kind(info)}: combine writes 8-bit images. "
                                    f"Keep the A/ and B/ folders, p2p-train reads them at full "
                                    f"precision")
                elif info.alpha and ext == "jpg":
                    problems.append(f"{info.path} has an alpha channel, which JPEG cannot hold: "
                                    f"use --ext png")
    if problems:
        raise ValueError(f"nothing was written to {dst}; fix these first:\n  - " +
                         "\n  - ".join(problems))
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.combine-", dir=dst.parent))
    written = 0
    try:
        for listing, out in jobs:
            folder = tmp / out.relative_to(dst)
            folder.mkdir(parents=True, exist_ok=True)
            for a_path, b_path in listing.pairs:
                a, b = read_image(a_path), read_image(b_path)
                # one channel count for both: gray + RGB -> RGB, any alpha -> RGBA
                c = max(_PNG_WIDTH[a.shape[0]], _PNG_WIDTH[b.shape[0]])
                a, b = match_channels(a, c, path=a_path), match_channels(b, c, path=b_path)
                write_image(torch.cat([a, b], dim=2), folder / f"{a_path.stem}.{ext}")
                written += 1
            log(f"{out}: {len(listing.pairs)} A|B file(s)")
        if dst.exists():
            dst.rmdir()
        os.replace(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written

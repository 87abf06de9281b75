"""Which files make the pairs of a split folder, in either layout, and what is wrong with them.

Two layouts hold the same data:

    split/1.jpg, split/2.jpg, ...         "A|B": each file holds A (left) and B (right) side by
                                          side, as in the paper's code and its datasets
    split/A/1.png + split/B/1.png, ...    "A/B": two folders, files paired by name (the stem:
                                          A/1.png goes with B/1.jpg)

`list_split` lists a split folder and reports by name what would otherwise fail silently:
missing partners, two files with the same name in one folder, both layouts at once, files that
are not images. Hidden files and folders (.ipynb_checkpoints, .DS_Store) are skipped.
`pair_issues` judges one pair from its image headers: A|B files whose width is not about
twice their height (likely not pairs), A and B of different sizes.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from p2p_ref.datasets.images import is_image_file

LAYOUTS = ("A|B", "A/B")
PAIR_TOLERANCE = 0.05  # an A|B file's width may differ from twice its height by 5%


@dataclass
class SplitListing:
    """The pairs of one split folder. pairs: [(a, b)] paths, b is None for A|B files (both
    halves are in a). problems: what makes the pairing ambiguous or incomplete (errors).
    ignored: visible files that are not images, and unexpected folders. hidden: dot files."""
    folder: Path
    layout: str = "A|B"
    pairs: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    hidden: list = field(default_factory=list)


def names(paths, limit=8):
    """'a.png, b.png, ... (+3 more)' for messages."""
    paths = [p.name if isinstance(p, Path) else str(p) for p in paths]
    more = f" (+{len(paths) - limit} more)" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


def _images_by_stem(folder, listing):
    """{stem: path} of the images in `folder`; duplicates, non-images and folders reported."""
    by_stem = defaultdict(list)
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            listing.hidden.append(p)
        elif p.is_file() and is_image_file(p):
            by_stem[p.stem].append(p)
        else:
            listing.ignored.append(p)
    for stem, paths in by_stem.items():
        if len(paths) > 1:
            listing.problems.append(f"{folder} holds {len(paths)} files named {stem!r} "
                                    f"({names(paths)}): which one is the pair is ambiguous; "
                                    f"keep one")
    return {stem: paths[0] for stem, paths in by_stem.items()}


def list_split(folder):
    """SplitListing of `folder` (one split: train/, val/, test/ or any folder of pairs)."""
    folder = Path(folder)
    listing = SplitListing(folder)
    entries = sorted(folder.iterdir())
    sub = {p.name: p for p in entries if p.is_dir() and p.name in ("A", "B")}
    direct = [p for p in entries if p.is_file() and is_image_file(p)]
    if not sub:
        listing.pairs = [(p, None) for p in direct]
        for p in entries:
            if p.name.startswith("."):
                listing.hidden.append(p)
            elif not (p.is_file() and is_image_file(p)):
                listing.ignored.append(p)
        return listing

    listing.layout = "A/B"
    if set(sub) != {"A", "B"}:
        have, missing = next(iter(sub)), ({"A", "B"} - set(sub)).pop()
        listing.problems.append(f"{folder} has {have}/ but no {missing}/: paired folders need "
                                f"both {folder}/A/ and {folder}/B/")
        return listing
    if direct:
        listing.problems.append(f"{folder} holds both A/ + B/ folders and {len(direct)} image(s) "
                                f"directly ({names(direct)}): use one layout per split")
    for p in entries:
        if p.name.startswith("."):
            listing.hidden.append(p)
        elif p.name not in ("A", "B") and p not in direct:
            listing.ignored.append(p)
    pair_folders(sub["A"], sub["B"], listing)
    return listing


def pair_folders(a_dir, b_dir, listing):
    """Pair the images of two folders by file name into `listing.pairs` (sorted by name);
    partners that are missing, and names used twice in one folder, go to `listing.problems`."""
    a, b = _images_by_stem(Path(a_dir), listing), _images_by_stem(Path(b_dir), listing)
    for mine, theirs, here, there in ((a, b, a_dir, b_dir), (b, a, b_dir, a_dir)):
        lonely = [mine[s] for s in sorted(mine) if s not in theirs]
        if lonely:
            listing.problems.append(f"{len(lonely)} file(s) in {here}/ have no partner of the "
                                    f"same name in {there}/: {names(lonely)}")
    listing.pairs = [(a[s], b[s]) for s in sorted(a) if s in b]
    return listing


def pair_issues(info_a, info_b=None):
    """Problems of one pair, from ImageInfo headers: (errors, warnings), lists of sentences.

    A|B (info_b None): an odd width cannot be split (error); a width not about twice the height
    means the file is likely not a pair (warning). A/B: A and B must have the same size (error).
    """
    errors, warnings = [], []
    if info_b is None:
        w, h = info_a.size
        if w % 2:
            errors.append(f"{info_a.path} is {w}x{h} pixels: an A|B pair needs an even width "
                          f"(A = left half, B = right half)")
        elif abs(w / (2 * h) - 1) > PAIR_TOLERANCE:
            warnings.append(f"{info_a.path} is {w}x{h}: its width is not about twice its "
                            f"height, so it is likely not an A|B pair (its halves would be "
                            f"{w // 2}x{h})")
    elif info_a.size != info_b.size:
        errors.append(f"{info_a.path.parent.name}/{info_a.path.name} is "
                      f"{info_a.width}x{info_a.height} but {info_b.path.parent.name}/"
                      f"{info_b.path.name} is {info_b.width}x{info_b.height} "
                      f"(in {info_a.path.parent.parent}): A and B of a pair must have the same "
                      f"size")
    return errors, warnings

"""`p2p-data`: download the pix2pix datasets, generate the offline synthetic set, list, check
and combine datasets.

    p2p-data download facades [--root datasets] [--base-url URL] [--mirror URL] [--sha256 HEX]
    p2p-data synthetic [--root datasets] [--n-train 400 --n-val 50 --n-test 50 --size 256 --seed 0]
    p2p-data list [--root datasets]
    p2p-data check FOLDER [--input-nc 3 --output-nc 3 --direction AtoB]
    p2p-data combine SRC DST [--ext png]
"""

import argparse
import sys
from pathlib import Path

from p2p_ref.datasets.check import check_dataset, combine_pairs
from p2p_ref.datasets.download import (DATASETS, MIRRORS_ENV, URL_ENV, DownloadError, count_images, download_dataset)
from p2p_ref.datasets.synthetic import make_synthetic_dataset


def build_parser():
    parser = argparse.ArgumentParser(prog="p2p-data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("download", help="download, check and unpack a dataset")
    p.add_argument("name", choices=sorted(DATASETS), metavar="NAME",
                   help="one of: " + ", ".join(DATASETS))
    p.add_argument("--root", default="datasets", help="folder for datasets (default: datasets)")
    p.add_argument("--base-url", default=None,
                   help=f"server folder holding NAME.tar.gz (default: ${URL_ENV}, else the "
                        f"authors' server)")
    p.add_argument("--mirror", action="append", default=[], metavar="URL",
                   help=f"another server folder to try when one fails (repeatable; also "
                        f"${MIRRORS_ENV}, separated by spaces)")
    p.add_argument("--sha256", default=None, metavar="HEX",
                   help="the archive's expected SHA-256: the download is refused if it differs "
                        "(the table has none: they could not be measured where it was made)")

    p = sub.add_parser("synthetic", help="generate the offline synthetic facades (no network)")
    p.add_argument("--root", default="datasets", help="writes ROOT/synthetic (default: datasets)")
    p.add_argument("--n-train", type=int, default=400)
    p.add_argument("--n-val", type=int, default=50)
    p.add_argument("--n-test", type=int, default=50)
    p.add_argument("--size", type=int, default=256, help="height and width of A and B")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("list", help="list the known datasets and which ones are present")
    p.add_argument("--root", default="datasets")

    p = sub.add_parser("check", help="check every file of a dataset before a long run")
    p.add_argument("folder", help="the dataset folder (holding train/, val/, test/) or one split")
    p.add_argument("--input-nc", type=int, default=3, help="channels of G's input (default: 3)")
    p.add_argument("--output-nc", type=int, default=3, help="channels of G's output (default: 3)")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                   help="which side is G's input (default: AtoB)")

    p = sub.add_parser("combine", help="write A|B files from A/ and B/ folders paired by name")
    p.add_argument("src", help="SRC/<split>/A + SRC/<split>/B, SRC/A/<split> + SRC/B/<split> "
                               "(the official code's layout), or SRC/A + SRC/B")
    p.add_argument("dst", help="a new folder for the A|B files (same splits)")
    p.add_argument("--ext", choices=("png", "jpg"), default="png",
                   help="png (lossless, default) or jpg")
    return parser


def list_datasets(root):
    root = Path(root)
    print(f"{'name':<15} {'size':>7}  {'direction':<9} {'present in ' + str(root):<28} what")
    rows = [(name, d["size"], d["direction"], d["what"], d["counts"])
            for name, d in DATASETS.items()]
    rows.append(("synthetic", "~55 MB", "BtoA", "procedural label maps <-> facade photos, "
                 "made offline by `p2p-data synthetic`", {"train": 400, "val": 50, "test": 50}))
    for name, size, direction, what, counts in rows:
        found = {s: count_images(root / name / s) for s in ("train", "val", "test")}
        present = ", ".join(f"{s} {n}" for s, n in found.items() if n) or "-"
        expected = f" ({'/'.join(counts)}: {'/'.join(map(str, counts.values()))})" if counts else ""
        print(f"{name:<15} {size:>7}  {direction:<9} {present:<28} {what}{expected}")
    if not any(d.get("sha256") for d in DATASETS.values()):
        print("SHA-256: none listed (they could not be measured where this table was made). "
              "`p2p-data download` prints each archive's SHA-256; --sha256 HEX checks a known one.")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "download":
            download_dataset(args.name, args.root, args.base_url, args.sha256, args.mirror)
        elif args.command == "synthetic":
            path = make_synthetic_dataset(Path(args.root) / "synthetic", args.n_train, args.n_val,
                                          args.n_test, args.size, args.seed)
            print(f"synthetic facades in {path} (A = photo, B = label map: use direction BtoA)")
        elif args.command == "check":
            report = check_dataset(args.folder, args.input_nc, args.output_nc, args.direction)
            print(report.text())
            return 0 if report.ok else 1
        elif args.command == "combine":
            n = combine_pairs(args.src, args.dst, args.ext)
            print(f"wrote {n} A|B pair(s) to {args.dst} (A = left half, B = right half)")
        else:
            list_datasets(args.root)
    except (DownloadError, ValueError, OSError) as e:
        print(f"p2p-data: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("p2p-data: interrupted; a partial download is kept and resumes next time",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Who is in each photo: LFW's pairs.txt and folder layout, and labelled folders like it (or a TSV of labels)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import images
from ..i18n import _


class PairsError(ValueError):
    """A pairs.txt that does not follow the LFW format; the message names the line."""


@dataclass(frozen=True)
class Pair:
    name1: str
    n1: int
    name2: str
    n2: int
    fold: int

    @property
    def same(self) -> bool:
        return self.name1 == self.name2


@dataclass(frozen=True)
class PairsFile:
    folds: int
    per_fold: int
    pairs: list[Pair]


def parse_pairs(path: Path) -> PairsFile:
    """Read an LFW pairs file: a header `folds n`, then per fold n same lines and n different lines.

    Same-person lines are `name i j`, different-person lines `name1 i name2 j`. Every deviation is
    an error naming the line: a silently skipped line would change which pairs fall in which fold.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise PairsError(_("{path}: cannot read ({error})", path=path, error=e.strerror or e)) from e
    except UnicodeDecodeError as e:
        raise PairsError(_("{path}: not a text file ({error})", path=path, error=e)) from e
    if not lines:
        raise PairsError(_("{path}: empty file; expected a header line like `10 300`", path=path))
    head = lines[0].split()
    if len(head) != 2 or not all(h.isdigit() for h in head) or int(head[0]) < 1 or int(head[1]) < 1:
        raise PairsError(
            f"{path}, line 1: expected the header `folds pairs_per_fold` (e.g. `10 300`), got {lines[0]!r}"
        )
    folds, per_fold = int(head[0]), int(head[1])
    body = [(i, line) for i, line in enumerate(lines[1:], start=2) if line.strip()]
    expected = folds * per_fold * 2
    if len(body) != expected:
        raise PairsError(
            f"{path}: the header announces {folds} folds of {per_fold} same + {per_fold} different pairs "
            f"({expected} lines), but the file has {len(body)} pair lines"
        )
    pairs = []
    for k, (lineno, line) in enumerate(body):
        fold, within = divmod(k, 2 * per_fold)
        want_same = within < per_fold
        parts = line.split()
        try:
            if len(parts) == 3:
                pair = Pair(parts[0], _index(parts[1]), parts[0], _index(parts[2]), fold)
            elif len(parts) == 4:
                pair = Pair(parts[0], _index(parts[1]), parts[2], _index(parts[3]), fold)
            else:
                raise ValueError(_("expected `name i j` or `name1 i name2 j`, got {n} fields", n=len(parts)))
        except ValueError as e:
            raise PairsError(
                _("{path}, line {n}: {error}: {line}", path=path, n=lineno, error=e, line=repr(line))
            ) from None
        if pair.same != want_same or (len(parts) == 4 and pair.same):
            kind = "same-person (`name i j`)" if want_same else "different-person (`name1 i name2 j`)"
            raise PairsError(
                _("{path}, line {n}: fold {fold} expects a {kind} pair here, got {line}", path=path, n=lineno,
                  fold=fold + 1, kind=kind, line=repr(line))
            )  # fmt: skip
        pairs.append(pair)
    return PairsFile(folds, per_fold, pairs)


def _index(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(_("image number {value} is not a positive whole number", value=repr(text)))
    return int(text)


def lfw_path(images_dir: Path, name: str, number: int) -> Path:
    """LFW's layout: images/<Name>/<Name>_0001.jpg."""
    return Path(images_dir) / name / f"{name}_{number:04d}.jpg"


def people_photos(images_dir: Path) -> dict[str, list[Path]]:
    """One subfolder per person -> that person's photos, sorted (LFW's layout, and any folder like it)."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(_("image folder not found: {folder}", folder=images_dir))
    out: dict[str, list[Path]] = {}
    for person in sorted(p for p in images_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            f
            for f in person.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in images.IMAGE_SUFFIXES
        )
        if files:
            out[person.name] = files
    if not out:
        raise ValueError(
            _("{folder} has no subfolders with photos; expected one subfolder per person", folder=images_dir)
        )
    return out


@dataclass(frozen=True)
class Labelled:
    """Photos with the identity (and, where the folder says it, the population group) of each."""

    paths: list[Path]
    identities: list[str]
    groups: list[str]  # "" when the layout names no groups

    def __len__(self) -> int:
        return len(self.paths)


#: `ai-weiwei-2.jpg` -> `ai-weiwei`; `alex-fong.jpg` -> `alex-fong`; `Jane_Doe_0003.jpg` -> `Jane_Doe`.
_NUMBERED = re.compile(r"^(?P<identity>.+?)(?:[-_ ]\d+)?$")
IDENTITY_FROM = ("folder", "filename")


def identity_from_filename(path: Path) -> str:
    """The identity in a file name like `<identity>-<n>.jpg` (a trailing number is the photo's number)."""
    return _NUMBERED.match(Path(path).stem).group("identity")  # type: ignore[union-attr]


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        f
        for f in folder.rglob("*")
        if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in images.IMAGE_SUFFIXES
    )


def labelled_photos(images_dir: Path, identity_from: str = "folder", identities: Path | None = None) -> Labelled:
    """Who is in each photo of a labelled folder, for the three layouts met in practice.

    * identity_from="folder": one subfolder per person (LFW). No groups.
    * identity_from="filename": the identity is the file name without its trailing number
      (`<identity>-<n>.jpg`), and the first subfolder under images_dir is the group (east-asian-dev:
      images/chinese/…, images/japanese/…), so strangers can be counted within one population.
      An identity is per group: the same name in two groups is two people.
    * identities=a TSV with the columns `identity` and `images` (comma-separated paths relative to
      images_dir) and optionally `group`: the labels as the data set states them; photos it does not
      name are left out.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(_("image folder not found: {folder}", folder=images_dir))
    if identities is not None:
        return _labelled_from_tsv(images_dir, Path(identities))
    if identity_from == "folder":
        people = people_photos(images_dir)
        paths = [f for files in people.values() for f in files]
        names = [name for name, files in people.items() for _ in files]
        return Labelled(paths, names, [""] * len(paths))
    if identity_from != "filename":
        raise ValueError(f"identity_from must be one of {', '.join(IDENTITY_FROM)}, not {identity_from!r}")
    paths = _image_files(images_dir)
    if not paths:
        raise ValueError(_("{folder} has no photos", folder=images_dir))
    groups = [p.relative_to(images_dir).parts[0] if len(p.relative_to(images_dir).parts) > 1 else "" for p in paths]
    names = [
        f"{g}/{identity_from_filename(p)}" if g else identity_from_filename(p)
        for g, p in zip(groups, paths, strict=True)
    ]
    return Labelled(paths, names, groups)


def _labelled_from_tsv(images_dir: Path, tsv: Path) -> Labelled:
    import csv

    with tsv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or not {"identity", "images"} <= set(rows[0]):
        raise ValueError(_("{path}: expected a tab-separated file with the columns identity and images", path=tsv))
    paths, names, groups = [], [], []
    for row in rows:
        for rel in filter(None, (x.strip() for x in row["images"].split(","))):
            p = images_dir / rel
            if not p.is_file():
                raise FileNotFoundError(
                    _("{path}: {photo} (identity {identity}) is not in {folder}", path=tsv, photo=rel,
                      identity=row["identity"], folder=images_dir)
                )  # fmt: skip
            paths.append(p)
            names.append(row["identity"])
            groups.append(row.get("group") or "")
    return Labelled(paths, names, groups)

"""Archive records: reading messy spreadsheets (CSV or XLSX) into typed records with names and photos.

Leaked archives come as spreadsheets with inconsistent headers in several languages, mixed encodings
(UTF-8, UTF-8 with a BOM, GB18030 from Chinese systems), dates in every form and repeated rows. So
headers are recognised by many names (or mapped with `--map column=field`), every column is also kept
as it was, unreadable dates stay as text with a warning, repeated record ids are merged (one row per
photo is a common layout) and every problem is reported with its row number instead of stopping the
import. Records without a photo are records like any other: most of an archive has none.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent

from . import messages
from . import names as names_mod
from .i18n import _
from .store import RECORD_FIELDS

if TYPE_CHECKING:
    from .index import Index

#: Field -> header names that mean it (compared lower-case, with spaces, dots and dashes as "_").
ALIASES: dict[str, tuple[str, ...]] = {
    "record_id": ("record_id", "id", "record", "person_id", "record_no", "record_number", "编号", "人员编号", "档案号"),
    "name": (
        "name", "names", "full_name", "alias", "aliases", "other_names", "name_zh", "name_cn", "chinese_name",
        "name_chinese", "name_ug", "name_uyghur", "uyghur_name", "name_latin", "latin_name", "name_pinyin", "pinyin",
        "name_en", "english_name", "姓名", "名字", "别名", "曾用名", "维文名", "维文姓名", "维吾尔文姓名", "ئىسىم",
        "ismi", "isim", "ad", "adı", "имя", "фио",
    ),
    "birth_date": (
        "birth_date", "birthdate", "date_of_birth", "dob", "born", "birthday", "出生日期", "出生年月", "出生年月日",
        "生日", "doğum_tarihi", "дата_рождения",
    ),
    "birth_year": ("birth_year", "year_of_birth", "出生年份", "出生年", "doğum_yılı"),
    "sex": ("sex", "gender", "性别", "jinsi", "cinsiyet", "пол"),
    "id_number": (
        "id_number", "id_no", "idnumber", "national_id", "id_card", "id_card_number", "citizen_id", "身份证号",
        "身份证号码", "公民身份号码", "身份证",
    ),
    "address": ("address", "residence", "home_address", "住址", "地址", "户籍地址", "现住址", "家庭住址", "户籍地"),
    "county": ("county", "district", "县", "县市", "县(市)", "区县", "所属县", "县市区", "nahiye", "ilçe"),
    "village": ("village", "村", "村委会", "所属村", "kent", "köy"),
    "detention_date": (
        "detention_date", "detained", "date_detained", "detained_on", "arrest_date", "date_of_detention",
        "拘留日期", "收押日期", "入所日期", "羁押日期", "关押日期", "抓捕日期",
    ),
    "charge": ("charge", "charges", "crime", "offence", "offense", "reason", "罪名", "案由", "原因", "收押原因"),
    "sentence": ("sentence", "sentence_length", "term", "刑期", "判决", "判处"),
    "facility": (
        "facility", "camp", "prison", "detention_center", "detention_centre", "看守所", "监所", "关押地点", "收押地点",
        "教培中心", "所在单位",
    ),
    "photo": (
        "photo", "photos", "photo_filename", "photo_file", "photo_files", "filename", "file", "file_name", "image",
        "images", "photo_path", "picture", "照片", "相片", "照片文件", "照片名",
    ),
    "photo_date": ("photo_date", "date_photo", "photo_taken", "photo_year", "照片日期", "拍摄日期", "采集日期"),
    "source": ("source", "source_document", "document", "来源", "出处"),
}  # fmt: skip
FIELDS = (*ALIASES, "keep", "ignore")
#: Fields that may come from several columns: all are kept.
MULTI = {"name", "photo"}
DATE_FIELDS = ("birth_date", "detention_date", "photo_date")

SEX_WORDS = {
    "male": ("m", "male", "man", "男", "er", "ئەر", "erkek", "муж", "мужской", "м"),
    "female": ("f", "female", "woman", "女", "ayal", "ئايال", "kadın", "kadin", "жен", "женский", "ж"),
}


class RecordsError(ValueError):
    """The file as a whole cannot be imported (missing, unreadable, no header, bad --map)."""


@dataclass(frozen=True)
class Problem:
    row: int | None  # spreadsheet row number (header = 1); None for the whole file
    message: str

    def __str__(self) -> str:
        return _("row {row}: {message}", row=self.row, message=self.message) if self.row else self.message


@dataclass
class ImportReport:
    file: str
    rows: int = 0  # data rows read (not counting empty ones)
    records: int = 0  # distinct records written
    new: int = 0
    updated: int = 0
    with_photo: int = 0
    without_photo: int = 0
    names: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # header -> field ("keep" = kept as-is only)
    problems: list[Problem] = field(default_factory=list)  # rows that could not be read, or were merged
    warnings: list[Problem] = field(default_factory=list)  # read, but something was kept as text


# -- dates --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedDate:
    text: str
    iso: str | None  # "1979-03-02", "1979-03" or "1979"; None when not readable
    year: int | None


_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_YM = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
_DMY = re.compile(r"^(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*[-/.]\s*(\d{4})$")
_Y = re.compile(r"^(\d{4})\s*年?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _year_ok(y: int) -> bool:
    return 1880 <= y <= dt.date.today().year + 1


def _iso(y: int, m: int, d: int) -> str | None:
    try:
        return dt.date(y, m, d).isoformat() if _year_ok(y) else None
    except ValueError:
        return None


def parse_date(value: object) -> ParsedDate:
    """A date in the common forms: 1979-03-02, 1979/3/2, 1979.03.02, 19790302, 1979年3月2日, 02.03.1979,
    2/3/1979 (day first unless the second number cannot be a month), 1979-03, 1979年, 1979; or a date
    cell from a spreadsheet. Anything else is kept as text, with iso and year None.
    """
    if isinstance(value, dt.datetime | dt.date):
        d = value.date() if isinstance(value, dt.datetime) else value
        return ParsedDate(
            d.isoformat(), d.isoformat() if _year_ok(d.year) else None, d.year if _year_ok(d.year) else None
        )
    text = str(value or "").strip()
    if not text:
        return ParsedDate("", None, None)
    t = text.replace("\u3000", " ")
    if (m := _YMD.match(t)) or (m := _COMPACT.match(t)):
        iso = _iso(int(m[1]), int(m[2]), int(m[3]))
    elif m := _DMY.match(t):
        a, b, y = int(m[1]), int(m[3]), int(m[4])
        day, month = (b, a) if m[2] == "/" and b > 12 >= a else (a, b)
        iso = _iso(y, month, day)
    elif m := _YM.match(t):
        y, mo = int(m[1]), int(m[2])
        iso = f"{y:04d}-{mo:02d}" if _year_ok(y) and 1 <= mo <= 12 else None
    elif m := _Y.match(t):
        iso = m[1] if _year_ok(int(m[1])) else None
    else:
        iso = None
    return ParsedDate(text, iso, int(iso[:4]) if iso else None)


@dataclass(frozen=True)
class IdBirth:
    """What an ID number says about the birth date: an ISO date, or why it gives none."""

    iso: str | None = None
    problem: str | None = None  # set when the value is an ID number that cannot be trusted (mistyped)


def birth_from_id(id_number: str) -> IdBirth:
    """The birth date inside a Chinese resident ID number (18 characters, or the older 15 digits).

    An 18-character number carries a check digit over the other 17 (ISO 7064 MOD 11-2, checked by
    python-stdnum's cn.ric): one mistyped digit or two neighbours swapped break it, and a mistyped ID
    would otherwise supply a wrong birth year to every search filtered by age. Such a number, or one
    whose date cannot exist, gives no birth date and says why. A region code missing from stdnum's table of
    counties does not stop the date being read: codes were renamed and the check digit already
    vouches for the digits. Values that are no Chinese ID number at all (other countries' IDs, "n/a")
    give neither a date nor a problem. The 15-digit numbers (before 1999) have no check digit.
    """
    s = ric.compact(re.sub(r"\s", "", str(id_number or "")))
    if re.fullmatch(r"\d{15}", s):
        return _id_date(s[6:12], 1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))
    if not re.fullmatch(r"\d{17}[\dX]", s):
        return IdBirth()
    try:
        ric.validate(s)
    except InvalidChecksum:
        return IdBirth(
            problem=f"the ID number's check digit is {s[-1]} but its other 17 digits give "
            f"{ric.calc_check_digit(s)}: mistyped, so no birth date is read from it"
        )
    except InvalidComponent:  # the date (checked next), or a region code stdnum does not know (see above)
        pass
    return _id_date(s[6:14], int(s[6:10]), int(s[10:12]), int(s[12:14]))


def _id_date(digits: str, y: int, m: int, d: int) -> IdBirth:
    """The date an ID number's digits name, or why none: 30 February or year 2090 is a typing error."""
    iso = _iso(y, m, d)
    if iso is None:
        return IdBirth(
            problem=f"the birth date in the ID number ({digits}) is not a possible date; none is read from it"
        )
    return IdBirth(iso)


def _sex(value: str) -> str:
    v = value.strip().lower()
    for sex, words in SEX_WORDS.items():
        if v in words:
            return sex
    return value.strip()


# -- reading files --------------------------------------------------------------------------------
def _header_key(h: str) -> str:
    return re.sub(r"[\s.\-/]+", "_", str(h).strip().lower()).strip("_")


_ALIAS_INDEX = {_header_key(a): f for f, aliases in ALIASES.items() for a in aliases}


def guess_field(header: str) -> str:
    """The field a column header names, or "keep" (kept as-is, shown with the record)."""
    k = _header_key(header)
    if k in _ALIAS_INDEX:
        return _ALIAS_INDEX[k]
    if re.search(r"(^|_)name(_|$)|姓名", k) and not re.search(r"father|mother|file|photo|user|ata|ana|父|母", k):
        return "name"  # "name_2", "given_name", "uyghur_name_arabic" ...
    return "keep"


def parse_maps(maps: Iterable[str]) -> dict[str, str]:
    """--map "column=field" options -> {column: field}; a clear error for a bad one."""
    out = {}
    for m in maps:
        column, sep, fld = m.partition("=")
        column, fld = column.strip(), fld.strip().lower()
        if not sep or not column or not fld:
            raise RecordsError(_("--map needs COLUMN=FIELD, got {value}", value=repr(m)))
        if fld not in FIELDS:
            raise RecordsError(
                _("--map {value}: unknown field {field}; fields are: {fields}", value=repr(m), field=repr(fld),
                  fields=", ".join(FIELDS))
            )  # fmt: skip
        out[column] = fld
    return out


def _decode(data: bytes, encoding: str | None) -> tuple[str, str | None]:
    """(text, warning). Tries UTF-8 (with or without BOM), UTF-16 with a BOM, then GB18030."""
    if encoding:
        try:
            return data.decode(encoding), None
        except (LookupError, UnicodeDecodeError) as e:
            raise RecordsError(_("cannot read the file as {encoding}: {error}", encoding=encoding, error=e)) from e
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc), None
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), (
        "the file is neither UTF-8 nor GB18030; characters that could not be read show as � "
        "(give the right one with --encoding, e.g. cp1254 for Turkish Windows files)"
    )


def _read_csv_rows(path: Path, encoding: str | None) -> tuple[list[list[str]], list[Problem]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RecordsError(_("cannot read records file {path}: {why}", path=path, why=e.strerror or e)) from e
    text, warning = _decode(data, encoding)
    problems = [Problem(None, warning)] if warning else []
    if "\x00" in text:
        text = text.replace("\x00", "")
        problems.append(Problem(None, _("the file holds NUL characters; they were removed")))
    sample = text[:65536]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    csv.field_size_limit(1 << 24)
    return list(csv.reader(io.StringIO(text, newline=""), dialect)), problems


def _cell(v: object) -> object:
    """A spreadsheet cell as text, except dates (kept for parse_date). Whole floats lose their ".0"."""
    if v is None:
        return ""
    if isinstance(v, dt.datetime | dt.date):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _read_xlsx_rows(path: Path, sheet: str | None) -> tuple[list[list[object]], list[Problem]]:
    try:
        from openpyxl import load_workbook
    except ImportError as e:  # pragma: no cover - openpyxl is a dependency
        raise RecordsError(_("reading .xlsx files needs openpyxl (pip install openpyxl)")) from e
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a damaged or mislabelled file
        raise RecordsError(_("cannot read {path} as an Excel workbook: {error}", path=path, error=e)) from e
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise RecordsError(
                _("{path} has no sheet {sheet}; sheets: {sheets}", path=path, sheet=repr(sheet),
                  sheets=", ".join(wb.sheetnames))
            )  # fmt: skip
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    return rows, []


def read_rows(path: Path, encoding: str | None = None, sheet: str | None = None) -> tuple[list, list[Problem]]:
    """All rows of a CSV / TSV / XLSX file as lists of cells, and file-level problems."""
    path = Path(path)
    if not path.is_file():
        raise RecordsError(_("records file not found: {path}", path=path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx_rows(path, sheet)
    if suffix == ".xls":
        raise RecordsError(_("{path}: old Excel .xls files are not read; save it as .xlsx or .csv first", path=path))
    return _read_csv_rows(path, encoding)


# -- mapping rows to records ----------------------------------------------------------------------
@dataclass
class _Draft:
    record_id: str
    row: int
    data: dict = field(default_factory=dict)
    values: dict[str, list] = field(default_factory=dict)  # field -> values in column order

    def add(self, fld: str, value: object) -> None:
        if value in ("", None):
            return
        vals = self.values.setdefault(fld, [])
        if value not in vals:
            vals.append(value)


def _split_photos(value: str) -> list[str]:
    return [basename(p) for p in re.split(r"[;|\n]+|,\s*(?=\S+\.\w{2,5}\b)", str(value)) if p.strip()]


_FACE_SUFFIX = re.compile(r"^(.*\S)\s*#\s*(\d{1,3})$")


def split_face(name: str) -> tuple[str, int | None]:
    """ "group.jpg#2" -> ("group.jpg", 2): the record is about face 2 of that photo, counting from the left
    (as captions do, and as the app numbers an archive photo's faces); "group.jpg" -> ("group.jpg", None)."""
    m = _FACE_SUFFIX.match(name.strip())
    if m and int(m.group(2)) >= 1:
        return m.group(1), int(m.group(2))
    return name.strip(), None


def basename(name: str) -> str:
    """File name from a path written on any system ("a\\b\\c.jpg" or "a/b/c.jpg")."""
    return PureWindowsPath(PurePosixPath(str(name).strip()).name).name


def _name_rows(names: list[str]) -> list[dict]:
    out = []
    for n in names:
        form = names_mod.normalise(n)
        if form.tokens:
            out.append(
                {
                    "name": n,
                    "script": form.script,
                    "latin": form.latin,
                    "plain": " ".join(t.plain for t in form.tokens),
                    "keys": " ".join(form.keys),
                }
            )
    return out


def _finish(d: _Draft, source_file: str, warnings: list[Problem], kept: list[str]) -> dict:
    """A draft's values as typed fields, names and photos; dates parsed, with warnings for the rest."""
    fields: dict[str, object] = {}
    first = {f: v[0] for f, v in d.values.items() if v and f not in MULTI}
    for f, vals in d.values.items():
        if f not in MULTI and len(vals) > 1:
            warnings.append(
                Problem(
                    d.row,
                    _(
                        "record {id}: {field} differs between its rows ({values}); kept {kept}",
                        id=d.record_id,
                        field=f,
                        values=" / ".join(map(str, vals)),
                        kept=vals[0],
                    ),  # fmt: skip
                )
            )
    for f in ("sex", "id_number", "address", "county", "village", "charge", "sentence", "facility", "source"):
        if f in first:
            fields[f] = _sex(str(first[f])) if f == "sex" else str(first[f]).strip()
    for f in DATE_FIELDS:
        if f in first:
            p = parse_date(first[f])
            fields[f] = p.iso or p.text
            year_field = {"birth_date": "birth_year", "detention_date": "detention_year", "photo_date": "photo_year"}[f]
            fields[year_field] = p.year
            if p.iso is None:
                warnings.append(
                    Problem(d.row, _("{field} {text} is not a date facematch reads; kept as text", field=f,
                                     text=repr(p.text)))
                )  # fmt: skip
            elif f == "birth_date":
                fields["birth_source"] = "birth_date"
    if "birth_year" in first and not fields.get("birth_year"):
        p = parse_date(first["birth_year"])
        if p.year:
            fields["birth_year"], fields["birth_source"] = p.year, "birth_year"
            fields.setdefault("birth_date", str(p.year))
        else:
            warnings.append(Problem(d.row, _("birth_year {text} is not a year; kept as text", text=repr(p.text))))
    from_id = birth_from_id(str(fields.get("id_number", "")))
    if from_id.problem:
        warnings.append(Problem(d.row, from_id.problem))
    id_birth = from_id.iso
    if id_birth:
        if not fields.get("birth_year"):
            fields["birth_date"], fields["birth_year"], fields["birth_source"] = (
                id_birth,
                int(id_birth[:4]),
                "id_number",
            )
        elif str(fields.get("birth_date", ""))[:10] not in (id_birth, id_birth[:7], id_birth[:4]):
            warnings.append(
                Problem(
                    d.row,
                    _(
                        "the ID number says born {id_birth}, the birth date column {column}",
                        id_birth=id_birth,
                        column=fields.get("birth_date"),
                    ),
                )  # fmt: skip
            )
    names = [str(n).strip() for n in d.values.get("name", [])]
    linked = [split_face(p) for v in d.values.get("photo", []) for p in _split_photos(v)]
    photos = list(dict.fromkeys(f for f, _ in linked))
    return {
        "record_id": d.record_id,
        "data": d.data,
        "fields": {f: fields.get(f) for f in RECORD_FIELDS},
        "names": _name_rows(names),
        "photos": photos,
        "photo_faces": {f: n for f, n in linked if n is not None},
        "kept": [h for h in kept if h in d.data],
        "source_file": source_file,
        "source_row": d.row,
    }


def map_rows(
    rows: list[list], source: str, maps: dict[str, str] | None = None, id_prefix: str | None = None
) -> tuple[list[dict], ImportReport]:
    """Rows (the first non-empty one is the header) -> records ready for Records.save, and a report."""
    report = ImportReport(file=source)
    maps = dict(maps or {})
    start = next((i for i, r in enumerate(rows) if any(str(c).strip() for c in r)), None)
    if start is None:
        raise RecordsError(_("records file {source} is empty", source=source))
    header = [str(h).strip() for h in rows[start]]
    unknown = [c for c in maps if c not in header]
    if unknown:
        raise RecordsError(
            _(
                "--map names columns that are not in {source}: {unknown}; columns: {columns}",
                source=source,
                unknown=", ".join(unknown),
                columns=", ".join(h for h in header if h),
            )  # fmt: skip
        )
    fields = [maps.get(h) or (guess_field(h) if h else "ignore") for h in header]
    report.columns = {h: f for h, f in zip(header, fields, strict=True) if h}
    for fld in ("record_id", "birth_date", "birth_year", "sex", "id_number", "county"):
        cols = [h for h, f in report.columns.items() if f == fld]
        if len(cols) > 1:
            report.warnings.append(
                Problem(
                    None,
                    _(
                        "columns {columns} all read as {field}; the first filled one is used",
                        columns=", ".join(cols),
                        field=fld,
                    ),
                )  # fmt: skip
            )
    if "record_id" not in fields:
        report.warnings.append(
            Problem(
                None,
                _(
                    "no record id column; records are named {prefix}:ROW (name one with --map COLUMN=record_id)",
                    prefix=id_prefix or Path(source).name,
                ),  # fmt: skip
            )
        )
    if "name" not in fields:
        report.warnings.append(Problem(None, _("no name column: these records cannot be found by name (see --map)")))
    if "photo" not in fields:
        report.warnings.append(Problem(None, _("no photo column: the records are kept without photos")))
    drafts: dict[str, _Draft] = {}
    prefix = id_prefix or Path(source).name
    for i in range(start + 1, len(rows)):
        row, n = rows[i], i + 1
        cells = list(row)
        if not any(str(c).strip() for c in cells if c is not None):
            continue
        report.rows += 1
        if len(cells) > len(header):
            extra = [c for c in cells[len(header) :] if str(c).strip()]
            if extra:
                report.problems.append(
                    Problem(
                        n,
                        _(
                            "{n} more cells than the header has columns; the extra cells are kept as extra_1, ...",
                            n=len(cells) - len(header),
                        ),  # fmt: skip
                    )
                )
        if any("\ufffd" in str(c) for c in cells):
            report.problems.append(Problem(n, _("some characters could not be decoded (shown as �)")))
        rid = ""
        for f, c in zip(fields, cells, strict=False):
            if f == "record_id" and str(c).strip():
                rid = str(c).strip()
                break
        if not rid:
            rid = f"{prefix}:{n}"
            if "record_id" in fields:
                report.problems.append(Problem(n, _("no record id; named {id}", id=rid)))
        d = drafts.get(rid)
        if d is None:
            d = drafts[rid] = _Draft(rid, n)
        else:
            report.problems.append(
                Problem(n, _("record id {id} already in row {row}: the rows are merged", id=rid, row=d.row))
            )
        for j, c in enumerate(cells):
            h = header[j] if j < len(header) else f"extra_{j - len(header) + 1}"
            f = fields[j] if j < len(fields) else "keep"
            value = c.strip() if isinstance(c, str) else c
            if value in ("", None) or f == "ignore":
                continue
            if h:
                shown = value.isoformat() if isinstance(value, dt.date) else value
                if h not in d.data:
                    d.data[h] = shown
                elif shown != d.data[h] and f not in MULTI:
                    d.data[h] = f"{d.data[h]} / {shown}"
            if f not in ("keep", "record_id"):
                d.add(f, value)
    kept = [h for h, f in report.columns.items() if f == "keep"]
    kept += sorted({h for d in drafts.values() for h in d.data if h.startswith("extra_") and h not in header})
    items = [_finish(d, source, report.warnings, kept) for d in drafts.values()]
    report.records = len(items)
    report.with_photo = sum(1 for it in items if it["photos"])
    report.without_photo = report.records - report.with_photo
    report.names = sum(len(it["names"]) for it in items)
    return items, report


def import_file(
    index: Index,
    path: Path,
    maps: Iterable[str] | dict[str, str] = (),
    encoding: str | None = None,
    sheet: str | None = None,
) -> ImportReport:
    """Read a CSV/XLSX file of archive records into the index's database; re-importing updates by id."""
    path = Path(path)
    maps = maps if isinstance(maps, dict) else parse_maps(maps)
    rows, file_problems = read_rows(path, encoding, sheet)
    items, report = map_rows(rows, path.name, maps)
    report.file = str(path)
    report.problems[:0] = file_problems
    if items:
        report.new, report.updated = index.records.save(items)
    return report


def ensure_current(index: Index) -> int:
    """Map records written by facematch 0.1 (columns only) into fields and names; returns how many."""
    legacy = index.records.unmapped()
    if not legacy:
        return 0
    items = []
    for rid, photo, data in legacy:
        header = list(data)
        mapped, _ = map_rows([["record_id", *header], [rid, *[data[h] for h in header]]], "legacy")
        it = mapped[0]
        if photo and photo not in it["photos"]:
            it["photos"].insert(0, photo)
        it["source_file"], it["source_row"] = None, None
        items.append(it)
    index.records.save(items)
    return len(items)


# -- reading a record for people ------------------------------------------------------------------
LABELS = {
    "names": "names",
    "birth_date": "born",
    "sex": "sex",
    "id_number": "ID number",
    "address": "address",
    "county": "county",
    "village": "village",
    "detention_date": "detained",
    "charge": "charge",
    "sentence": "sentence",
    "facility": "facility",
    "photo_date": "photo taken",
    "photos": "photos",
    "source": "source",
}


def record_lines(r: dict) -> list[tuple[str, str]]:
    """(label, text) pairs of everything a record says, typed fields first, then the other columns."""
    out = [(messages.record_label("record"), str(r.get("record_id", "")))]
    for key, label in LABELS.items():
        v = r.get(key)
        if not v:
            continue
        if key == "birth_date" and r.get("birth_source") == "id_number":
            v = _("{date} (from the ID number)", date=v)
        if key == "photos" and r.get("photo_faces"):
            faces = r["photo_faces"]
            v = [_("{photo} (face {n} from the left)", photo=p, n=faces[p]) if p in faces else p for p in v]
        out.append((messages.record_label(label), " · ".join(map(str, v)) if isinstance(v, list) else str(v)))
    if "columns" in r:  # imported by this version: the columns that are no field, as they were
        other = r.get("other", {})
    else:  # a legacy record: its columns are the record
        other = {
            k: v for k, v in r.items() if k not in ("record_id", "name", "names", "photos", "photo", "photo_faces")
        }
    out += [(str(k), str(v)) for k, v in other.items() if v not in ("", None)]
    return out


def record_summary(r: dict, show: Callable[[object], str] = str) -> str:
    """One line: first name · born · county (or "record N" when it names no one); `show` writes each part
    (the app isolates them inside a right-to-left page)."""
    bits = [show(r[k]) for k in ("name", "birth_date", "county") if r.get(k)]
    return " · ".join(bits) if bits else _("record {id}", id=show(r.get("record_id", "")))

"""Reading a CSV file of people: UTF-8 (with or without the BOM Excel writes), a header line naming the columns,
bounded in size and rows; a file that cannot be read as a whole is refused with what to do instead."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from app.errors import InvalidInput

REQUIRED = ("username", "display_name", "department", "roles")
OPTIONAL = ("active", "parent_department", "head")
ROW_BYTES = 1024


@dataclass(frozen=True)
class Row:
    """One line of the file under its header: its number and its fields by column name."""

    line: int
    values: dict[str, str]
    extra: bool  # more fields than the header names


def _decode(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidInput("this is a spreadsheet (.xlsx or .xls), not a CSV file: save it as “CSV UTF-8”")
    if b"\x00" in data:
        raise InvalidInput("the file holds NUL bytes, so it is not a CSV text file (UTF-16?): save it as “CSV UTF-8”")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        hint = ""
        try:
            data.decode("gb18030")
            hint = " (it looks like GBK/GB18030, what Excel writes as plain “CSV”)"
        except UnicodeDecodeError:
            pass
        raise InvalidInput(f"the file is not UTF-8 text at line {line}{hint}: save it as “CSV UTF-8”") from None


def _header(names: list[str]) -> list[str]:
    header = [n.strip().lower().replace(" ", "_").replace("-", "_") for n in names]
    if len(header) == 1 and ";" in header[0]:
        raise InvalidInput("the columns are separated by semicolons; separate them by commas")
    missing = [c for c in REQUIRED if c not in header]
    unknown = [n for n in header if n and n not in REQUIRED + OPTIONAL]
    doubled = sorted({n for n in header if n and header.count(n) > 1})
    if missing or unknown or doubled:
        problems = ([f"missing column(s): {', '.join(missing)}"] if missing else []) + (
            [f"unknown column(s): {', '.join(unknown)}"] if unknown else []) + (
            [f"column(s) given twice: {', '.join(doubled)}"] if doubled else [])
        raise InvalidInput(f"the first line names the columns; {'; '.join(problems)} (the columns are "
                           f"{', '.join(REQUIRED)}, optionally {', '.join(OPTIONAL)})")
    return header


def read_rows(data: bytes, max_rows: int) -> list[Row]:
    """The file's rows under its header line; InvalidInput for a file that cannot be read as a whole."""
    if len(data) > (max_rows + 1) * ROW_BYTES:
        raise InvalidInput(f"the file is larger than {(max_rows + 1) * ROW_BYTES // 1024} KB "
                           f"({max_rows} rows of at most 1 KB)")
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    header: list[str] | None = None
    rows: list[Row] = []
    try:
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            if not any(f.strip() for f in fields):
                continue
            if sum(len(f) for f in fields) > ROW_BYTES:
                raise InvalidInput(f"line {line} is longer than {ROW_BYTES} characters")
            if header is None:
                header = _header(fields)
                continue
            if len(rows) == max_rows:
                raise InvalidInput(f"the file has more than {max_rows} rows")
            values = {name: (fields[i].strip() if i < len(fields) else "") for i, name in enumerate(header) if name}
            rows.append(Row(line, values, len(fields) > len(header)))
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num} is not valid CSV: {exc}") from None
    if header is None:
        raise InvalidInput("the file is empty")
    return rows

"""Export of registry rows to CSV (UTF-8 with BOM, «;» for Russian Excel) and XLSX."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_csv(path: Path, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a table Excel opens as is in a Russian locale: BOM, «;» separators."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(headers)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def write_xlsx(path: Path, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write an XLSX workbook with one sheet «Чаты», a bold header row and frozen panes."""
    from openpyxl import Workbook  # lazy: only exports need it
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Чаты"
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(["" if v is None else v for v in row])
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[index - 1] or "")) for r in rows[:500]])
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = min(60, width + 2)
    book.save(path)


def write_table(path: Path, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """CSV or XLSX by the file's extension."""
    if path.suffix.lower() == ".xlsx":
        write_xlsx(path, headers, rows)
    else:
        write_csv(path, headers, rows)

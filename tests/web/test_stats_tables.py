"""The export's cells and sheet names: formulas defused, numbers kept, sheet names Excel accepts."""

import io

import openpyxl

from app.web.stats_tables import StatsTable, defused, to_csv, to_xlsx


def test_text_that_would_start_a_formula_is_defused_and_numbers_stay():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert defused(text) == "'" + text
    assert defused("合同 = contract") == "合同 = contract" and defused(-3) == -3 and defused(2.5) == 2.5


def test_one_table_is_a_plain_csv_and_sheet_names_are_made_valid(app):
    table = StatsTable("t", "A/B: [x]? " + "y" * 40, ("Name", "Uses"), (("=cmd", 1),))
    assert to_csv([table]) == "Name,Uses\r\n'=cmd,1\r\n"
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx([table, table])))
    assert [len(n) <= 31 for n in book.sheetnames] == [True, True] and len(set(book.sheetnames)) == 2
    assert not any(c in name for name in book.sheetnames for c in "[]:*?/\\")

"""The CSV import: files as clinics export them, read into the directories' input, each bad row
reported with its line and column while the good ones land (through an in-memory directory)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ari_app.__main__ import main
from ari_app.numbers import Regions
from ari_app.people.csvcolumns import Column, parse_bool, parse_date, parse_money, resolve
from ari_app.people.csvfile import CsvFileError, CsvProblem, CsvRow, open_csv
from ari_app.people.errors import RowError
from ari_app.people.importer import ImportReport, run_import
from ari_app.people.schema import ContactIn, ContactKind, PatientIn

REGIONS = Regions("RU", {"kyiv": "UA", "ny": "US"})
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class FakeDirectory:
    """The directory store as the import sees it: numbers read in the card's branch region, an
    item with a number that is none refused whole, upserts by external id."""

    def __init__(self) -> None:
        self.patients: dict[str, tuple[PatientIn, list[str]]] = {}
        self.contacts: dict[tuple[str, str], ContactIn] = {}
        self.batches: list[int] = []

    async def upsert_patients(
        self, items: Sequence[PatientIn], regions: Regions, now: datetime
    ) -> list[RowError | None]:
        self.batches.append(len(items))
        answers: list[RowError | None] = []
        for index, item in enumerate(items):
            numbers = [regions.to_e164(p.number, item.branch) for p in item.phones]
            bad = [i for i, n in enumerate(numbers) if n is None]
            if bad:
                problems = tuple(
                    (f"phones.{i}.number", "not a phone number in the branch's region") for i in bad
                )
                answers.append(RowError(index, item.external_id, problems))
                continue
            self.patients[item.external_id] = (item, [n for n in numbers if n])
            answers.append(None)
        return answers

    async def upsert_contacts(
        self, kind: ContactKind, items: Sequence[ContactIn], regions: Regions, now: datetime
    ) -> list[RowError | None]:
        self.batches.append(len(items))
        for item in items:
            self.contacts[(kind, item.external_id)] = item
        return [None] * len(items)


def rows(text: str, kind: str = "patients", **options: bool) -> list[CsvRow | CsvProblem]:
    return list(open_csv(text.encode("utf-8"), kind, **options).rows())  # type: ignore[arg-type]


def only_row(text: str, kind: str = "patients") -> CsvRow:
    [row] = rows(text, kind)
    assert isinstance(row, CsvRow), row
    return row


async def load(
    text: str | bytes, kind: str = "patients", **options: object
) -> tuple[ImportReport, FakeDirectory, str]:
    sink = FakeDirectory()
    err = io.StringIO()
    raw = text.encode("utf-8") if isinstance(text, str) else text
    report = await run_import(kind, raw, sink, REGIONS, now=NOW, err=err, **options)  # type: ignore[arg-type]
    return report, sink, err.getvalue()


# --- decoding, delimiters, quoting ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "bom"),
    [
        (b"id;name\n1;Ann\n", False),
        (b"\xef\xbb\xbfid;name\n1;Ann\n", True),
        (b"\xef\xbb\xbfid;name\r\n1;Ann\r\n", True),
    ],
)
def test_utf8_with_or_without_bom(raw: bytes, bom: bool) -> None:
    file = open_csv(raw, "patients")
    assert file.bom is bom
    assert file.header == ("id", "name")
    assert [r.data for r in file.rows() if isinstance(r, CsvRow)] == [
        {"external_id": "1", "full_name": "Ann"}
    ]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("id;name;phone\n1;Ann;+7 912 345 67 89\n", ";"),
        ("id,name,phone\n1,Ann,+7 912 345 67 89\n", ","),
        ("id\tname\tphone\n1\tAnn\t+7 912 345 67 89\n", "\t"),
        ('"id";"name";"phone"\n1;"Ann";"+7 912 345 67 89"\n', ";"),
        ("ID;Name;Phone;Notes, misc\n1;Ann;+7 912 345 67 89;\n", ";"),  # a comma in a header
    ],
)
def test_delimiter_is_the_one_that_splits_the_header(text: str, delimiter: str) -> None:
    file = open_csv(text.encode(), "patients", ignore_unknown_columns=True)
    assert file.delimiter == delimiter
    [row] = list(file.rows())
    assert isinstance(row, CsvRow)
    assert row.data["phones"] == [{"number": "+7 912 345 67 89"}]


def test_quoted_fields_keep_newlines_and_doubled_quotes_and_lines_are_physical() -> None:
    text = 'id;name;comment\n1;Ann;"first line\nsecond ""quoted"" line"\n\n2;Bob;\n3;"Carl\r\nJr";x\n'
    out = rows(text)
    assert [(r.line, r.data["external_id"]) for r in out if isinstance(r, CsvRow)] == [
        (2, "1"),
        (5, "2"),
        (6, "3"),
    ]
    first = out[0]
    assert isinstance(first, CsvRow)
    assert first.data["card_comment"] == 'first line\nsecond "quoted" line'


def test_a_broken_quote_is_a_problem_of_its_row_and_the_next_rows_still_read() -> None:
    out = rows('id;name\n1;"Ann"x\n2;Bob\n')
    assert isinstance(out[0], CsvProblem) and out[0].line == 2 and "quoting" in out[0].reason
    assert isinstance(out[1], CsvRow) and out[1].line == 3


@pytest.mark.parametrize(
    ("name",),
    [("Иванов Иван Иванович",), ("Шевченко Тарас Григорович",), ("王小明",), ("山田 太郎",), ("José Núñez",)],
)
async def test_names_in_any_script_pass_through_intact(name: str) -> None:
    report, sink, _ = await load(f"id;name\n1;{name}\n")
    assert report.imported == 1
    assert sink.patients["1"][0].full_name == name


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("external_id", Column("external_id")),
        (" Patient ID ", Column("external_id")),
        ("Код", Column("external_id")),
        ("ID пациента", Column("external_id")),
        ("full_name", Column("name")),
        ("ФИО", Column("name")),
        ("Ф.И.О.", Column("name")),
        ("ПІБ", Column("name")),
        ("Nombre", Column("name")),
        ("Дата рождения", Column("birth_date")),
        ("Дата народження", Column("birth_date")),
        ("Fecha de nacimiento", Column("birth_date")),
        ("phone", Column("phone", 1)),
        ("Телефон", Column("phone", 1)),
        ("phone2", Column("phone", 2)),
        ("Телефон 2", Column("phone", 2)),
        ("Teléfono 3", Column("phone", 3)),
        ("phone_role", Column("phone", 1, "role")),
        ("phone2_role", Column("phone", 2, "role")),
        ("phone_owner", Column("phone", 1, "owner")),
        ("телефон 2 владелец", Column("phone", 2, "owner")),
        ("phones", Column("phones")),
        ("policy_number", Column("policy_number")),
        ("visits_no_show", Column("visits_no_show")),
        ("phone21", None),
        ("phone colour", None),
        ("shoe size", None),
    ],
)
def test_header_aliases(header: str, column: Column | None) -> None:
    assert resolve(header, "patients") == column


def test_staff_numbers_carry_no_role_and_staff_have_no_birth_date() -> None:
    assert resolve("phone_role", "staff") is None
    assert resolve("birth_date", "staff") is None
    assert resolve("ФИО", "staff") == Column("name")


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("id;name;shoe size;hat\n1;Ann;42;x\n", "patients", "unknown columns 'shoe size', 'hat'"),
        ("id;phone\n1;+79123456789\n", "patients", "no name column"),
        ("name;phone\nAnn;+79123456789\n", "patients", "no external_id column"),
        ("id;name\n1;Ann\n", "staff", "no phone column"),
        ("id;name;ФИО\n1;Ann;Ann\n", "patients", "'name' and 'ФИО' are the same column"),
        ("shoe;hat\n1;2\n", "patients", "line 1 names no column a patients file has"),
        ("", "patients", "no header"),
        ("\nid;name\n", "patients", "no header"),
    ],
)
def test_file_level_header_errors(text: str, kind: str, message: str) -> None:
    with pytest.raises(CsvFileError, match="^.*" + message.replace("(", r"\(")):
        open_csv(text.encode(), kind)  # type: ignore[arg-type]


def test_unknown_columns_may_be_ignored_on_request() -> None:
    file = open_csv(b"id;name;shoe size\n1;Ann;42\n", "patients", ignore_unknown_columns=True)
    assert file.ignored == ("shoe size",)
    assert [r.data for r in file.rows() if isinstance(r, CsvRow)] == [
        {"external_id": "1", "full_name": "Ann"}
    ]


# --- encodings --------------------------------------------------------------------------------


def test_windows_1251_is_refused_naming_the_line_and_the_fix() -> None:
    raw = "id;name\n1;Ann\n2;Иванов Иван\n".encode("cp1251")
    with pytest.raises(CsvFileError) as caught:
        open_csv(raw, "patients")
    message = str(caught.value)
    assert "not UTF-8" in message and "line 3" in message
    assert "Windows-1251" in message and 'save it as "CSV UTF-8' in message


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_refused_clearly(codec: str) -> None:
    raw = "id;name\n1;Ann\n".encode(codec)
    if codec != "utf-16":
        raw = ("\ufeff" + "id;name\n").encode(codec)  # with its byte-order mark
    with pytest.raises(CsvFileError, match=r'UTF-16.*save it as "CSV UTF-8'):
        open_csv(raw, "patients")


def test_utf16_without_bom_is_refused_as_not_utf8() -> None:
    with pytest.raises(CsvFileError, match=r"not UTF-8: line 1 has NUL bytes"):
        open_csv("id;name\n".encode("utf-16-le"), "patients")


# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-05-31", date(2014, 5, 31)),
        ("31.05.2014", date(2014, 5, 31)),
        ("31/05/2014", date(2014, 5, 31)),
        ("1.2.2014", date(2014, 2, 1)),  # day first
        ("05/31/2014", None),  # month first: refused, not guessed
        ("31.02.2014", None),
        ("2014-5-31", None),
        ("yesterday", None),
    ],
)
def test_dates(text: str, expected: date | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_date(text)
    else:
        assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.50", "1234.50"),
        ("1 234,50", "1234.50"),
        ("1\u00a0234,50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("-300", "-300"),
        ("12", "12"),
        ("+5", "5"),
        ("0,5", "0.5"),
        ("1.5", "1.5"),
        ("−300,5", "-300.5"),
        ("12 000", "12000"),
        ("1,234", "1234"),  # three digits after the comma: grouping (money has cents)
        ("abc", None),
        ("12-3", None),
        ("1 2 3,4,5", None),
        ("1,23,456", None),
        ("", None),
        (",50", None),
    ],
)
def test_money(text: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_money(text)
    else:
        assert parse_money(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True), ("No", False), ("TRUE", True), ("false", False), ("1", True), ("0", False),
        ("да", True), ("нет", False), ("так", True), ("ні", False), ("sí", True), ("si", True), ("maybe", None),
    ],
)  # fmt: skip
def test_booleans(text: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_bool(text)
    else:
        assert parse_bool(text) is expected


@pytest.mark.parametrize(
    ("branch", "written", "e164"),
    [
        ("", "+7 (912) 345-67-89", "+79123456789"),
        ("", "8 912 345 67 89", "+79123456789"),
        ("kyiv", "067-123-45-67", "+380671234567"),
        ("ny", "(555) 123-4567", "+15551234567"),
        ("kyiv", "+380 (67) 123 45 67", "+380671234567"),
    ],
)
async def test_numbers_are_kept_as_written_and_read_in_the_branch_region(
    branch: str, written: str, e164: str
) -> None:
    text = f'id;name;branch;phone\n1;Ann;{branch};"{written}"\n'
    assert only_row(text).data["phones"] == [{"number": written}]
    report, sink, _ = await load(text)
    assert report.imported == 1
    assert sink.patients["1"][1] == [e164]


def test_a_full_patient_row() -> None:
    text = (
        "Код;ФИО;Дата рождения;Телефон;Телефон 2;Телефон 2 роль;Телефон 2 владелец;Баланс;"
        "Полис;policy_from;policy_to;policy_active;visits_completed;visits_no_show;last_visit\n"
        "A-1;Петренко Олена;31.05.2014;+380671234567;067 765 43 21;мама;Ольга;-1 234,50;"
        "P-77;01.01.2025;31/12/2025;так;12;1;2025-11-30\n"
    )
    row = only_row(text)
    patient = PatientIn.model_validate(row.data)
    assert patient.birth_date == date(2014, 5, 31)
    assert [(p.number, p.role, p.owner) for p in patient.phones] == [
        ("+380671234567", "self", None),
        ("067 765 43 21", "parent", "Ольга"),
    ]
    assert patient.balance == Decimal("-1234.50")
    assert (
        patient.policy is not None and patient.policy.active and patient.policy.valid_to == date(2025, 12, 31)
    )
    assert (patient.visits.completed, patient.visits.no_show, patient.visits.last) == (
        12,
        1,
        date(2025, 11, 30),
    )


def test_a_phones_cell_holds_several_numbers() -> None:
    row = only_row('id;name;phone;phones\n1;Ann;111 11 11;"+7 912 000 00 01 | 8 912 000 00 02, 222"\n')
    assert [p["number"] for p in row.data["phones"]] == [
        "111 11 11",
        "+7 912 000 00 01",
        "8 912 000 00 02",
        "222",
    ]
    staff = only_row("id;name;phones\ns1;Ann;101|102\n", "staff")
    assert ContactIn.model_validate(staff.data).phones == ["101", "102"]


# --- bad rows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("1;;+79123456789;", "line 2, column ФИО: Field required"),
        (f"1;{'x' * 201};+79123456789;", "line 2, column ФИО: String should have at most 200 characters"),
        ("1 2;Ann;+79123456789;", "line 2, column Код: String should match pattern"),
        ("1;Ann;нет;", "line 2, column Телефон: no digits: not a phone number"),
        ("1;Ann;+79123456789;many", "line 2, column Визиты: not a whole number"),
        ("1;Ann;+79123456789;-2", "line 2, column Визиты: Input should be greater than or equal to 0"),
        ("1;Ann;+79123456789;3;extra", "line 2: 5 cells, the header has 4"),
        ("1;Ann;12;", "line 2, column Телефон: not a phone number in the branch's region"),  # the directory's
    ],
)
async def test_a_bad_row_is_reported_with_its_line_and_column(row: str, expected: str) -> None:
    report, sink, err = await load(f"Код;ФИО;Телефон;Визиты\n{row}\n2;Bob;+79123456780;\n")
    assert expected in err
    assert (report.imported, report.rejected, report.total, report.exit_code) == (1, 1, 2, 2)
    assert list(sink.patients) == ["2"]


async def test_role_without_number_and_unknown_role_name_their_columns() -> None:
    text = "id;name;phone;phone_role;phone2_role\n1;Ann;+79123456789;cousin;мама\n"
    report, _, err = await load(text)
    assert "line 2, column phone2_role: a phone role without its number" in err
    assert report.rejected == 1
    report, _, err = await load("id;name;phone;phone_role\n1;Ann;+79123456789;cousin\n")
    assert "line 2, column phone_role: Input should be 'self', 'parent'" in err


async def test_policy_dates_out_of_order_name_a_policy_column() -> None:
    _, _, err = await load("id;name;policy;policy_from;policy_to\n1;Ann;P1;01.02.2025;01.01.2025\n")
    assert "line 2, column policy: valid_to is before valid_from" in err


async def test_the_same_external_id_twice_the_later_wins_with_a_warning() -> None:
    text = "id;name\n1;Ann\n2;Bob\n1;Anna\n"
    report, sink, err = await load(text)
    assert "line 4: warning: same external id as line 2; line 4 wins" in err
    assert sink.patients["1"][0].full_name == "Anna"
    assert (report.imported, report.rejected, report.repeated, report.total) == (2, 0, 1, 3)
    # the earlier row already stored in an earlier batch: still one patient, counted once
    report, sink, _ = await load(text, batch_size=1)
    assert sink.patients["1"][0].full_name == "Anna"
    assert (report.imported, report.repeated, report.total) == (2, 1, 3)
    assert report.summary() == (
        "imported 2 rows, rejected 0 (of 3); 1 replaced by a later row with the same external id"
    )


async def test_rejects_file_keeps_the_delimiter_and_appends_the_reason(tmp_path: Path) -> None:
    text = '\ufeffid,name,comment\n1,Ann,ok\n2,,"two\nlines"\n3,Carl,fine\n4,\n'
    out = tmp_path / "rejects.csv"
    report, _, _ = await load(text, rejects=out)
    assert (report.imported, report.rejected) == (2, 2)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    written = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert written == [
        ["id", "name", "comment", "reason"],
        ["2", "", "two\nlines", "line 3: name: Field required"],
        ["4", "", "", "line 6: name: Field required"],
    ]


async def test_100k_rows_land_in_batches_and_three_bad_ones_are_reported(tmp_path: Path) -> None:
    bad = {1_234: "1234;;+7 912 000 12 34", 50_001: "50001;P 50001;no phone", 99_998: "99998;P 99998;x;12"}
    lines = ["id;name;phone"]
    for n in range(1, 100_001):
        lines.append(bad.get(n, f"{n};Пациент {n};+7 912 {n // 10_000:03d} {n % 10_000:04d}"))
    report, sink, err = await load("\n".join(lines) + "\n")
    assert (report.total, report.imported, report.rejected) == (100_000, 99_997, 3)
    assert len(sink.patients) == 99_997
    assert max(sink.batches) == 500 and sum(sink.batches) == 99_997
    assert "line 1235, column name: Field required" in err
    assert "line 50002, column phone: no digits: not a phone number" in err
    assert "line 99999: 4 cells, the header has 3" in err
    assert report.exit_code == 2


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, FakeDirectory]:
    """A configuration whose database the import never opens: the directory is the fake one."""
    config = tmp_path / "clinic.toml"
    config.write_text(
        'version = 1\n[ari]\nurl = "http://127.0.0.1:1/ari"\n[database]\nurl = "sqlite:///test.db"\n'
        '[calls]\ndefault_region = "RU"\n'
        '[[branches]]\nid = "kyiv"\nname = "Kyiv"\nregion = "UA"\n[[branches.dids]]\nnumber = "5551234"\n'
        '[[admins]]\nlogin = "x"\nname = "X"\nendpoint = "PJSIP/x"\nbranch = "kyiv"\n',
        encoding="utf-8",
    )
    sink = FakeDirectory()
    monkeypatch.setattr("ari_app.__main__._directory_sink", lambda db, settings: sink)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return config, sink


@pytest.mark.parametrize(
    ("content", "code", "stdout", "stderr"),
    [
        ("id;name;branch;phone\n1;Ann;kyiv;067 123 45 67\n", 0, "imported 1 rows, rejected 0 (of 1)", ""),
        (
            "id;name;phone\n1;Ann;+79123456789\n2;;+79123456780\n",
            2,
            "imported 1 rows, rejected 1 (of 2)",
            "line 3, column name",
        ),
        ("id;name\n1;Иван\n".encode("cp1251"), 1, "", "not UTF-8: line 2"),
        ("id;phone\n1;+79123456789\n", 1, "", "no name column"),
        ("id;name;shoe\n1;Ann;42\n", 1, "", "unknown columns 'shoe'"),
    ],
)
def test_cli_exit_codes_and_summary(
    cli: tuple[Path, FakeDirectory],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes,
    code: int,
    stdout: str,
    stderr: str,
) -> None:
    config, sink = cli
    data = tmp_path / "patients.csv"
    data.write_bytes(content.encode() if isinstance(content, str) else content)
    assert main(["import", "patients", str(data), "--config", str(config), "--quiet"]) == code
    out, err = capsys.readouterr()
    assert stdout in out and stderr in err
    assert "Traceback" not in err
    if code == 1:
        assert sink.patients == {} and not out


def test_cli_imports_staff_ignores_columns_on_request_and_writes_rejects(
    cli: tuple[Path, FakeDirectory], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, sink = cli
    data = tmp_path / "staff.csv"
    data.write_text("id,name,phone,desk\ns1,Ann,101,3\ns2,Bob,,4\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    argv = ["import", "staff", str(data), "--config", str(config), "--ignore-unknown-columns"]
    assert main([*argv, "--rejects", str(rejects)]) == 2
    out, err = capsys.readouterr()
    assert "imported 1 rows, rejected 1 (of 2)" in out
    assert "ignoring columns 'desk'" in err and "line 3, column phone: Field required" in err
    assert list(sink.contacts) == [("staff", "s1")]
    assert rejects.read_text(encoding="utf-8").splitlines()[0] == "id,name,phone,desk,reason"


def test_cli_missing_file_is_a_file_error(
    cli: tuple[Path, FakeDirectory], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = cli
    assert main(["import", "contractors", "/nonexistent.csv", "--config", str(config)]) == 1
    assert "cannot read" in capsys.readouterr().err

"""``ari-app import bookings``: good rows recorded, broken ones named by line and column, a rerun
records nothing twice; ``ari-app relink`` reports what it did."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.__main__ import main
from tests.api_client import EXAMPLE

HEADER = "event_id;kind;booking_id;patient_id;happened_at;appointment_at;doctor;topic;branch;admin\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "clinic.toml"
    path.write_text(
        EXAMPLE.read_text().replace("sqlite:///data/ari-app.db", f"sqlite:///{tmp_path}/db.sqlite")
    )
    return path


def test_broken_rows_are_named_and_the_rest_recorded(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    file = tmp_path / "bookings.csv"
    file.write_text(
        HEADER
        + "e1;created;b1;p1;2026-03-02T13:10:00+01:00;2026-03-09T10:00:00Z;Dr A;booking;downtown;anna\n"
        + "e2;created;b2;p2;2026-03-02 13:10;;;;;\n"  # no offset and no --timezone
        + "e3;deleted;b3;p3;2026-03-02T13:10:00Z;;;;;\n"
        + "e4;cancelled;b1;p1;2026-03-02T14:00:00Z;;;;;\n"
        + "\n"
        + 'e5;moved;b1;p1;"2026-03-02T14:00:00Z\n'  # quoting never closed
    )
    assert main(["import", "bookings", str(file), "--config", str(config), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert "recorded 2 events, 0 already there, rejected 3 (of 5)" in out
    assert "line 3, column happened_at: Value error, must carry a UTC offset" in err
    assert "line 4, column kind:" in err
    assert "line 7: broken quoting" in err
    assert "p2" not in err  # a line and a column, never a cell's value
    # With the time zone the naive row goes in; the others are duplicates now.
    again = [
        "import",
        "bookings",
        str(file),
        "--config",
        str(config),
        "--quiet",
        "--timezone",
        "Europe/Berlin",
    ]
    assert main(again) == 2
    out, _ = capsys.readouterr()
    assert "recorded 1 events, 2 already there, rejected 2 (of 5)" in out
    assert main(["relink", "--since", "2026-03-01", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert "relinked 3 booking events since 2026-03-01T00:00:00+00:00: 0 linked" in out
    assert "links: 3/3" in err
    missing = tmp_path / "missing.csv"
    assert main(["import", "bookings", str(missing), "--config", str(config)]) == 1

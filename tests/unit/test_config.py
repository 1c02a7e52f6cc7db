"""Configuration schema v1: the example is valid, and every error names the file and the key."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ari_app.__main__ import main
from ari_app.calls.arrival import arrival
from ari_app.config import ConfigError, load_secrets, load_settings, parse_settings

_A = {"id": "a", "name": "A"}
_A_DID = {**_A, "dids": [{"number": "5551234"}]}
_X = {"login": "x", "name": "X", "endpoint": "PJSIP/x", "branch": "a"}
EXAMPLE = Path(__file__).resolve().parents[2] / "ari_app" / "examples" / "clinic.toml"


def test_example_is_valid_and_resolves_dids() -> None:
    s = load_settings(EXAMPLE)
    branch, did = s.branch_for_did("5551235") or (None, None)
    assert branch is not None and branch.id == "downtown" and did is not None and did.ad_channel == "maps"
    assert [a.login for a in s.admins_of("riverside")] == ["dana", "eli"]
    assert s.branch_for_did("5559999") is None
    assert [a.login for a in s.members("downtown-desk")] == ["anna", "ben", "chen"]
    assert [a.login for a in s.members("call-center")] == ["fay"]
    assert s.groups_for(branch) == ["downtown-desk"]
    downtown = s.branches[0]
    assert downtown.schedule is not None and downtown.schedule.timezone == "America/New_York"
    assert downtown.dids[0].menu is not None and downtown.dids[0].menu.topics == [
        "booking",
        "results",
        "billing",
    ]


def test_without_groups_each_branch_is_a_ring_all_group() -> None:
    s = parse_settings(
        {
            "version": 1,
            "branches": [{**_A, "dids": [{"number": "5551234"}]}],
            "admins": [{"login": "x", "name": "X", "endpoint": "PJSIP/x", "branch": "a"}],
        },
        "t.toml",
    )
    assert [(g.id, g.branch, g.strategy) for g in s.groups] == [("a", "a", "ring_all")]
    assert [a.login for a in s.members("a")] == ["x"]


def test_check_config_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "ok (2 branches, 3 DIDs, 3 groups, 3 topics, 6 admins)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[calls]\nring_timeout = 2\n[[admins]]\nlogin="x"\nname="X"\nendpoint="admin1"\nbranch="nowhere"\n'
    )
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: calls.ring_timeout: Input should be greater than or equal to 5" in err
    assert f"{bad}: admins[0].endpoint: must be an Asterisk endpoint such as PJSIP/admin101" in err


# fmt: off
@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"ari": {"urll": "x"}}, "ari.urll: unknown key"),
        (
            {"ari": {"url": "http://user:pw@pbx/ari"}},
            "ari.url: must be an http(s) URL without credentials",
        ),
        ({"version": 2}, "version: Input should be 1"),
        ({"http": {"tls_cert": "/etc/app/cert.pem"}}, "http: tls_cert and tls_key: set both or neither"),
        ({"http": {"tls_cert": "cert.pem", "tls_key": "/k.pem"}}, "http.tls_cert: must be an absolute path to a PEM file"),
        ({"http": {"require_https": True}}, "http: require_https: no request could be HTTPS; set tls_cert and tls_key, or list the proxy"),
        ({"http": {"trusted_proxies": ["10.0.0.0/8", "proxy.local"]}}, "http.trusted_proxies: [1] 'proxy.local' is not an address or network (10.0.0.0/8)"),
        ({"http": {"trusted_proxies": ["10.0.0.0/33"]}}, "http.trusted_proxies: [0] '10.0.0.0/33' is not an address or network"),
        ({"http": {"allowed_origins": ["https://console.example/app"]}}, "http.allowed_origins: [0] 'https://console.example/app' is not an origin"),
        ({"http": {"allowed_origins": ["console.example"]}}, "http.allowed_origins: [0] 'console.example' is not an origin"),
        (
            {"branches": [{**_A, "timezone": "Mars/Base"}]},
            "branches[0].timezone: unknown time zone",
        ),
        (
            {"branches": [{**_A, "hours": {"mon": ["9-5"]}}]},
            "branches[0].hours.mon: '9-5' is not an interval",
        ),
        (
            {"branches": [{**_A, "hours": {"mon": ["18:00-09:00"]}}]},
            "branches[0].hours.mon: '18:00-09:00': closes must be after opens",
        ),
        (
            {"branches": [{**_A, "hours": {"monday": []}}]},
            "branches[0].hours.monday: unknown key",
        ),
        (
            {"branches": [{**_A, "holidays": {"country": "XX"}}]},
            "branches[0].holidays.country: no holiday calendar for 'XX'",
        ),
        (
            {"branches": [{**_A, "holidays": {"country": "US", "subdivision": "ZZ"}}]},
            "branches[0].holidays.subdivision: US has no subdivision 'ZZ'",
        ),
        ({"groups": [{"id": "g", "strategy": "loudest"}]}, "groups[0].strategy: Input should be 'ring_all'"),
        (
            {"groups": [{"id": "g", "overflow_to": ["nowhere"]}]},
            "groups[0].overflow_to[0]: no group with id 'nowhere'",
        ),
        (
            {"groups": [{"id": "g", "overflow_to": ["g"]}]},
            "groups[0].overflow_to: a group cannot overflow to itself",
        ),
        ({"groups": [{"id": "g", "branch": "x"}]}, "groups[0].branch: no branch with id 'x'"),
        (
            {"topics": [{"id": "a", "name": "A", "digit": "1"}, {"id": "b", "name": "B", "digit": "1"}]},
            "topics[1].digit: '1' duplicates topics[0]",
        ),
        (
            {"groups": [], "branches": [_A]},
            "branches[0].groups: no group serves branch 'a'",
        ),
        (
            {
                "branches": [
                    {
                        "id": "a",
                        "name": "A",
                        "dids": [{"number": "555", "menu": {"prompt": "sound:x", "topics": ["t"]}}],
                    }
                ]
            },
            "branches[0].dids[0].menu.topics[0]: no topic with id 't'",
        ),
        (
            {
                "admins": [
                    {"login": "x", "name": "X", "endpoint": "PJSIP/x", "branch": "a", "groups": ["g"]}
                ],
                "branches": [_A],
            },
            "admins[0].groups[0]: no group with id 'g'",
        ),
        (
            {"calls": {"missed_media": "vm-nobodyavail"}},
            "calls.missed_media: must be an ARI media URI",
        ),
        (
            {"branches": [{**_A, "dids": [{"number": "12ab"}]}]},
            "branches[0].dids[0].number:",
        ),
        (
            {
                "branches": [
                    {"id": "a", "name": "A", "dids": [{"number": "555"}]},
                    {"id": "b", "name": "B", "dids": [{"number": "555"}]},
                ]
            },
            "branches[1].dids[0].number: DID 555 is already used at branches[0].dids[0].number",
        ),
        (
            {
                "branches": [_A],
                "admins": [{"login": "x", "name": "X", "endpoint": "PJSIP/1", "branch": "zz"}],
            },
            "admins[0].branch: no branch with id 'zz'",
        ),
        ({}, "version: missing; add version = 1"),
        ({"version": 1, "admins": [_X]}, "branches: at least one branch with a DID is needed"),
        ({"version": 1, "branches": [_A], "admins": [_X]}, "branches: at least one branch with a DID"),
        ({"version": 1, "branches": [_A_DID]}, "admins: at least one admin is needed"),
        (
            {
                "version": 1,
                "branches": [_A_DID],
                "groups": [{"id": "a", "branch": "a"}, {"id": "center"}],
                "admins": [{**_X, "groups": ["center"]}],
            },
            "admins: none is in a group that a DID's calls are offered to, so no call could be answered",
        ),
    ],
)
def test_errors_name_the_key(data: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings(data, "clinic.toml")
    assert any(p.startswith(problem) for p in exc.value.problems), exc.value.problems
    assert str(exc.value).startswith("clinic.toml: ")


def test_an_empty_file_is_told_all_it_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert main(["check-config", str(empty)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{empty}: version: missing; add version = 1",
        f"{empty}: branches: at least one branch with a DID is needed",
        f"{empty}: admins: at least one admin is needed",
    ]


def test_a_did_no_admin_takes_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "clinic.toml"
    config.write_text(
        EXAMPLE.read_text()
        + '[[branches]]\nid = "new"\nname = "Opens next month"\ndids = [{ number = "5553000" }]\n'
        + '[[groups]]\nid = "new-desk"\nbranch = "new"\n'
    )
    assert main(["check-config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert "ok (3 branches, 4 DIDs" in out
    assert err == f"{config}: branches[2].dids[0]: warning: no admin is in its groups; its calls fail\n"


def test_recording_without_the_notice_is_allowed_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "clinic.toml"
    # The carrier announces the recording already: the downtown branch records without it.
    config.write_text(EXAMPLE.read_text().replace(
        'recording_notice = "sound:clinic/recording-notice"', "recording_notice = false"
    ))  # fmt: skip
    assert main(["check-config", str(config)]) == 0
    assert capsys.readouterr().err == (
        f"{config}: branches[0].recording_notice: warning: calls are recorded without telling the caller;"
        " make sure the carrier or an earlier IVR announces the recording\n"
    )
    settings = load_settings(config)
    downtown = settings.branches[0]
    assert downtown.record and downtown.recording_notice is False
    routing = arrival(settings, "5551235", datetime(2026, 12, 7, 15, 0, tzinfo=UTC)).routing
    assert routing.open and routing.notice is None  # offered at once, and still recorded
    with pytest.raises(ConfigError, match=r"branches\[0\]\.recording_notice"):
        parse_settings({**tomllib.loads(config.read_text()), "branches": [
            {"id": "a", "name": "A", "recording_notice": True, "dids": [{"number": "5551234"}]}
        ]}, "x.toml")  # fmt: skip


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[ari\nurl=1")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML"):
        load_settings(broken)


def test_secrets_from_environment_never_printed() -> None:
    s = load_settings(EXAMPLE)
    with pytest.raises(ConfigError, match="ARI_PASSWORD: not set"):
        load_secrets(s, {"ARI_USERNAME": "u"})
    sec = load_secrets(
        s, {"ARI_USERNAME": "u", "ARI_PASSWORD": "hunter2-secret", "ARI_APP_API_TOKENS": "a" * 20}
    )
    assert "hunter2" not in repr(sec) and sec.api_tokens == ("a" * 20,)
    assert sec.database_url == "sqlite:///data/ari-app.db"
    with pytest.raises(ConfigError, match="16"):
        load_secrets(s, {"ARI_USERNAME": "u", "ARI_PASSWORD": "p", "ARI_APP_API_TOKENS": "short"})


@pytest.mark.parametrize("command", ["run", "migrate"])
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://clinic:hunter2-secret@db/calls", "unsupported database 'mysql'"),
        ("postgresql://clinic:hunter2-secret@db:port/calls", "not a valid PostgreSQL URL"),
        ("clinic:hunter2-secret@db/calls", "not a database URL"),
        ("sqlite://", "an SQLite URL needs a file"),
    ],
)
def test_unusable_database_url_is_one_line_without_the_password(
    command: str,
    url: str,
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "clinic.toml"
    config.write_text(EXAMPLE.read_text())
    for name, value in {"ARI_USERNAME": "u", "ARI_PASSWORD": "p", "DATABASE_URL": url}.items():
        monkeypatch.setenv(name, value)
    assert main([command, "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"environment: DATABASE_URL: {problem}") and "hunter2" not in err


def test_unusable_database_url_in_the_file_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "clinic.toml"
    config.write_text(
        EXAMPLE.read_text().replace(
            'url = "sqlite:///data/ari-app.db"', 'url = "mysql://clinic:hunter2-secret@db/calls"'
        )
    )
    assert main(["check-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err == f"{config}: database.url: unsupported database 'mysql'; use postgresql://" + (
        "user:password@host:5432/db or sqlite:///path/to/file.db\n"
    )


def test_migrate_without_a_database_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "clinic.toml"
    config.write_text(EXAMPLE.read_text())
    monkeypatch.setenv("DATABASE_URL", "postgresql://clinic:hunter2-secret@127.0.0.1:1/calls")
    assert main(["migrate", "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("ari-app: database postgresql+asyncpg://clinic:***@127.0.0.1:1/calls unavailable")
    assert err.count("\n") == 1 and "hunter2" not in err

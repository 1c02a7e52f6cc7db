"""Configuration schema v1: the example is valid, and every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.__main__ import main
from ari_app.config import ConfigError, load_secrets, load_settings, parse_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "ari_app" / "examples" / "clinic.toml"


def test_example_is_valid_and_resolves_dids() -> None:
    s = load_settings(EXAMPLE)
    branch, did = s.branch_for_did("5551235") or (None, None)
    assert branch is not None and branch.id == "downtown" and did is not None and did.ad_channel == "maps"
    assert [a.login for a in s.admins_of("riverside")] == ["dana", "eli"]
    assert s.branch_for_did("5559999") is None


def test_check_config_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "ok (2 branches, 3 DIDs, 5 admins)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[calls]\nring_timeout = 2\n[[admins]]\nlogin="x"\nname="X"\nendpoint="admin1"\nbranch="nowhere"\n'
    )
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: calls.ring_timeout: Input should be greater than or equal to 5" in err
    assert f"{bad}: admins[0].endpoint: must be an Asterisk endpoint such as PJSIP/admin101" in err


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"ari": {"urll": "x"}}, "ari.urll: unknown key"),
        (
            {"ari": {"url": "http://user:pw@pbx/ari"}},
            "ari.url: must be an http(s) URL without credentials",
        ),
        ({"version": 2}, "version: Input should be 1"),
        (
            {"calls": {"missed_media": "vm-nobodyavail"}},
            "calls.missed_media: must be an ARI media URI",
        ),
        (
            {"branches": [{"id": "a", "name": "A", "dids": [{"number": "12ab"}]}]},
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
                "branches": [{"id": "a", "name": "A"}],
                "admins": [{"login": "x", "name": "X", "endpoint": "PJSIP/1", "branch": "zz"}],
            },
            "admins[0].branch: no branch with id 'zz'",
        ),
    ],
)
def test_errors_name_the_key(data: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings(data, "clinic.toml")
    assert any(p.startswith(problem) for p in exc.value.problems), exc.value.problems
    assert str(exc.value).startswith("clinic.toml: ")


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

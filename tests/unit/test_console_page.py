"""The console page's pure parts: where a sign-in goes next, and the names the page is given."""

from __future__ import annotations

import pytest

from ari_app.api.login import page_after
from ari_app.config import parse_settings
from ari_app.screenpop.page import console_data, sign_in_first


@pytest.mark.parametrize(
    ("asked", "lands"),
    [
        ("/console", "/console"),
        ("/", "/"),
        ("/wall-board/today", "/wall-board/today"),
        (None, "/account"),
        ("", "/account"),
        ("console", "/account"),  # not a path
        ("//elsewhere.example/console", "/account"),  # another host, scheme-relative
        ("/\\elsewhere.example", "/account"),  # a backslash some browsers read as a slash
        ("https://elsewhere.example/", "/account"),
        ("/console?next=//x", "/account"),  # no query: nothing to smuggle
        ("/console/", "/account"),
        ("/../etc", "/account"),
        ("/console\r\nSet-Cookie: x=1", "/account"),
    ],
)
def test_a_sign_in_goes_back_only_to_a_page_of_this_site(asked: str | None, lands: str) -> None:
    assert page_after(asked) == lands


def test_the_redirect_to_sign_in_names_the_page_to_come_back_to() -> None:
    answer = sign_in_first("/console")
    assert answer.status == 303 and answer.headers["Location"] == "/login?next=/console"


def test_the_page_gets_the_configured_names_and_no_one_s_data() -> None:
    settings = parse_settings(
        {
            "version": 1,
            "branches": [{"id": "downtown", "name": "Downtown", "dids": [{"number": "5551234"}]}],
            "topics": [{"id": "implants", "name": "Implants", "digit": "1"}],
            "admins": [{"login": "anna", "name": "Anna", "endpoint": "PJSIP/101", "branch": "downtown"}],
        },
        "test",
    )
    assert console_data(settings) == {
        "topics": [{"id": "implants", "name": "Implants"}],
        "branches": {"downtown": "Downtown"},
        "admins": {"anna": "Anna"},
    }
    assert console_data(None) == {"topics": [], "branches": {}, "admins": {}}

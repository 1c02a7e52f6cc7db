"""``python -m ari_app.i18n <command>``: the catalogs' upkeep (Babel's ``pybabel`` underneath).

- ``extract``: every message of the Python code, the templates (``ari_app/*/templates``) and
  the scripts (``t()``/``tn()`` in ``ari_app/*/static/*.js``) into ``ari_app/locale/messages.pot``
  (committed; a test fails while it is out of date); ``--output FILE``: elsewhere;
- ``init LOCALE``: a new language's ``ari_app/locale/LOCALE/LC_MESSAGES/messages.po`` to translate;
- ``update``: every language's ``.po`` brought up to the template (new messages empty, changed
  ones fuzzy);
- ``pseudo``: the pseudo locale's ``.po`` made from the template (``ari_app.i18n.pseudo``);
- ``compile``: ``pseudo``, then every ``.po`` into its ``.mo`` (the install step: ``.mo`` files
  are never committed).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

from ari_app.i18n.catalogs import DOMAIN, LOCALE_DIR
from ari_app.i18n.locales import PSEUDO, locale_problem
from ari_app.i18n.pseudo import pseudo_catalog

MAPPING = Path(__file__).resolve().parent / "babel.cfg"
SOURCE_ROOT = LOCALE_DIR.parent.parent  # the folder holding ari_app/
KEYWORDS = ["t", "tn:1,2"]
USAGE = "usage: python -m ari_app.i18n extract [--output FILE] | init LOCALE | update | compile | pseudo"


def template_path(directory: Path = LOCALE_DIR) -> Path:
    return directory / f"{DOMAIN}.pot"


def extract_args(output: Path) -> list[str]:
    """``pybabel extract``'s arguments. Locations name files without line numbers, so the
    template changes only when the messages do."""
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    return [
        "extract",
        "-F",
        str(MAPPING),
        *keywords,
        "--add-location=file",
        "--sort-output",
        "--omit-header",
        "--project=ari-app",
        "-o",
        str(output),
        ".",  # the folder holding ari_app/ (the current one): the mapping's patterns start there
    ]


def pybabel(args: list[str]) -> None:
    CommandLineInterface().run(["pybabel", "--quiet", *args])


def write_pseudo(directory: Path = LOCALE_DIR) -> Path:
    with template_path(directory).open("rb") as fp:
        template = read_po(fp)
    target = directory / PSEUDO / "LC_MESSAGES" / f"{DOMAIN}.po"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fp:
        write_po(fp, pseudo_catalog(template), omit_header=False)
    return target


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    pot, folder = str(template_path()), str(LOCALE_DIR)
    if command == "extract" and (not rest or (len(rest) == 2 and rest[0] == "--output")):
        output = Path(rest[1]).resolve() if rest else template_path()
        with contextlib.chdir(SOURCE_ROOT):  # locations relative to it: ari_app/auth/...
            pybabel(extract_args(output))
    elif command == "init" and len(rest) == 1:
        problem = locale_problem(rest[0])
        if problem is not None or rest[0] == PSEUDO:
            print(problem or f"{PSEUDO} is made by `pseudo`, not translated", file=sys.stderr)
            return 2
        pybabel(["init", "-i", pot, "-d", folder, "-D", DOMAIN, "-l", rest[0]])
    elif command == "update" and not rest:
        pybabel(["update", "-i", pot, "-d", folder, "-D", DOMAIN, "--previous", "--ignore-pot-creation-date"])
    elif command == "pseudo" and not rest:
        write_pseudo()
    elif command == "compile" and not rest:
        write_pseudo()
        pybabel(["compile", "-d", folder, "-D", DOMAIN])
    else:
        print(USAGE, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

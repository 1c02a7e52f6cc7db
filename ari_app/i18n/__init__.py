"""Translations and the locale's formats for every page a person reads.

- ``locales``: which locales and currencies exist (Babel's CLDR data), BCP 47 tags;
- ``catalogs``: the compiled gettext catalogs (``ari_app/locale/<locale>/LC_MESSAGES/messages.mo``);
- ``pseudo``: the pseudo locale, whose every translation is visibly marked (tests find what is not);
- ``pages``: ``Pages.render``, the Jinja2 pages with the page data their scripts read;
- ``formats``: dates, times, numbers and money a template writes, as ``i18n.js``'s ``fmt``;
- ``assets``: ``GET /assets/{area}/{name}``, the pages' scripts, styles and pictures;
- ``python -m ari_app.i18n extract|update|compile|pseudo``: the catalogs' upkeep.
"""

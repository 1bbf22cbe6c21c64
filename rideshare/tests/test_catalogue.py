"""The French catalogue in the repository: every message marked in the code is translated, and the
committed .mo (what Django reads; a fresh clone compiles nothing) says what the .po says.
After changing a marked message: `make messages`, translate, `make messages` (README Development)."""

import ast
from pathlib import Path

import polib
from django.conf import settings
from django.utils import translation

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES"
# The directories `make messages` leaves out.
NOT_SCANNED = {".venv", "bench", "tests", "migrations", "test-artifacts", "staticfiles", "node_modules", ".git"}
MARKERS = {"gettext", "gettext_lazy", "_", "gettext_noop"}
CONTEXT_MARKERS = {"pgettext", "pgettext_lazy"}


def translations(catalogue):
    """{(context, msgid): msgstr} of the entries that count (translated, not obsolete or fuzzy)."""
    return {
        (entry.msgctxt, entry.msgid): entry.msgstr
        for entry in catalogue
        if entry.msgid and entry.msgstr and not entry.obsolete and "fuzzy" not in entry.flags
    }


def marked_messages():
    """(context, msgid, where) of every literal message passed to a gettext function in the code."""
    found = []
    for path in Path(settings.BASE_DIR).rglob("*.py"):
        relative = path.relative_to(settings.BASE_DIR)
        if NOT_SCANNED & set(relative.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(relative))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            literals = [arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
                        for arg in node.args]
            if name in MARKERS and literals and literals[0] is not None:
                found.append((None, literals[0], f"{relative}:{node.lineno}"))
            elif name in CONTEXT_MARKERS and len(literals) >= 2 and None not in literals[:2]:
                found.append((literals[0], literals[1], f"{relative}:{node.lineno}"))
    return found


def test_every_entry_of_the_po_is_translated():
    po = polib.pofile(str(CATALOGUE / "django.po"))
    assert po.metadata["Language"] == "fr"
    assert not po.untranslated_entries(), [entry.msgid for entry in po.untranslated_entries()]
    assert not po.fuzzy_entries(), [entry.msgid for entry in po.fuzzy_entries()]


def test_the_committed_mo_says_what_the_po_says():
    po = translations(polib.pofile(str(CATALOGUE / "django.po")))
    mo = translations(polib.mofile(str(CATALOGUE / "django.mo")))
    assert po, "an empty catalogue"
    stale = {key: (mo.get(key), text) for key, text in po.items() if mo.get(key) != text}
    assert not stale, f"django.mo is out of date: run `make messages` ({len(stale)} differ: {stale})"
    assert not set(mo) - set(po), f"django.mo has entries the .po no longer has: {set(mo) - set(po)}"


def test_every_message_marked_in_the_code_is_in_the_catalogue():
    po = translations(polib.pofile(str(CATALOGUE / "django.po")))
    marked = marked_messages()
    assert len(marked) > 40, "the scan finds the project's messages"
    # Django's and DRF's own catalogues translate the messages worded as theirs.
    missing = [
        where for context, msgid, where in marked
        if (context, msgid) not in po and not _translated_elsewhere(context, msgid)
    ]
    assert not missing, f"not in locale/fr (run `make messages` and translate): {missing}"


def _translated_elsewhere(context, msgid):
    with translation.override("fr"):
        text = translation.pgettext(context, msgid) if context else translation.gettext(msgid)
    return text != msgid


def test_django_reads_the_catalogue():
    with translation.override("fr"):
        assert translation.gettext("You already rated this ride.") == "Vous avez déjà noté cette course."
        assert translation.pgettext("ride status", "driver_arrived") == "chauffeur arrivé"
    with translation.override("en"):
        assert translation.gettext("You already rated this ride.") == "You already rated this ride."

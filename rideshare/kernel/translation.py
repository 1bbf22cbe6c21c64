"""Error messages in the user's language (English or French, `LANGUAGES`), chosen per request or
per socket; codes never change.

Messages are marked where they are written, lazily (`gettext_lazy`, or `lazy_format` when they
carry values), and become text where a channel renders an error: the REST exception handler
under the request's language (LocaleMiddleware, from Accept-Language) and the socket's
`send_error` under the connection's (`?lang=`, else the handshake's Accept-Language). The
catalogue is `locale/fr/LC_MESSAGES/django.po`, compiled to the `.mo` committed beside it.
"""

from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header


def _format(message, params):
    # `message` and the values are read now, in the language active where the text is needed.
    return str(message) % params


_lazy_format = lazy(_format, str)


def lazy_format(message, **params):
    """`message % params` as a lazy string: `lazy_format(_("At most %(limit)s bytes."), limit=5)`.
    (A lazy string's own `%` translates at once, in whatever language is active where it is raised.)"""
    return _lazy_format(message, params)


def language_for(requested=None, accept_language=None):
    """The language to answer in: `requested` (`fr`, `en`, `fr-CM`...) if it is one of LANGUAGES,
    English if it is not; without one, the first supported language of an Accept-Language header;
    else LANGUAGE_CODE."""
    if requested:
        return _supported(requested) or settings.LANGUAGE_CODE
    for code, _quality in parse_accept_lang_header(accept_language or ""):
        if code == "*":
            break
        supported = _supported(code)
        if supported:
            return supported
    return settings.LANGUAGE_CODE


def _supported(code):
    try:
        return get_supported_language_variant(code)
    except LookupError:
        return None

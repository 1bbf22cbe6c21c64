"""The project's JSON parser: every malformed body is a 400 `parse_error`, never a 500.

DRF's `JSONParser` turns only `ValueError` into a `ParseError`. This one also refuses:
- nesting deeper than `bounds.JSON_MAX_DEPTH` (`[[[[...]]]]` a thousand deep made Python's
  decoder raise `RecursionError`, and shallower but still deep values blow up later, in the
  messages that echo them);
- strings holding a lone UTF-16 surrogate (`"\\ud800"`): valid JSON escapes but not text, so
  they can neither be stored nor echoed in a UTF-8 response;
- bodies over `DATA_UPLOAD_MAX_MEMORY_SIZE` (Django checks it for `request.body` and forms, not
  for the stream DRF parses): `RequestDataTooBig`, a 413 in the error handler.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from . import bounds
from .translation import lazy_format

TOO_DEEP = lazy_format(_("JSON parse error - nested deeper than %(levels)s levels."), levels=bounds.JSON_MAX_DEPTH)
LONE_SURROGATE = _("JSON parse error - a string holds a lone UTF-16 surrogate (not text).")
MALFORMED = _("JSON parse error - %(error)s")


def check_structure(value, max_depth=bounds.JSON_MAX_DEPTH):
    """Raise `ParseError` if `value` (parsed JSON) nests deeper than `max_depth` or holds a
    string (value or key) that is not encodable text. Iterative: no recursion of its own."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, (dict, list)):
            if depth > max_depth:
                raise ParseError(TOO_DEEP)
            if isinstance(node, dict):
                for key, item in node.items():
                    _check_text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in node)


def _check_text(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(LONE_SURROGATE) from None


def read_limited(stream, parser_context):
    """The body, refusing more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes (None: no limit)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return stream.read()
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", {})
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        declared = 0
    if declared > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return body


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        body = read_limited(stream, parser_context)
        parse_constant = json.strict_constant if self.strict else None
        try:
            data = json.loads(body.decode(encoding), parse_constant=parse_constant)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            raise ParseError(lazy_format(MALFORMED, error=exc)) from None
        check_structure(data)
        return data

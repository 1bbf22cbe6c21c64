"""The project's JSON renderer: a response is always encodable.

A string that is not text (a lone UTF-16 surrogate) cannot be written as UTF-8; the parser
refuses such input, and should one reach a response anyway (echoed from somewhere else) the
response is written with ASCII escapes instead of failing with a 500.
"""

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _AsciiJSONRenderer().render(data, accepted_media_type, renderer_context)


class _AsciiJSONRenderer(renderers.JSONRenderer):
    ensure_ascii = True

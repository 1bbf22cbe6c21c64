"""A DRF view served on the event loop, for the API's hottest endpoint (a driver's position).

DRF's `APIView.dispatch` is sync: under ASGI, Django runs it in a thread, a hop there and back per
request on top of the view's work. Here `dispatch` is a coroutine and everything DRF does around a
handler runs on the loop: parsing, content negotiation, permissions, the exception handler (one
`{detail, code}` shape), rendering. What does I/O is awaited: authentication through each
authentication class's `authenticate_async` (rideshare.accounts.authentication), and the handler
itself, which reaches the ORM through `rideshare.kernel.db.request_call`.

Throttles would run on the loop too, with the cache's blocking client: a view of this kind has
none (checked when its class is made). The response is rendered here, on the loop: Django's
handler would otherwise render it in a thread (a hop there and back for every request).
"""

from rest_framework import exceptions
from rest_framework.views import APIView


class AsyncAPIView(APIView):
    throttle_classes = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.throttle_classes:
            raise TypeError(f"{cls.__name__}: an AsyncAPIView runs no throttle (they would block the loop)")

    async def dispatch(self, request, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            await self._authenticate(request)
            self.initial(request, *args, **kwargs)  # negotiation, versioning, permissions: no I/O
            method = request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                response = self.http_method_not_allowed(request, *args, **kwargs)
            else:
                response = await handler(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - DRF's handler answers API errors and re-raises the rest
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return _rendered(self.response)

    async def _authenticate(self, request):
        """DRF's Request._authenticate, awaiting each authenticator; `request.user` is then set,
        so `initial` asks nothing more."""
        for authenticator in request.authenticators:
            try:
                user_auth = await authenticator.authenticate_async(request)
            except exceptions.APIException:
                request._not_authenticated()
                raise
            if user_auth is not None:
                request._authenticator = authenticator
                request.user, request.auth = user_auth
                return
        request._not_authenticated()


def _rendered(response):
    response.render()
    # Rendered: Django's handler renders only a response with a callable `render`.
    response.render = None
    return response

"""A clock tests set by hand, for code that takes a `clock` callable (realtime.connections.limits,
realtime.delivery.layers): time passes only when the test says so, however slow the machine is."""


class FakeClock:
    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds

import math

from rest_framework import serializers


class FiniteFloatField(serializers.FloatField):
    """A JSON number that is finite; booleans and numeric strings like "nan" are refused."""

    default_error_messages = {
        "invalid": "A finite number is required.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


def latitude_field(**kwargs):
    return FiniteFloatField(min_value=-90, max_value=90, **kwargs)


def longitude_field(**kwargs):
    return FiniteFloatField(min_value=-180, max_value=180, **kwargs)

import math

from rest_framework import serializers

from . import bounds


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
    return FiniteFloatField(min_value=bounds.LATITUDE_MIN, max_value=bounds.LATITUDE_MAX, **kwargs)


def longitude_field(**kwargs):
    return FiniteFloatField(min_value=bounds.LONGITUDE_MIN, max_value=bounds.LONGITUDE_MAX, **kwargs)

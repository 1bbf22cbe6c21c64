"""The one reader of the environment: environs, with the project's own value types.

environs' own: `env.str`, `env.int`, `env.float`, `env.bool` (true/false, 1/0, yes/no, on/off).
A variable that is set must be a valid value of its type: an empty PUSH_TIMEOUT_SECONDS is an
error at start-up, not the default (unset a variable to take its default). The project's:
- `env.csv`: a comma-separated list, items stripped, empty items dropped ("" is the empty list);
- `env.rate`: a DRF throttle rate like "10/min", or "off" / "none" for no throttle;
- `env.boxes`: boxes "min_lat,min_lon,max_lat,max_lon", several separated by ";".
Defaults pass through the same parsers (environs parses them too). A value that is not valid
stops the start-up with environs.EnvError naming the variable.
"""

from environs import Env
from marshmallow import ValidationError

env = Env()


@env.parser_for("csv")
def csv(value):
    if not isinstance(value, str):
        return list(value)
    return [item.strip() for item in value.split(",") if item.strip()]


@env.parser_for("rate")
def rate(value):
    value = (value or "").strip()
    if not value:
        raise ValidationError("a throttle rate is like 10/min, or off")
    return None if value.lower() in {"off", "none"} else value


@env.parser_for("boxes")
def boxes(value):
    if not isinstance(value, str):  # the default: one box
        return [tuple(value)]
    found = []
    for part in value.split(";"):
        if not part.strip():
            continue
        try:
            numbers = [float(item) for item in part.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) != 4 or numbers[0] > numbers[2] or numbers[1] > numbers[3]:
            raise ValidationError(f"each box is min_lat,min_lon,max_lat,max_lon, got {part!r}")
        found.append(tuple(numbers))
    if not found:
        raise ValidationError("at least one box min_lat,min_lon,max_lat,max_lon")
    return found

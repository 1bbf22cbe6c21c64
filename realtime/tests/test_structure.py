"""Rules of the layout that a refactor could quietly break."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER_SEND_METHODS = {"send", "group_send", "send_group", "group_send_lazy"}


def _production_modules(package):
    return [p for p in (ROOT / package).rglob("*.py") if "tests" not in p.parts and "migrations" not in p.parts]


def _is_a_layer(node):
    """`get_channel_layer()`, `<anything>.channel_layer`, or a name such as `layer`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "get_channel_layer"
    if isinstance(node, ast.Attribute):
        return node.attr == "channel_layer"
    return isinstance(node, ast.Name) and "layer" in node.id


def _calls_the_channel_layer(path):
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LAYER_SEND_METHODS
        and _is_a_layer(node.func.value)
        for node in ast.walk(ast.parse(path.read_text()))
    )


def test_exactly_one_realtime_module_sends_on_the_channel_layer():
    senders = {p.name for p in _production_modules("realtime") if _calls_the_channel_layer(p)}
    # layers.py is the in-process channel layer itself; server.py and consumers.py send on sockets.
    assert senders - {"layers.py"} == {"dispatch.py"}


def test_models_have_no_hand_written_change_tracking():
    for path in (ROOT / "rides" / "models.py", ROOT / "drivers" / "models.py"):
        tree = ast.parse(path.read_text())
        methods = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert not methods & {"from_db", "save", "changed", "previous_status"}, path
    # A ride's status changes in one method, which says what it changed; a driver's saves are tracked.
    assert "ride_transitioned.send(" in (ROOT / "rides" / "models.py").read_text()
    assert "FieldTracker" not in (ROOT / "rides" / "models.py").read_text()
    assert "FieldTracker" in (ROOT / "drivers" / "models.py").read_text()


def test_every_ride_status_change_goes_through_ride_transition():
    """Outside rides/models.py no production code assigns a ride's `status` or updates it in bulk."""
    offenders = []
    for package in ("rides", "drivers", "realtime", "rideshare"):
        for path in _production_modules(package):
            if path == ROOT / "rides" / "models.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                if any(isinstance(t, ast.Attribute) and t.attr == "status" and _names_a_ride(t.value)
                       for t in targets):
                    offenders.append(f"{path}:{node.lineno}")
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "update" and any(k.arg == "status" for k in node.keywords)
                        and "Ride.objects" in ast.unparse(node.func.value)):
                    offenders.append(f"{path}:{node.lineno}")
    assert not offenders


def _names_a_ride(node):
    return isinstance(node, ast.Name) and "ride" in node.id.lower()


def test_the_domain_never_imports_realtime():
    for package in ("rides", "drivers", "rideshare/kernel", "rideshare/accounts"):
        for path in _production_modules(package):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    assert not node.module.startswith("realtime"), f"{path} imports {node.module}"
                if isinstance(node, ast.Import):
                    assert not any(a.name.startswith("realtime") for a in node.names), path

"""The probe's modules stand in layers, and an import only ever goes down (issue 20, item 11).

From the bottom: the shared vocabulary (the report model, the check ids, ARNs, the SDK model, the
redactor, the commands' output), then the facts (all the I/O), the prediction of what each SDK
gets, the checks (pure judgements), the renderers, and the commands on top. Read from the
source with ast, lazy imports inside functions included (they are imports all the same); only a
module's own `if __name__ == "__main__":` block is left out, since it runs only as a script.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "probe"

BASE, FACTS, PREDICT, CHECKS, RENDER, COMMANDS = range(6)
NAMES = ("base", "facts", "predict", "checks", "render", "commands")

# Every module has a layer: a new one fails test_every_module_has_a_layer until it is placed.
LAYER = {
    "probe": BASE,
    "probe.model": BASE,
    "probe.ids": BASE,
    "probe.arns": BASE,
    "probe.sdkmodel": BASE,
    "probe.chain": BASE,
    "probe.redact": BASE,
    "probe.output": BASE,
    "probe.causes": BASE,
    "probe.facts": FACTS,
    "probe.predict": PREDICT,
    "probe.checks": CHECKS,
    "probe.explain": CHECKS,
    "probe.render": RENDER,
    "probe.metrics": RENDER,
    "probe.runner": COMMANDS,
    "probe.emulator": COMMANDS,  # `python -m probe.emulator`, a server: it serves by the facts' own rules
    "probe.sidecar": COMMANDS,
    "probe.audit": COMMANDS,
    "probe.demo": COMMANDS,
    "probe.explain_command": COMMANDS,
    "probe.cli": COMMANDS,
    "probe.__main__": COMMANDS,
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def layer_of(module: str) -> int:
    """The layer of a module: its own entry, else its package's (probe.facts.http is facts)."""
    name = module
    while name not in LAYER:
        if "." not in name:
            raise KeyError(module)
        name = name.rsplit(".", 1)[0]
    return LAYER[name]


def _is_main_block(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in ast.iter_child_nodes(node) if not _is_main_block(child))


def imports(path: Path, known: set[str]) -> set[str]:
    """The probe modules a file imports. `from probe.checks import remedies` imports the module
    probe.checks.remedies, not the names of probe.checks' __init__."""
    out: set[str] = set()
    for node in _nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "probe":
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            out.update(subs)
            if len(subs) < len(node.names) and node.module in known:
                out.add(node.module)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(path, known) - {name} for name, path in mods.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_the_imports_it_must() -> None:
    """The reader itself: known edges of today's code, lazy ones included."""
    edges = graph()
    assert "probe.facts" in edges["probe.checks"]
    assert "probe.checks.remedies" in edges["probe.render.text"]
    assert "probe.explain" in edges["probe.checks.audit"]  # a lazy import, inside a function
    assert "probe.explain_command" not in edges["probe.explain"]  # only its __main__ block


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for name in modules():
        try:
            layer_of(name)
        except KeyError:
            unplaced.append(name)
    assert not unplaced, f"place these modules in LAYER: {unplaced}"


def test_no_import_circles() -> None:
    """No module reaches itself through imports, lazy ones included: a lazy import that closes
    a circle only hides it (import order then decides what works)."""
    assert circles(graph()) == []


def test_only_the_entry_point_imports_the_command_line() -> None:
    """cli is the top: demo, audit and the rest share probe.output instead of importing it."""
    importers = sorted(m for m, targets in graph().items() if "probe.cli" in targets)
    assert importers == ["probe.__main__"]


@pytest.mark.parametrize("layer", [BASE, FACTS, PREDICT, CHECKS, RENDER])
def test_imports_only_go_down(layer: int) -> None:
    """A module imports its own layer or those below it: facts and the prediction never reach
    the checks or a renderer, the checks never a renderer or a command."""
    wrong = [
        f"{m} ({NAMES[layer_of(m)]}) imports {t} ({NAMES[layer_of(t)]})"
        for m, targets in sorted(graph().items())
        if layer_of(m) == layer
        for t in sorted(targets)
        if layer_of(t) > layer
    ]
    assert wrong == []

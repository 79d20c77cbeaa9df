"""Print the package's internal import graph and its circles (static, with ``ast``).

Usage: python scripts/import_graph.py [SRC_ROOT]     (default: src/)

Every ``import``/``from … import`` of a ``sam2matting`` module counts, lazy (function-level) ones
included, since a lazy import is still a dependency. Prints the edges between the layers
(top-level modules and subpackages), the module-level edges between ``trackers`` and
``matting``, and every module cycle (strongly connected component with more than one module).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(root: Path, path: Path) -> set[str]:
    mod = module_name(root, path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("sam2matting"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("sam2matting"):
                continue
            out.add(target)
            for a in node.names:  # `from . import weights` names a module
                out.add(f"{target}.{a.name}")
    return out


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    files = sorted((root / "sam2matting").rglob("*.py"))
    modules = {module_name(root, f): f for f in files}
    graph: dict[str, set[str]] = {}
    for name, f in modules.items():
        graph[name] = {t for t in imports_of(root, f) if t in modules and t != name}

    def layer(m: str) -> str:
        parts = m.split(".")
        return ".".join(parts[:2])

    layers: dict[str, set[str]] = {}
    for a, targets in graph.items():
        for b in targets:
            la, lb = layer(a), layer(b)
            if la != lb and lb != "sam2matting":
                layers.setdefault(la, set()).add(lb)
    print("layer edges:")
    for a in sorted(layers):
        print(f"  {a} -> {', '.join(sorted(layers[a]))}")
    print("trackers <-> matting module edges:")
    n = 0
    for a in sorted(graph):
        for b in sorted(graph[a]):
            if {layer(a), layer(b)} == {"sam2matting.trackers", "sam2matting.matting"}:
                print(f"  {a} -> {b}")
                n += 1
    if not n:
        print("  (none)")

    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    sccs: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    print("module cycles:")
    for comp in sccs:
        print("  " + " <-> ".join(comp))
    if not sccs:
        print("  (none)")


if __name__ == "__main__":
    main()

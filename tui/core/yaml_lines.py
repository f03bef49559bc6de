"""Line numbers of keys in a YAML document, so errors can say "file:line: key".

`yaml.safe_load` forgets positions; `yaml.compose` keeps them on nodes. We walk the node tree
once and map each key path (tuple of keys) to its 1-based line.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """{("fsdp_config", "fsdp_version"): 7, ...}; empty if the text does not compose."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    return node_lines(root)


def node_lines(root: yaml.Node | None) -> dict[tuple[str, ...], int]:
    """Key path -> 1-based line, from an already composed document. A key written twice points
    at its last occurrence, the one whose value a YAML loader keeps."""
    lines: dict[tuple[str, ...], int] = {}

    def visit(node: yaml.Node | None, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                lines[(*path, key)] = key_node.start_mark.line + 1
                visit(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, str(index))] = item.start_mark.line + 1
                visit(item, (*path, str(index)))

    visit(root, ())
    return lines


def line_of(lines: Mapping[tuple[str, ...], int], *path: str) -> int | None:
    """The line of the deepest key of `path` the file has (dotted keys tried both ways)."""
    parts = tuple(path)
    while parts:
        if parts in lines:
            return lines[parts]
        # overrides may be written dotted ("fsdp_config.x") or nested; try the dotted tail.
        for cut in range(1, len(parts)):
            joined = (*parts[:cut], ".".join(parts[cut:]))
            if joined in lines:
                return lines[joined]
        parts = parts[:-1]
    return None

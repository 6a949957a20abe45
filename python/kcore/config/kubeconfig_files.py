"""Finding, reading and merging kubeconfig files by clientcmd's loading rules.

Files come from an explicit path (which must exist), else KUBECONFIG (a path list; empty entries
ignored, duplicates dropped, missing files skipped), else ~/.kube/config. Merging: the first file
to define a cluster, user or context name wins the whole entry; current-context comes from the
first file that sets it. Each entry remembers the file it came from, so relative paths resolve
against that file's directory and errors name it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import yaml

from kcore.errors import ConfigError

PathLike = Union[str, "os.PathLike[str]"]
# PyYAML's libyaml binding parses several times faster; the pure-Python loader is the fallback.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Kubeconfig list name -> the key holding each entry's body.
SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}


@dataclass(frozen=True)
class Entry:
    """One named cluster, user or context, with the file that defined it."""

    name: str
    body: dict[str, Any]
    origin: str


@dataclass
class MergedKubeconfig:
    files: list[str]
    clusters: dict[str, Entry] = field(default_factory=dict)
    users: dict[str, Entry] = field(default_factory=dict)
    contexts: dict[str, Entry] = field(default_factory=dict)
    current_context: Optional[str] = None
    current_context_origin: Optional[str] = None

    @property
    def description(self) -> str:
        """How to name the merged set in a message: the file, or all of them."""
        return self.files[0] if len(self.files) == 1 else "kubeconfig files " + os.pathsep.join(self.files)


def home_kubeconfig() -> str:
    return os.path.join(os.path.expanduser("~"), ".kube", "config")


def kubeconfig_paths(path: Union[PathLike, Sequence[PathLike], None] = None) -> list[str]:
    """The files to merge, in precedence order (missing ones included; loading skips them)."""
    if path is not None:
        explicit = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        return [os.fspath(p) for p in explicit]
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return list(dict.fromkeys(listed)) or [home_kubeconfig()]


def load_merged(path: Union[PathLike, Sequence[PathLike], None] = None) -> MergedKubeconfig:
    """Read and merge the kubeconfig files; ConfigError if none exists or one is malformed."""
    paths = kubeconfig_paths(path)
    if path is not None:
        for p in paths:
            if not os.path.exists(p):
                raise ConfigError("kubeconfig file does not exist", source=p)
    present = [p for p in paths if os.path.exists(p)]
    if not present:
        where = "KUBECONFIG" if os.environ.get("KUBECONFIG", "").strip(os.pathsep) else "the default location"
        raise ConfigError(f"no kubeconfig file found (looked at {where}: {os.pathsep.join(paths)})")
    merged = MergedKubeconfig(files=present)
    for p in present:
        _merge_file(merged, p, _read(p))
    return merged


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            document = yaml.load(f, Loader=_Loader)
    except OSError as e:
        raise ConfigError(f"cannot read the kubeconfig file: {e.strerror or e}", source=path) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"is not valid YAML: {e}", source=path) from None
    if document is None:  # an empty file is an empty config, as in clientcmd
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"is not a kubeconfig: the top level is a {type_name(document)}, not a mapping", source=path)
    return document


def _merge_file(merged: MergedKubeconfig, path: str, document: dict[str, Any]) -> None:
    for section, body_key in SECTIONS.items():
        items = document.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            raise ConfigError(f"{section} must be a list, found a {type_name(items)}", source=path)
        seen: dict[str, Entry] = {}
        for index, item in enumerate(items):
            where = f"{section}[{index}]"
            if not isinstance(item, dict):
                raise ConfigError(f"{where} must be a mapping, found a {type_name(item)}", source=path)
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where} has no name", source=path)
            body = item.get(body_key)
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise ConfigError(
                    f"{where} ({name!r}): {body_key} must be a mapping, found a {type_name(body)}", source=path
                )
            seen[name] = Entry(name, body, path)  # within one file the last wins, as in clientcmd
        target: dict[str, Entry] = getattr(merged, section)
        for name, entry in seen.items():
            target.setdefault(name, entry)
    current = document.get("current-context")
    if current is not None and not isinstance(current, str):
        raise ConfigError(f"current-context must be a string, found a {type_name(current)}", source=path)
    if current and merged.current_context is None:
        merged.current_context, merged.current_context_origin = current, path


def type_name(value: Any) -> str:
    """What kind of YAML value this is, in words for an error message."""
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )

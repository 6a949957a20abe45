"""A griffe extension for the API reference: the compiled ``kcore._core`` seen through the
public modules that export it.

griffe reads kcore from its source, and ``kcore._core`` from its stub ``_core.pyi``, which
carries the types but no docstrings: those are written in Rust and live only in the compiled
module. After loading:

- each stub object without a docstring takes the one the imported object has, so
  ``kcore.codec.decode`` and the rest of the public API built in Rust are documented where they
  are exported;
- a public name bound as ``Name = _core.Name`` becomes an alias of that object, documented as
  the class or function it is rather than as an attribute whose value names the private module;
- other attribute values that mention ``_core`` (an instance attribute's initializer) are not
  shown;
- a class built on a ``_core`` class (``kcore.workqueue.Queue`` on ``_core.Queue``) lists what
  it inherits from there as its own members, and its bases name only public classes.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import griffe


class CompiledDocstrings(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "kcore":
            return
        core = pkg["_core"]
        _fill_docstrings(core, importlib.import_module("kcore._core"))
        for name, module in pkg.modules.items():
            if name != "_core":
                _hide_core(module, core)
        _flatten_core_bases(_classes(pkg))


def _fill_docstrings(obj: griffe.Object, runtime: Any) -> None:
    for name, member in obj.members.items():
        if member.is_alias or not hasattr(runtime, name):
            continue
        value = getattr(runtime, name)
        if not member.docstring:
            doc = inspect.getdoc(value)
            if doc and (not member.is_class or doc != inspect.getdoc(object)):
                member.docstring = griffe.Docstring(doc, parent=member)
        if member.is_class:
            _fill_docstrings(member, value)


def _hide_core(obj: griffe.Object, core: griffe.Module) -> None:
    for name, member in list(obj.members.items()):
        if member.is_alias:
            continue
        if member.is_attribute and member.value is not None and "_core" in str(member.value):
            target = str(member.value).removeprefix("_core.")
            if obj.is_module and target in core.members and not member.docstring:
                obj.set_member(name, griffe.Alias(name, core[target], parent=obj))
            else:
                member.value = None
        elif member.is_module or member.is_class:
            _hide_core(member, core)


def _classes(obj: griffe.Object) -> list[griffe.Class]:
    found = []
    for member in obj.members.values():
        if not member.is_alias and (member.is_module or member.is_class):
            if member.is_class:
                found.append(member)
            found.extend(_classes(member))
    return found


def _is_core(obj: griffe.Object) -> bool:
    return obj.path.startswith("kcore._core.")


def _flatten_core_bases(classes: list[griffe.Class]) -> None:
    # Gather first, change after: dropping one class's bases would hide them from its subclasses.
    inherited = {cls.path: {name: alias.final_target for name, alias in cls.inherited_members.items()
                            if _is_core(alias.final_target.parent)} for cls in classes}
    public_bases = {cls.path: [base for base, resolved in zip(cls.bases, cls.resolved_bases) if not _is_core(resolved)]
                    for cls in classes}
    for cls in classes:
        for name, target in inherited[cls.path].items():
            cls.set_member(name, griffe.Alias(name, target, parent=cls))
        cls.bases = public_bases[cls.path]

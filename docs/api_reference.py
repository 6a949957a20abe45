"""A griffe extension for the API reference: how kcore's modules are read into it.

Mostly the compiled ``kcore._core``, seen through the public modules that export it.
griffe reads kcore from its source; for ``kcore._core`` it finds both the compiled module and
its stub ``_core.pyi`` and merges what it inspects of the one (untyped signatures such as
``(**kwargs)``) with the other. The stub alone has the signatures, with their types, but no
docstrings: those are written in Rust and live only in the compiled module. After loading:

- ``kcore._core`` is read from the stub alone;

- each stub object without a docstring takes the one the imported object has, so
  ``kcore.codec.decode`` and the rest of the public API built in Rust are documented where they
  are exported;
- a public name bound as ``Name = _core.Name`` becomes an alias of that object, documented as
  the class or function it is rather than as an attribute whose value names the private module;
- other attribute values that mention ``_core`` (an instance attribute's initializer) are not
  shown;
- a class built on a ``_core`` class (``kcore.workqueue.Queue`` on ``_core.Queue``) lists what
  it inherits from there as its own members, and its bases name only public classes;
- a class constructed by ``__new__`` (every pyo3 class, and kcore's subclasses of them) shows
  that signature as its constructor's, as a class with ``__init__`` does.

A package that imports a function from its submodule of the same name
(``kcore.config.load_config``) exports the function, as it does at run time, not the submodule
griffe would otherwise put in its place.

And for every docstring: a list written right under its paragraph, as kcore's docstrings do
(``Guarantees:`` then ``- ...`` lines), gets the blank line Markdown needs to see a list; a
Sphinx role (``:meth:`get```) becomes the code span it means; an instance attribute is shown
without the expression ``__init__`` assigns it (``name = name``).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any, Callable, Optional

import griffe


class ApiReference(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "kcore":
            return
        stub = Path(pkg.filepath).with_name("_core.pyi")  # type: ignore[arg-type]
        core = griffe.visit(
            "_core",
            filepath=stub,
            code=stub.read_text(),
            parent=pkg,
            docstring_parser=loader.docstring_parser,
            docstring_options=loader.docstring_options,
            lines_collection=loader.lines_collection,
            modules_collection=loader.modules_collection,
        )
        pkg.del_member("_core")  # set_member alone would merge the stub into the inspected module again
        pkg.set_member("_core", core)
        _retarget(pkg, lambda path: core[path[len("kcore._core.") :]] if path.startswith("kcore._core.") else None)
        unshadowed = _unshadow(pkg)
        _retarget(pkg, unshadowed.get)
        _fill_docstrings(core, importlib.import_module("kcore._core"))
        for name, module in pkg.modules.items():
            if name != "_core":
                _hide_core(module, core)
        classes = _classes(pkg)
        _flatten_core_bases(classes)
        for cls in classes:
            _constructor_from_new(cls)
        _tidy(pkg)


def _retarget(obj: griffe.Object, new_target: Callable[[str], Optional[griffe.Object]]) -> None:
    # Aliases resolved while griffe expanded __all__ still point to what was just replaced.
    for member in obj.members.values():
        if member.is_alias:
            target = new_target(member.target_path)
            if target is not None:
                member.target = target
        elif member.is_module or member.is_class:
            _retarget(member, new_target)


def _unshadow(pkg: griffe.Module) -> dict[str, griffe.Object]:
    replaced = {}
    for module in [pkg, *_modules(pkg)]:
        for name, member in list(module.members.items()):
            if not member.is_alias and member.is_module and module.imports.get(name) == f"{member.path}.{name}":
                target = member[name]
                module.del_member(name)
                module.set_member(name, griffe.Alias(name, target, parent=module))
                replaced[member.path] = target
    return replaced


def _modules(obj: griffe.Module) -> list[griffe.Module]:
    found = []
    for member in obj.members.values():
        if not member.is_alias and member.is_module:
            found.append(member)
            found.extend(_modules(member))
    return found


def _fill_docstrings(obj: griffe.Object, runtime: Any) -> None:
    for name, member in obj.members.items():
        if member.is_alias or name.startswith("__") or not hasattr(runtime, name):
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
    inherited = {
        cls.path: {
            name: alias.final_target
            for name, alias in cls.inherited_members.items()
            if _is_core(alias.final_target.parent)
        }
        for cls in classes
    }
    public_bases = {
        cls.path: [
            base for base in cls.bases if not str(getattr(base, "canonical_path", base)).startswith("kcore._core.")
        ]
        for cls in classes
    }
    for cls in classes:
        for name, target in inherited[cls.path].items():
            cls.set_member(name, griffe.Alias(name, target, parent=cls))
        cls.bases = public_bases[cls.path]


def _constructor_from_new(cls: griffe.Class) -> None:
    new = cls.members.get("__new__")
    if new is None or "__init__" in cls.members or new.is_alias or not new.is_function:
        return
    parameters = list(new.parameters)[1:]  # without cls
    init = griffe.Function(
        "__init__",
        lineno=new.lineno,
        endlineno=new.endlineno,
        parameters=griffe.Parameters(griffe.Parameter("self"), *parameters),
        docstring=new.docstring,
    )
    cls.set_member("__init__", init)


_SPHINX_ROLE = re.compile(r":(?:class|meth|func|attr|exc|data|mod|obj):`~?([^`]+)`")


def _tidy(obj: griffe.Object) -> None:
    if obj.docstring:
        obj.docstring.value = _SPHINX_ROLE.sub(r"``\1``", _lists_apart(obj.docstring.value))
    for member in obj.members.values():
        if member.is_alias:
            continue
        if member.is_attribute and "instance-attribute" in member.labels:
            member.value = None
        _tidy(member)


def _lists_apart(text: str) -> str:
    lines = text.split("\n")
    out = lines[:1]
    for previous, line in zip(lines, lines[1:]):
        indent = len(line) - len(line.lstrip())
        if (
            line.lstrip().startswith("- ")
            and previous.strip()
            and not previous.lstrip().startswith("- ")
            and len(previous) - len(previous.lstrip()) == indent
        ):
            out.append("")
        out.append(line)
    return "\n".join(out)

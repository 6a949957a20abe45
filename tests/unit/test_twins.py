"""Every asyncio twin has the public surface of its blocking twin: the same members, and
methods taking the same parameters (names, kinds, defaults) -- only awaiting differs. The rule,
as the README's design notes put it: one sans-IO core, two thin drivers, one set of names."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import pytest

import kcore.clients
import kcore.controller
import kcore.informer
from kcore import aio
from kcore.clients.clientset import AsyncClientset, Clientset
from kcore.config import Config

PACKAGES = (kcore.clients, kcore.controller, kcore.informer)


def twins() -> dict[str, tuple[Any, Any]]:
    """(async, sync) by name: kcore.aio's names, and every Async* class the packages export."""
    found: dict[str, tuple[Any, Any]] = {}
    for name in aio.__all__:
        sync = next((getattr(p, name) for p in PACKAGES if hasattr(p, name)), None)
        found[name] = (getattr(aio, name), sync)
    for package in PACKAGES:
        for name in package.__all__:
            if name.startswith("Async"):
                found.setdefault(
                    name[len("Async") :], (getattr(package, name), getattr(package, name[len("Async") :], None))
                )
    return found


TWINS = twins()


def shape(fn: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_the_asyncio_twin_has_the_blocking_twins_members_and_parameters(name: str) -> None:
    async_twin, sync_twin = TWINS[name]
    assert sync_twin is not None, f"{name}: no blocking twin"
    if not inspect.isclass(async_twin):
        assert shape(async_twin) == shape(sync_twin)
        return
    assert public(async_twin) == public(sync_twin)
    assert shape(async_twin.__init__) == shape(sync_twin.__init__)
    for member in sorted(public(async_twin)):
        a = inspect.getattr_static(async_twin, member)
        if callable(a) and not inspect.isclass(a):
            assert shape(getattr(async_twin, member)) == shape(getattr(sync_twin, member)), f"{name}.{member}"


def test_every_name_in_kcore_aio_is_a_twin_of_the_same_name() -> None:
    assert {name for name in aio.__all__} <= set(TWINS)
    assert all(sync is not None for _, sync in TWINS.values())


def test_the_clientsets_reach_the_same_groups_and_resources() -> None:
    config = Config(server="https://127.0.0.1:1")
    sync, asynchronous = Clientset(config), AsyncClientset(config)
    groups = {g for g in vars(sync) if not g.startswith("_")}
    assert groups == {g for g in vars(asynchronous) if not g.startswith("_")} and "core_v1" in groups
    for group in groups:
        assert public(type(getattr(sync, group))) == public(type(getattr(asynchronous, group))), group

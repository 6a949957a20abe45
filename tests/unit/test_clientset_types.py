"""The generated TypedDicts are real, resolvable types: ``typing.get_type_hints`` works on every
one (string annotations, cross-module references, fields such as ``$ref`` or ``continue``)."""

from __future__ import annotations

import importlib
import pkgutil
import typing

import kcore.clients.types as types_package
from kcore.clients.types import apiextensions_v1, core_v1, meta_v1, networking_v1

MODULES = [
    importlib.import_module(f"{types_package.__name__}.{m.name}") for m in pkgutil.iter_modules(types_package.__path__)
]


def test_every_generated_typed_dict_resolves_its_annotations() -> None:
    typed_dicts = [
        obj
        for module in MODULES
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, dict) and obj.__module__ == module.__name__
    ]
    assert len(typed_dicts) > 600
    for typed_dict in typed_dicts:
        typing.get_type_hints(typed_dict)


def test_required_fields_are_required_and_the_rest_optional() -> None:
    assert core_v1.PodSpec.__required_keys__ == {"containers"}
    assert "nodeName" in core_v1.PodSpec.__optional_keys__
    assert meta_v1.ObjectMeta.__required_keys__ == frozenset()


def test_self_marshalling_types_become_what_they_marshal_to() -> None:
    hints = typing.get_type_hints(core_v1.ResourceRequirements)
    assert hints["limits"] == dict[str, typing.Union[str, int, float]]  # Quantity
    assert typing.get_type_hints(core_v1.ContainerPort)["containerPort"] is int
    assert typing.get_type_hints(core_v1.HTTPGetAction)["port"] == typing.Union[int, str]  # IntOrString
    assert typing.get_type_hints(meta_v1.ObjectMeta)["creationTimestamp"] is str  # Time
    assert typing.get_type_hints(meta_v1.ObjectMeta)["labels"] == dict[str, str]
    assert typing.get_type_hints(apiextensions_v1.JSONSchemaProps)["default"] is typing.Any  # JSON


def test_fields_that_are_not_identifiers_keep_their_json_names() -> None:
    assert "continue" in typing.get_type_hints(meta_v1.ListMeta)
    assert "$ref" in typing.get_type_hints(apiextensions_v1.JSONSchemaProps)
    assert "from" in typing.get_type_hints(networking_v1.NetworkPolicyIngressRule)

"""Label selectors for matching objects outside a lister query: the parser and matcher the
cache uses (k8s.io/apimachinery's labels package, in Rust), and the selector an API object's
``metav1.LabelSelector`` field means (a ReplicaSet's ``spec.selector``, say).

    selector = label_selector(replicaset["spec"]["selector"])
    selector is not None and selector.matches(pod["metadata"].get("labels"))
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

from kcore._core import LabelSelector, parse_label_selector

_KEY = re.compile(r"[-A-Za-z0-9_./]*")
_VALUE = re.compile(r"[-A-Za-z0-9_.]*")
"""What a key or a value may hold at all; the parser checks the rest (lengths, where dots and
dashes may go) as apimachinery does. Anything else (a comma, a space, '=') would change the
meaning of the text, not be refused."""


def _checked(key: str, values: Iterable[str]) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid label key {key!r}")
    for value in values:
        if not _VALUE.fullmatch(value):
            raise ValueError(f"invalid label value {value!r} of {key!r}")
    return key


def label_selector_string(selector: Optional[Mapping[str, Any]]) -> Optional[str]:
    """A metav1.LabelSelector (``matchLabels``, ``matchExpressions``) as label-selector text, as
    metav1.LabelSelectorAsSelector reads it: None for a missing selector (it selects nothing), ""
    for an empty one (everything). Raises ValueError naming what is wrong with an invalid one."""
    if selector is None:
        return None
    requirements = [
        f"{_checked(key, [value])}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())
    ]
    for expression in selector.get("matchExpressions") or ():
        operator, values = expression["operator"], list(expression.get("values") or ())
        key = _checked(expression["key"], values)
        if operator in ("In", "NotIn"):
            if not values:
                raise ValueError(f"{operator} of {key!r} needs values")
            requirements.append(f"{key} {operator.lower()} ({','.join(values)})")
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                raise ValueError(f"{operator} of {key!r} takes no values")
            requirements.append(key if operator == "Exists" else f"!{key}")
        else:
            raise ValueError(f"{operator!r} is not a valid label selector operator")
    return ",".join(requirements)


def label_selector(selector: Optional[Mapping[str, Any]]) -> Optional[LabelSelector]:
    """The parsed metav1.LabelSelector, or None when it selects nothing. Raises ValueError for an
    invalid one (an operator, a key or a value apimachinery refuses)."""
    text = label_selector_string(selector)
    return None if text is None else parse_label_selector(text)


__all__ = ["LabelSelector", "label_selector", "label_selector_string", "parse_label_selector"]

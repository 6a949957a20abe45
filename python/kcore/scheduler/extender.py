"""A kube-scheduler extender: Python functions behind the HTTP verbs kube-scheduler calls
(``<urlPrefix>/filter``, ``/prioritize``, ``/bind``, ``/preempt``).

``Extender.handle(verb, body)`` is the sans-IO core (bytes in, status and bytes out);
``Extender.serve()`` puts it behind a threading HTTP server. kube-scheduler treats any status
but 200 as the extender failing; a handler that raises is reported in the result's Error field
(filter, bind) as kube-scheduler expects, or, for the verbs whose result has none (prioritize,
preempt), as a 500 — kube-scheduler ignores a failed prioritize and fails a preemption.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple, Union

from kcore.errors import NotFound
from kcore.scheduler.extender_wire import (
    MAX_EXTENDER_PRIORITY,
    MIN_EXTENDER_PRIORITY,
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    ExtenderFilterResult,
    ExtenderPreemptionArgs,
    ExtenderPreemptionResult,
    HostPriority,
    Victims,
)

if TYPE_CHECKING:
    from kcore.scheduler.profile import Profile
    from kcore.scheduler.snapshot import Snapshot

log = logging.getLogger("kcore.scheduler.extender")

Object = Dict[str, Any]


@dataclass(frozen=True)
class Unresolvable:
    """A filter's reason that preemption cannot help (FailedAndUnresolvableNodes)."""

    reason: str


Reason = Union[str, Unresolvable]
FilterFn = Callable[[Object, Object], Optional[Reason]]
FilterBatchFn = Callable[[Object, List[Object]], Mapping[str, Reason]]
PrioritizeFn = Callable[[Object, Object], int]
PrioritizeBatchFn = Callable[[Object, List[Object]], Mapping[str, int]]
BindFn = Callable[[str, str, str, str], None]
PreemptFn = Callable[[Object, Dict[str, Victims]], Mapping[str, Victims]]


class NodeLister(Protocol):
    """What nodeCacheCapable mode needs: ``get(name)`` raising NotFound (kcore's Lister)."""

    def get(self, name: str) -> Any: ...


class _HandlerError(Exception):
    """A handler's answer that breaks the verb's contract (a score out of range, unknown nodes)."""


def _node_name(node: Object) -> str:
    return str(node.get("metadata", {}).get("name", ""))


def _only_asked(answers: Mapping[str, Any], nodes: List[Object], verb: str) -> None:
    strangers = sorted(set(answers) - {_node_name(node) for node in nodes})
    if strangers:
        raise _HandlerError(f"{verb} answered for nodes it was not asked about: {strangers}")


class Extender:
    """Register at most one function per verb, then ``serve()``:

    - ``@ext.filter``: ``fn(pod, node) -> None`` (fits) or a reason (``str``, or
      ``Unresolvable(reason)``); ``@ext.filter_batch``: ``fn(pod, nodes) -> {node name: reason}``
      for the nodes that do not fit.
    - ``@ext.prioritize``: ``fn(pod, node) -> 0..10``; ``@ext.prioritize_batch``:
      ``fn(pod, nodes) -> {node name: score}``. kube-scheduler adds score × weight × 10.
    - ``@ext.bind``: ``fn(pod_namespace, pod_name, pod_uid, node)``, binding the pod (e.g. a
      pods/binding create); raising reports the error to kube-scheduler.
    - ``@ext.preempt``: ``fn(pod, {node: Victims}) -> {node: Victims}``, the candidates to keep.

    ``node_lister`` resolves the node names a nodeCacheCapable scheduler sends (e.g. a kcore
    informer's ``lister()``); without one, such requests fail with an Error saying so.
    """

    def __init__(self, node_lister: Optional[NodeLister] = None) -> None:
        self.node_lister = node_lister
        self._filter: Optional[FilterBatchFn] = None
        self._prioritize: Optional[PrioritizeBatchFn] = None
        self._bind: Optional[BindFn] = None
        self._preempt: Optional[PreemptFn] = None

    @classmethod
    def from_profile(
        cls, profile: "Profile", snapshot: "Snapshot", node_lister: Optional[NodeLister] = None
    ) -> "Extender":
        """A profile's filters and scores (0..10) as an extender over ``snapshot``
        (kcore.scheduler.profile_extender)."""
        from kcore.scheduler.profile_extender import profile_extender  # it builds on this module

        return profile_extender(profile, snapshot, node_lister)

    # --- registration ------------------------------------------------------------------

    @staticmethod
    def _unset(current: Any, verb: str) -> None:
        if current is not None:
            raise ValueError(f"this extender already has a {verb} function")

    def filter_batch(self, fn: FilterBatchFn) -> FilterBatchFn:
        self._unset(self._filter, "filter")
        self._filter = fn
        return fn

    def filter(self, fn: FilterFn) -> FilterFn:
        def batch(pod: Object, nodes: List[Object]) -> Dict[str, Reason]:
            reasons = {_node_name(node): fn(pod, node) for node in nodes}
            return {name: reason for name, reason in reasons.items() if reason is not None}

        self.filter_batch(batch)
        return fn

    def prioritize_batch(self, fn: PrioritizeBatchFn) -> PrioritizeBatchFn:
        self._unset(self._prioritize, "prioritize")
        self._prioritize = fn
        return fn

    def prioritize(self, fn: PrioritizeFn) -> PrioritizeFn:
        self.prioritize_batch(lambda pod, nodes: {_node_name(node): fn(pod, node) for node in nodes})
        return fn

    def bind(self, fn: BindFn) -> BindFn:
        self._unset(self._bind, "bind")
        self._bind = fn
        return fn

    def preempt(self, fn: PreemptFn) -> PreemptFn:
        self._unset(self._preempt, "preempt")
        self._preempt = fn
        return fn

    # --- the verbs -----------------------------------------------------------------------

    def _nodes(self, args: ExtenderArgs) -> Tuple[List[Object], Dict[str, str]]:
        """The request's nodes, and the names the node cache does not know (with why)."""
        if args.node_names is None:
            return list(args.nodes or []), {}
        if self.node_lister is None:
            raise _HandlerError("the scheduler sent node names (nodeCacheCapable) but this extender has no node_lister")
        nodes, unknown = [], {}
        for name in args.node_names:
            try:
                nodes.append(self.node_lister.get(name))
            except NotFound:
                unknown[name] = f"node {name!r} is not in the extender's node cache"
        return nodes, unknown

    def _run_filter(self, args: ExtenderArgs) -> ExtenderFilterResult:
        assert self._filter is not None
        try:
            nodes, failed = self._nodes(args)
            unresolvable: Dict[str, str] = {}
            reasons = self._filter(args.pod or {}, nodes)
            _only_asked(reasons, nodes, "filter")
            for name, reason in reasons.items():
                if isinstance(reason, Unresolvable):
                    unresolvable[name] = reason.reason
                else:
                    failed[name] = str(reason)
        except Exception as err:
            log.exception("extender filter failed")
            return ExtenderFilterResult(error=f"filter: {err}")
        passed = [node for node in nodes if _node_name(node) not in failed and _node_name(node) not in unresolvable]
        if args.node_names is not None:
            return ExtenderFilterResult(
                node_names=[_node_name(n) for n in passed],
                failed_nodes=failed,
                failed_and_unresolvable_nodes=unresolvable,
            )
        return ExtenderFilterResult(nodes=passed, failed_nodes=failed, failed_and_unresolvable_nodes=unresolvable)

    def _run_prioritize(self, args: ExtenderArgs) -> List[HostPriority]:
        assert self._prioritize is not None
        nodes, _ = self._nodes(args)
        scores = self._prioritize(args.pod or {}, nodes)
        _only_asked(scores, nodes, "prioritize")
        for name, score in scores.items():
            if (
                isinstance(score, bool)
                or not isinstance(score, int)
                or not MIN_EXTENDER_PRIORITY <= score <= MAX_EXTENDER_PRIORITY
            ):
                raise _HandlerError(
                    f"prioritize gave node {name!r} the score {score!r}, not an integer in "
                    f"{MIN_EXTENDER_PRIORITY}..{MAX_EXTENDER_PRIORITY}"
                )
        return [HostPriority(name, scores[name]) for name in map(_node_name, nodes) if name in scores]

    def _run_bind(self, args: ExtenderBindingArgs) -> ExtenderBindingResult:
        assert self._bind is not None
        try:
            self._bind(args.pod_namespace, args.pod_name, args.pod_uid, args.node)
        except Exception as err:
            log.exception("extender bind of %s/%s to %s failed", args.pod_namespace, args.pod_name, args.node)
            return ExtenderBindingResult(error=f"bind: {err}")
        return ExtenderBindingResult()

    def _run_preempt(self, args: ExtenderPreemptionArgs) -> ExtenderPreemptionResult:
        assert self._preempt is not None
        candidates = args.node_name_to_meta_victims if args.node_name_to_victims is None else args.node_name_to_victims
        return ExtenderPreemptionResult(dict(self._preempt(args.pod or {}, dict(candidates or {}))))

    def handle(self, verb: str, body: bytes) -> Tuple[int, bytes]:
        """One request: the HTTP status and the JSON body to answer with."""
        verbs: Dict[str, Tuple[Any, Callable[[Any], Any], Callable[[Any], Any]]] = {
            "filter": (self._filter, ExtenderArgs.from_wire, lambda a: self._run_filter(a).to_wire()),
            "prioritize": (
                self._prioritize,
                ExtenderArgs.from_wire,
                lambda a: [h.to_wire() for h in self._run_prioritize(a)],
            ),
            "bind": (self._bind, ExtenderBindingArgs.from_wire, lambda a: self._run_bind(a).to_wire()),
            "preempt": (self._preempt, ExtenderPreemptionArgs.from_wire, lambda a: self._run_preempt(a).to_wire()),
        }
        if verb not in verbs:
            return _error(404, f"no verb {verb!r}: this extender serves {sorted(verbs)}")
        registered, decode, run = verbs[verb]
        if registered is None:
            return _error(404, f"this extender has no {verb} function")
        try:
            args = decode(json.loads(body))
        except (ValueError, UnicodeDecodeError) as err:  # WireError and json's JSONDecodeError
            return _error(400, f"bad {verb} request: {err}")
        try:
            return 200, json.dumps(run(args)).encode()
        except Exception as err:
            log.exception("extender %s failed", verb)
            return _error(500, f"{verb}: {err}")

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> "ExtenderServer":
        """Serve the verbs over HTTP on a thread (each request on its own thread)."""
        return ExtenderServer(self, host, port)


def _error(status: int, message: str) -> Tuple[int, bytes]:
    return status, json.dumps({"error": message}).encode()


class ExtenderServer:
    """A running extender: ``url`` is kube-scheduler's urlPrefix; ``close()`` stops it."""

    def __init__(self, extender: Extender, host: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, body = extender.handle(self.path.strip("/"), self.rfile.read(length))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # kube-scheduler's httpTimeout ran out
                    log.warning("extender %s: the scheduler hung up before the answer", self.path)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        self._http = ThreadingHTTPServer((host, port), Handler)
        self._http.daemon_threads = True
        self.url = f"http://{host}:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, name=f"extender {self.url}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def __enter__(self) -> "ExtenderServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

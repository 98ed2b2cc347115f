"""flannel's lease store: etcd's v2 keys API over HTTP, and an embedded stand-in with the same API.

flannel keeps its state under one prefix (``/coreos.com/network``), as in the seed and in
flannel's ``pkg/subnet/etcd/registry.go``::

    /coreos.com/network/config                      {"Network": "100.96.0.0/16", "SubnetLen": 24, ...}
    /coreos.com/network/subnets/100.96.1.0-24       {"PublicIP": "10.168.0.2", "BackendType": "udp", ...}

The seed reads them with ``etcdctl ls`` and ``etcdctl get``: those are etcd's **v2** commands, and
the v2 keys API is what this client speaks (``GET/PUT/DELETE /v2/keys/<key>``, a watch is a long
``GET ?wait=true&recursive=true``). etcd 3.4 still serves it when started with ``--enable-v2``; its
v2 keys live in a store of their own, invisible to the v3 API. Recent flannel releases talk v3 to
etcd with the same key names; v2 keeps the seed's commands working as printed.

Three stores, one client API (``get``, ``set``, ``create``, ``ls``, ``items``, ``delete``,
``watch``):

- :class:`EtcdV2Client`: urllib against a real etcd (or against :class:`StoreServer`);
- :class:`MemoryStore`: in-process, for unit tests and for :class:`StoreServer`;
- :class:`StoreServer`: serves a MemoryStore with the subset of the v2 HTTP API flannel uses, for
  worlds where the etcd binary is missing (``python -m netlab.flannel store``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/coreos.com/network"
CONFIG_KEY = PREFIX + "/config"
SUBNETS = PREFIX + "/subnets"

# etcd v2 error codes (etcd/server/etcdserver/api/v2error)
KEY_NOT_FOUND = 100
NODE_EXIST = 105
EVENT_INDEX_CLEARED = 401


class StoreError(RuntimeError):
    """The store answered with an error, or could not be reached; the message says which."""

    def __init__(self, message: str, code: int | None = None, index: int = 0):
        super().__init__(message)
        self.code = code
        self.index = index


@dataclass(frozen=True)
class Event:
    """One change seen by a watch: action is set, create, update, delete or expire."""

    action: str
    key: str
    value: str | None
    index: int


def subnet_key(network) -> str:
    """``100.96.1.0/24`` -> ``/coreos.com/network/subnets/100.96.1.0-24`` (flannel's key layout)."""
    return f"{SUBNETS}/{str(network).replace('/', '-')}"


def key_subnet(key: str) -> str:
    """``.../subnets/100.96.1.0-24`` -> ``100.96.1.0/24``."""
    return key.rsplit("/", 1)[1].replace("-", "/")


# --------------------------------------------------------------------- client
class EtcdV2Client:
    """A client for etcd's v2 keys API (``/v2/keys``), stdlib urllib only."""

    kind = "etcd"

    def __init__(self, endpoint: str = "http://127.0.0.1:2379", timeout: float = 5.0):
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"EtcdV2Client({self.endpoint!r})"

    def _request(self, method: str, key: str, query: dict | None = None, form: dict | None = None,
                 timeout: float | None = None) -> tuple[dict, int]:
        url = f"{self.endpoint}/v2/keys{urllib.parse.quote(key)}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return json.loads(resp.read() or b"{}"), int(resp.headers.get("X-Etcd-Index", 0))
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                err = json.loads(body)
            except ValueError:
                raise StoreError(f"{method} {url}: HTTP {e.code}: {body[:200]!r}") from None
            raise StoreError(f"{method} {key}: {err.get('message')} ({err.get('cause', key)})",
                             err.get("errorCode"), int(err.get("index", 0))) from None
        except (urllib.error.URLError, OSError) as e:
            if isinstance(getattr(e, "reason", e), (socket.timeout, TimeoutError)) or isinstance(e, TimeoutError):
                raise TimeoutError(f"{method} {url}: no answer") from None
            raise StoreError(f"cannot reach the store at {self.endpoint}: {getattr(e, 'reason', e)}") from None

    def get(self, key: str) -> str | None:
        """The value of KEY, or None when there is no such key."""
        try:
            body, _ = self._request("GET", key)
        except StoreError as e:
            if e.code == KEY_NOT_FOUND:
                return None
            raise
        return body["node"].get("value")

    def set(self, key: str, value: str, ttl: int | None = None) -> int:
        """Write KEY (create or replace); returns the store's index of the change."""
        form = {"value": value}
        if ttl:
            form["ttl"] = str(ttl)
        body, _ = self._request("PUT", key, form=form)
        return body["node"]["modifiedIndex"]

    def create(self, key: str, value: str, ttl: int | None = None) -> bool:
        """Write KEY only if it does not exist (``prevExist=false``); False if someone holds it."""
        form = {"value": value, "prevExist": "false"}
        if ttl:
            form["ttl"] = str(ttl)
        try:
            self._request("PUT", key, form=form)
        except StoreError as e:
            if e.code == NODE_EXIST:
                return False
            raise
        return True

    def delete(self, key: str) -> bool:
        """Remove KEY; False if it was not there."""
        try:
            self._request("DELETE", key)
        except StoreError as e:
            if e.code == KEY_NOT_FOUND:
                return False
            raise
        return True

    def items(self, directory: str) -> tuple[dict[str, str], int]:
        """({key: value} under DIRECTORY, sorted by key; the store's current index)."""
        try:
            body, index = self._request("GET", directory, query={"recursive": "true", "sorted": "true"})
        except StoreError as e:
            if e.code == KEY_NOT_FOUND:
                return {}, e.index
            raise
        out: dict[str, str] = {}

        def walk(node):
            for child in node.get("nodes", []):
                if child.get("dir"):
                    walk(child)
                else:
                    out[child["key"]] = child.get("value")
        walk(body["node"])
        return dict(sorted(out.items())), index

    def ls(self, directory: str) -> list[str]:
        """The keys under DIRECTORY, sorted (``etcdctl ls --sort``)."""
        return list(self.items(directory)[0])

    def watch(self, directory: str, after: int, timeout: float = 30.0) -> list[Event]:
        """Changes under DIRECTORY with index > AFTER; [] if none came within TIMEOUT seconds.

        A long poll, as flannel's v2 registry does: ``GET ...?wait=true&recursive=true&waitIndex=N``.
        Raises StoreError with code 401 when the store no longer has that old an index: list again.
        """
        try:
            body, _ = self._request("GET", directory, timeout=timeout,
                                    query={"wait": "true", "recursive": "true", "waitIndex": str(after + 1)})
        except TimeoutError:
            return []
        node = body.get("node", {})
        value = node.get("value") if body["action"] not in ("delete", "expire") else None
        return [Event(body["action"], node["key"], value, node["modifiedIndex"])]

    def health(self) -> bool:
        """True when the store answers a read."""
        try:
            self._request("GET", "/")
            return True
        except (StoreError, TimeoutError):
            return False


# --------------------------------------------------------------------- embedded
class MemoryStore:
    """An in-memory store with the client API of :class:`EtcdV2Client` and etcd's indexes."""

    kind = "embedded"

    def __init__(self):
        self._data: dict[str, tuple[str, int, float | None]] = {}  # key -> (value, index, expires)
        self._events: list[Event] = []
        self._index = 0
        self._cond = threading.Condition()

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._data)} keys)"

    @property
    def index(self) -> int:
        return self._index

    def _expire(self) -> None:
        now = time.monotonic()
        for key, (_, _, expires) in list(self._data.items()):
            if expires is not None and expires <= now:
                del self._data[key]
                self._record("expire", key, None)

    def _record(self, action: str, key: str, value: str | None) -> int:
        self._index += 1
        self._events.append(Event(action, key, value, self._index))
        del self._events[:-1000]  # etcd v2 keeps the last 1000 events
        self._cond.notify_all()
        return self._index

    def get(self, key: str) -> str | None:
        with self._cond:
            self._expire()
            item = self._data.get(key)
            return item[0] if item else None

    def set(self, key: str, value: str, ttl: int | None = None) -> int:
        with self._cond:
            self._expire()
            action = "set"
            index = self._record(action, key, value)
            self._data[key] = (value, index, time.monotonic() + ttl if ttl else None)
            return index

    def create(self, key: str, value: str, ttl: int | None = None) -> bool:
        with self._cond:
            self._expire()
            if key in self._data:
                return False
            index = self._record("create", key, value)
            self._data[key] = (value, index, time.monotonic() + ttl if ttl else None)
            return True

    def delete(self, key: str) -> bool:
        with self._cond:
            self._expire()
            if key not in self._data:
                return False
            del self._data[key]
            self._record("delete", key, None)
            return True

    def items(self, directory: str) -> tuple[dict[str, str], int]:
        with self._cond:
            self._expire()
            base = directory.rstrip("/") + "/"
            found = {k: v[0] for k, v in self._data.items() if k.startswith(base)}
            return dict(sorted(found.items())), self._index

    def ls(self, directory: str) -> list[str]:
        return list(self.items(directory)[0])

    def ttl(self, key: str) -> int | None:
        """Seconds left on KEY's lease (None: no TTL or no key)."""
        with self._cond:
            item = self._data.get(key)
            return None if not item or item[2] is None else max(0, round(item[2] - time.monotonic()))

    def watch(self, directory: str, after: int, timeout: float = 30.0) -> list[Event]:
        base = directory.rstrip("/") + "/"
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._events and after + 1 < self._events[0].index:
                    raise StoreError(f"watch {directory}: the event in requested index is outdated and"
                                     f" cleared ({after + 1})", EVENT_INDEX_CLEARED)
                found = [e for e in self._events if e.index > after and e.key.startswith(base)]
                if found:
                    return found[:1]  # etcd answers a v2 long poll with one event
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    def health(self) -> bool:
        return True


# --------------------------------------------------------------------- server
class StoreServer(ThreadingHTTPServer):
    """Serve a :class:`MemoryStore` over the subset of etcd's v2 HTTP API that flannel uses."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: MemoryStore | None = None):
        self.store = store or MemoryStore()
        super().__init__(address, _Handler)


def _node_json(key: str, value: str | None, index: int) -> dict:
    node = {"key": key, "modifiedIndex": index, "createdIndex": index}
    if value is not None:
        node["value"] = value
    return node


class _Handler(BaseHTTPRequestHandler):
    server_version = "netlab-embedded-store"

    def log_message(self, fmt, *args):  # quiet: the daemon logs, not the store
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Etcd-Index", str(self.server.store.index))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: int, message: str, cause: str) -> None:
        self._send(status, {"errorCode": code, "message": message, "cause": cause,
                            "index": self.server.store.index})

    def _parse(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = urllib.parse.unquote(url.path)
        return path, query

    def do_GET(self):
        path, query = self._parse()
        store: MemoryStore = self.server.store
        if path in ("/health", "/version"):
            return self._send(200, {"health": "true"} if path == "/health" else {"etcdserver": "embedded"})
        if path == "/v2/members":
            url = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
            return self._send(200, {"members": [{"id": "1", "name": "embedded", "peerURLs": [],
                                                 "clientURLs": [url]}]})
        if not path.startswith("/v2/keys"):
            return self._error(404, KEY_NOT_FOUND, "Not found", path)
        key = path[len("/v2/keys"):] or "/"
        if query.get("wait") == "true":
            after = int(query.get("waitIndex", store.index + 1)) - 1
            try:
                events = store.watch(key, after, timeout=float(query.get("timeout", 300)))
            except StoreError as e:
                return self._error(400, e.code, str(e), key)
            if not events:
                return self._send(200, {"action": "get", "node": _node_json(key, None, store.index)})
            e = events[0]
            return self._send(200, {"action": e.action, "node": _node_json(e.key, e.value, e.index)})
        value = store.get(key)
        if value is not None:
            return self._send(200, {"action": "get", "node": _node_json(key, value, store.index)})
        found, index = store.items(key)
        if not found and key != "/":
            return self._error(404, KEY_NOT_FOUND, "Key not found", key)
        base = key.rstrip("/")
        children: dict[str, dict] = {}
        for k, v in found.items():
            rest = k[len(base) + 1:]
            head = rest.split("/", 1)[0]
            child = f"{base}/{head}"
            if "/" in rest:
                children.setdefault(child, {"key": child, "dir": True, "nodes": []})
                if query.get("recursive") == "true":
                    children[child]["nodes"].append(_node_json(k, v, index))
            else:
                children[child] = _node_json(k, v, index)
        self._send(200, {"action": "get", "node": {"key": key, "dir": True,
                                                   "nodes": [children[c] for c in sorted(children)]}})

    def _form(self) -> dict:
        length = int(self.headers.get("Content-Length", 0))
        return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode())) if length else {}

    def do_PUT(self):
        path, query = self._parse()
        form = dict(query, **self._form())
        key = path[len("/v2/keys"):]
        store: MemoryStore = self.server.store
        ttl = int(form["ttl"]) if form.get("ttl") else None
        if form.get("prevExist") == "false":
            if not store.create(key, form.get("value", ""), ttl):
                return self._error(412, NODE_EXIST, "Key already exists", key)
            return self._send(201, {"action": "create", "node": _node_json(key, form.get("value"), store.index)})
        index = store.set(key, form.get("value", ""), ttl)
        self._send(200, {"action": "set", "node": _node_json(key, form.get("value"), index)})

    def do_DELETE(self):
        path, _ = self._parse()
        key = path[len("/v2/keys"):]
        if not self.server.store.delete(key):
            return self._error(404, KEY_NOT_FOUND, "Key not found", key)
        self._send(200, {"action": "delete", "node": _node_json(key, None, self.server.store.index)})


def serve(address: str = "0.0.0.0", port: int = 2379) -> None:
    """Run the embedded store until killed (``python -m netlab.flannel store``)."""
    server = StoreServer((address, port))
    print(f"embedded store: serving etcd's v2 keys API on http://{address}:{port}", flush=True)
    server.serve_forever()

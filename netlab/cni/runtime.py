"""A container runtime's CNI half: invoke the real plugin binaries as containerd and CRI-O do.

Every plugin runs inside a world's node as its own process, found in ``CNI_PATH``, with the CNI
environment (``CNI_COMMAND`` ADD, DEL or CHECK, ``CNI_CONTAINERID``, ``CNI_NETNS`` = the pod's named
network namespace ``/run/netns/<pod>``, ``CNI_IFNAME``, ``CNI_PATH``) and the network configuration on
standard input, and answers with a result JSON on stdout, or an error JSON (``code``, ``msg``) and
exit status 1 (containernetworking/cni ``SPEC.md``, "Section 2: Execution Protocol").

A network configuration *list* runs as libcni's ``AddNetworkList`` runs it (containernetworking/cni
``libcni/api.go``): each plugin in order, its configuration given the list's ``name`` and ``cniVersion``,
the previous plugin's result as ``prevResult``, and ``runtimeConfig`` for each capability it declares
that the runtime supplies (``portMappings`` for ``portmap``, ``mac`` for ``bridge``); DEL goes in
reverse order with the cached result; CHECK in order. A failed ADD is undone with DEL, as kubelet does,
so nothing is left half-built.

Where the state lives: host-local keeps its reservations in ``/var/lib/cni/networks/<network>`` and
flannel's plugin its delegate configurations in ``/var/lib/cni/flannel``. Each node of a world has its
own ``/var/lib`` for the plugins: the runtime bind-mounts ``/run/netlab-cni/<node>/var-lib`` (in the
world's private ``/run``) over ``/var/lib`` inside the plugin's own mount namespace (``ip netns exec``
makes one per command), so the machine's ``/var/lib/cni`` is never touched and two nodes never share
reservations. :func:`node_state` runs a command under the same view.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import weakref
from dataclasses import dataclass, field

from ..inputs import quote

PLUGIN_DIR = "/usr/lib/cni"               # Debian's containernetworking-plugins
STATE = "/run/netlab-cni"                 # inside the world's private /run
BIN = f"{STATE}/bin"                      # netlab's flannel plugin (a two-line script)
CNI_PATH = f"{BIN}:{PLUGIN_DIR}"
PLUGIN_VERSION = "1.0.0"

#: kube-flannel's CNI configuration list (flannel-io/flannel ``Documentation/kube-flannel.yml``,
#: ``cni-conf.json``), plus ``subnetFile`` because every node of a world shares one /run (each
#: flanneld writes ``/run/flannel/subnet-<node IP>.env``; :func:`flannel_conflist` fills it in) and the
#: ``mac`` capability so that pods get fixed MACs and the pages read the same on every run.
FLANNEL_CONFLIST = {
    "name": "cbr0",
    "cniVersion": "0.3.1",
    "plugins": [
        {"type": "flannel", "delegate": {"hairpinMode": True, "isDefaultGateway": True},
         "capabilities": {"mac": True}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}
#: What containerd's CRI plugin gives every pod first: its loopback (``cni-loopback``, type loopback).
LOOPBACK_CONF = {"cniVersion": PLUGIN_VERSION, "name": "cni-loopback", "type": "loopback"}
#: The plugin is one stdlib-only file, run by path with ``python3 -I`` (no netlab package import: ADD stays fast).
FLANNEL_SCRIPT = ("#!/bin/sh\n# netlab's flannel CNI plugin\nexec python3 -I "
                  + os.path.join(os.path.dirname(os.path.abspath(__file__)), "flannel_plugin.py") + "\n")


class CniError(RuntimeError):
    """A plugin said no: its own error JSON (``code``, ``msg``, ``details``), and which plugin and command."""

    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = "", raw: str = ""):
        self.plugin, self.command, self.code, self.msg, self.details, self.raw = plugin, command, code, msg, details, raw
        super().__init__(self.text())

    def text(self) -> str:
        return (f"CNI plugin {self.plugin!r} failed {self.command}: error code {self.code}: {self.msg}"
                + (f" ({self.details})" if self.details else "") + f"\nits error JSON: {self.raw.strip()}")

    def html(self) -> str:
        from html import escape
        return (f"<div style='border-left:4px solid #c62828;padding:4px 8px'><b>CNI error</b> from plugin "
                f"<code>{escape(self.plugin)}</code> ({escape(self.command)}): code <b>{self.code}</b>, "
                f"msg <i>{escape(self.msg)}</i><pre>{escape(self.raw.strip())}</pre></div>")

    def _repr_html_(self) -> str:
        return self.html()

    def _render_traceback_(self) -> list[str]:
        """In a notebook: the plugin's words, not a traceback (IPython calls this)."""
        return [f"CniError: {self.text()}"]


class CniInputError(CniError, ValueError):
    """Bad input to the runtime itself (a pod or node name, a port mapping), refused before any plugin runs."""

    def __init__(self, msg: str):
        RuntimeError.__init__(self, msg)
        self.plugin, self.command, self.code, self.msg, self.details, self.raw = "", "", 0, msg, "", ""

    def text(self) -> str:
        return self.msg


@dataclass
class CniResult:
    """The result a network's last plugin printed (cniVersion, interfaces, ips, routes), for one pod."""

    node: str
    pod: str
    container_id: str
    network: str
    result: dict
    steps: list = field(default_factory=list)  # (plugin type, command text) in the order they ran
    host_name: str = ""  # the host end's name now, when netlab renamed it (netlab.cni.cluster.wire_pod)

    @property
    def ips(self) -> list[str]:
        return [ip["address"] for ip in self.result.get("ips", [])]

    @property
    def address(self) -> str:
        """The pod's first IP address without its prefix length (what a Service endpoint holds)."""
        return self.ips[0].split("/")[0] if self.ips else ""

    @property
    def gateway(self) -> str:
        return (self.result.get("ips") or [{}])[0].get("gateway", "")

    @property
    def host_veth(self) -> str:
        """The host end of the pod's veth: its name now, else the result's interface without a ``sandbox``."""
        if self.host_name:
            return self.host_name
        ifs = self.result.get("interfaces", [])
        for i in ifs:
            if not i.get("sandbox") and i.get("name", "").startswith("veth"):
                return i["name"]
        return ""

    def json(self) -> str:
        return json.dumps(self.result, indent=2)

    def text(self) -> str:
        return (f"pod {self.pod} on {self.node} (network {self.network}): {', '.join(self.ips) or 'no address'}"
                f" via {self.gateway or '-'}\n" + self.json())

    __str__ = text

    def __repr__(self) -> str:
        return self.text()

    def html(self) -> str:
        from html import escape
        return (f"<p>pod <b>{escape(self.pod)}</b> on <b>{escape(self.node)}</b>: "
                f"{escape(', '.join(self.ips))} via {escape(self.gateway)}</p><pre>{escape(self.json(), quote=False)}</pre>")

    def _repr_html_(self) -> str:
        return self.html()


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # world -> {(node, pod, network): result}


def container_id(pod: str) -> str:
    """A fixed 64-hex container ID per pod name (containerd's are random; fixed ones keep pages stable)."""
    return hashlib.sha256(f"netlab-pod/{pod}".encode()).hexdigest()


def _check_names(world, node: str, pod: str) -> None:
    if not isinstance(node, str) or node not in world.nodes:
        raise CniInputError(f"node must be one of the world's nodes ({', '.join(world.nodes)}), not {quote(node)}")
    if not isinstance(pod, str) or pod not in world.nodes:
        raise CniInputError(f"pod must name a network namespace the world declared for it ({quote(pod)} is not"
                            f" one of {', '.join(world.nodes)}); add the pod to the cluster topology first")
    if pod == node:
        raise CniInputError(f"pod {pod!r} is the node itself; a pod is a network namespace of its own")


def install(world, node: str) -> None:
    """Put netlab's flannel plugin into ``CNI_PATH`` and give NODE its own /var/lib for the plugins. Idempotent."""
    world.run(None, ["sh", "-c", f"mkdir -p {BIN} {STATE}/{node}/var-lib && cat > {BIN}/flannel && chmod 755 {BIN}/flannel"],
              input=FLANNEL_SCRIPT)


def _plugin_path(kind: str) -> str | None:
    if kind == "flannel":
        return f"{BIN}/flannel"
    path = os.path.join(PLUGIN_DIR, kind)
    return path if kind and "/" not in kind and os.path.isfile(path) else None


def _under_state(node: str, command: str) -> str:
    """COMMAND run in NODE with the node's /var/lib (a bind mount in the command's own mount namespace)."""
    return f"mount --bind {STATE}/{node}/var-lib /var/lib && {command}"


def node_state(world, node: str, command: str, check: bool = False):
    """Run COMMAND in NODE seeing the node's own ``/var/lib`` (``ls /var/lib/cni/networks/cbr0``)."""
    return world.run(node, ["sh", "-c", _under_state(node, command)], check=check)


def exec_plugin(world, node: str, kind: str, command: str, *, cid: str, netns: str, ifname: str,
                config: dict, cni_args: str = "") -> dict:
    """Run one plugin binary as a runtime does; its parsed result (``{}`` for DEL and CHECK), or CniError."""
    path = _plugin_path(kind)
    if path is None:
        raise CniError(kind, command, 0, f"failed to find plugin {kind!r} in path [{CNI_PATH}]",
                       raw=json.dumps({"runtime": "libcni", "msg": f"failed to find plugin {kind!r} in path [{CNI_PATH}]"}))
    env = [f"CNI_COMMAND={command}", f"CNI_CONTAINERID={cid}", f"CNI_NETNS={netns}", f"CNI_IFNAME={ifname}",
           f"CNI_PATH={CNI_PATH}"] + ([f"CNI_ARGS={cni_args}"] if cni_args else [])
    script = _under_state(node, "exec env " + " ".join(shlex.quote(e) for e in env) + f" {path}")
    done = world.run(node, ["sh", "-c", script], check=False, input=json.dumps(config), timeout=60)
    if done.returncode != 0:
        try:
            err = json.loads(done.stdout)
            code, msg, details = int(err["code"]), str(err["msg"]), str(err.get("details", ""))
        except (ValueError, KeyError, TypeError):
            code, msg, details = -1, (done.stdout + done.stderr).strip() or f"exit status {done.returncode}", ""
        raise CniError(kind, command, code, msg, details, raw=done.stdout or done.stderr)
    if command != "ADD":
        return {}
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise CniError(kind, command, -1, f"the plugin printed no result JSON: {done.stdout.strip()[:200]!r}",
                       raw=done.stdout) from None


def _plugin_config(conflist: dict, plugin: dict, prev: dict | None, capability_args: dict) -> dict:
    """One plugin's configuration as libcni's ``buildOneConfig`` makes it."""
    conf = dict(plugin)
    conf["name"] = conflist["name"]
    conf["cniVersion"] = conflist["cniVersion"]
    if prev is not None:
        conf["prevResult"] = prev
    rc = {k: v for k, v in capability_args.items() if (plugin.get("capabilities") or {}).get(k)}
    if rc:
        conf["runtimeConfig"] = rc
    return conf


def flannel_conflist(world, node: str, public_ip: str) -> dict:
    """kube-flannel's list for NODE: the flannel plugin reads the subnet.env its node's flanneld wrote."""
    conf = json.loads(json.dumps(FLANNEL_CONFLIST))
    conf["plugins"][0]["subnetFile"] = f"/run/flannel/subnet-{public_ip}.env"
    return conf


def _capabilities(port_mappings, mac) -> dict:
    caps = {}
    if port_mappings:
        pm = []
        for m in port_mappings:
            if not isinstance(m, dict) or not {"hostPort", "containerPort"} <= set(m):
                raise CniInputError(f"a port mapping is a dict with hostPort and containerPort (and protocol),"
                                    f" such as {{'hostPort': 8080, 'containerPort': 80, 'protocol': 'tcp'}}, not {quote(m)}")
            for k in ("hostPort", "containerPort"):
                if isinstance(m[k], bool) or not isinstance(m[k], int) or not 0 < m[k] < 65536:
                    raise CniInputError(f"{k} must be a port number 1-65535, not {quote(m[k])}")
            pm.append({"hostPort": m["hostPort"], "containerPort": m["containerPort"],
                       "protocol": m.get("protocol", "tcp")})
        caps["portMappings"] = pm
    if mac:
        caps["mac"] = mac
    return caps


def add_network_list(world, node: str, pod: str, conflist: dict, *, ifname: str = "eth0",
                     port_mappings=(), mac: str | None = None) -> CniResult:
    """ADD POD to the network CONFLIST on NODE (every plugin in order); on failure, DEL what was done."""
    _check_names(world, node, pod)
    cid, netns = container_id(pod), f"/run/netns/{pod}"
    caps = _capabilities(port_mappings, mac)
    prev, steps = None, []
    for plugin in conflist["plugins"]:
        conf = _plugin_config(conflist, plugin, prev, caps)
        try:
            prev = exec_plugin(world, node, plugin["type"], "ADD", cid=cid, netns=netns, ifname=ifname, config=conf)
        except CniError:
            _del_list(world, node, pod, conflist, ifname, prev, caps, quiet=True)
            raise
        steps.append((plugin["type"], "ADD"))
    res = CniResult(node, pod, cid, conflist["name"], prev or {}, steps)
    _CACHE.setdefault(world, {})[(node, pod, conflist["name"])] = (res, conflist, ifname, caps)
    return res


def _del_list(world, node, pod, conflist, ifname, prev, caps, quiet=False) -> list:
    cid, netns, steps = container_id(pod), f"/run/netns/{pod}", []
    for plugin in reversed(conflist["plugins"]):
        conf = _plugin_config(conflist, plugin, prev, caps)
        try:
            exec_plugin(world, node, plugin["type"], "DEL", cid=cid, netns=netns, ifname=ifname, config=conf)
            steps.append((plugin["type"], "DEL"))
        except CniError:
            if not quiet:
                raise
    return steps


def add_pod(world, node: str, pod: str, conflist: dict | None = None, *, ifname: str = "eth0",
            port_mappings=(), mac: str | None = None, loopback: bool = True) -> CniResult:
    """Wire POD (a network namespace of the world) on NODE as kubelet's runtime does: the loopback
    plugin for ``lo``, then the network list (default: the node's flannel list, see :func:`netlab.cni.cluster`)."""
    _check_names(world, node, pod)
    if conflist is None:
        conflist = _default_conflist(world, node)
    if loopback:
        exec_plugin(world, node, "loopback", "ADD", cid=container_id(pod), netns=f"/run/netns/{pod}", ifname="lo",
                    config=LOOPBACK_CONF)
    return add_network_list(world, node, pod, conflist, ifname=ifname, port_mappings=port_mappings, mac=mac)


def del_pod(world, node: str, pod: str, conflist: dict | None = None) -> list:
    """DEL POD from its network (every plugin in reverse order, with the cached result). Returns the steps."""
    _check_names(world, node, pod)
    cached = _CACHE.get(world, {}).pop((node, pod, (conflist or _default_conflist(world, node))["name"]), None)
    if cached is None and conflist is None:
        conflist = _default_conflist(world, node)
    res, conflist, ifname, caps = cached if cached else (None, conflist, "eth0", {})
    return _del_list(world, node, pod, conflist, ifname, res.result if res else None, caps)


def check_pod(world, node: str, pod: str) -> list:
    """CHECK POD's network (every plugin in order, with the cached result): [] when all agree, else CniError."""
    _check_names(world, node, pod)
    cached = [v for k, v in _CACHE.get(world, {}).items() if k[:2] == (node, pod)]
    if not cached:
        raise CniInputError(f"pod {pod!r} was not added on {node} in this world; add_pod() it first")
    res, conflist, ifname, caps = cached[0]
    if tuple(int(x) for x in conflist["cniVersion"].split(".")) < (0, 4, 0):
        msg = f'configuration version "{conflist["cniVersion"]}" does not support the CHECK command'
        raise CniError("libcni", "CHECK", 0, msg, raw=json.dumps({"runtime": "libcni CheckNetworkList", "msg": msg}))
    steps = []
    for plugin in conflist["plugins"]:
        conf = _plugin_config(conflist, plugin, res.result, caps)
        exec_plugin(world, node, plugin["type"], "CHECK", cid=res.container_id, netns=f"/run/netns/{pod}",
                    ifname=ifname, config=conf)
        steps.append((plugin["type"], "CHECK"))
    return steps


def added_pods(world) -> list[CniResult]:
    """Every pod added in WORLD and not deleted, in the order they were added."""
    return [v[0] for v in _CACHE.get(world, {}).values()]


_DEFAULTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # world -> {node: conflist}


def set_default_conflist(world, node: str, conflist: dict) -> None:
    _DEFAULTS.setdefault(world, {})[node] = conflist


def _default_conflist(world, node: str) -> dict:
    try:
        return _DEFAULTS[world][node]
    except KeyError:
        raise CniInputError(f"no network configuration for {node}: start the cluster with"
                            f" netlab.start_cluster(world) first, or pass conflist=") from None

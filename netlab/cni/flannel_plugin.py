"""netlab's flannel CNI plugin, run by the runtime as ``$CNI_PATH/flannel`` (``python3 -m netlab.cni.flannel_plugin``).

What flannel's own plugin does (flannel-io/cni-plugin ``flannel.go`` and ``flannel_linux.go``), written
again in Python because Debian's ``containernetworking-plugins`` does not ship it:

1. read the network configuration on stdin (``subnetFile`` defaults to ``/run/flannel/subnet.env``,
   ``dataDir`` to ``/var/lib/cni/flannel``; ``delegate`` must not carry ``name`` or ``ipam``);
2. ADD: read subnet.env (``FLANNEL_NETWORK``, ``FLANNEL_SUBNET``, ``FLANNEL_MTU``, ``FLANNEL_IPMASQ``; a
   missing key is an error naming it), build the delegate configuration: ``name`` from the network,
   ``type`` "bridge" unless given, ``ipMasq`` = not FLANNEL_IPMASQ, ``mtu`` = FLANNEL_MTU, ``isGateway``
   true for bridge, the network's ``cniVersion``, and ``ipam`` = host-local with ``ranges``
   ``[[{"subnet": FLANNEL_SUBNET}]]`` and a route to FLANNEL_NETWORK (``getDelegateIPAM``);
   save it as ``dataDir/<container id>`` for DEL (``saveScratchNetConf``), then hand off to the
   delegate binary found in ``CNI_PATH`` with the same environment (libcni ``invoke.DelegateAdd``) and
   print its result;
3. DEL: read the saved configuration and hand off DEL to the same delegate; a missing file is not an
   error (the spec: DEL of something gone succeeds); the file is removed when DEL succeeded;
4. CHECK: nothing (upstream's ``cmdCheck`` is a TODO that returns nil).

Errors go out as the CNI spec says: a JSON object ``{"cniVersion", "code", "msg", "details"}`` on
stdout and exit status 1. Errors the plugin does not type itself get code 999, as libcni's ``skel``
gives them (``types.ErrInternal``). Standard library only: it runs inside a world's node.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys

DEFAULT_SUBNET_FILE = "/run/flannel/subnet.env"
DEFAULT_DATA_DIR = "/var/lib/cni/flannel"
SUPPORTED = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"]
# The spec's well-known error codes (containernetworking/cni SPEC.md "Error"; pkg/types ErrXxx).
ERR_INVALID_ENV, ERR_IO, ERR_DECODE, ERR_INVALID_CONFIG, ERR_INTERNAL = 4, 5, 6, 7, 999


class PluginError(Exception):
    def __init__(self, code: int, msg: str, details: str = ""):
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details


def load_subnet_env(path: str) -> dict:
    """subnet.env as flannel's ``loadFlannelSubnetEnv`` reads it: KEY=VALUE lines, every key required."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise PluginError(ERR_INTERNAL, f"failed to load flannel 'subnet.env' file: open {path}: {exc.strerror}."
                          " Check the flannel pod log for this node.") from None
    env = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    try:
        out = {"network": [str(ipaddress.ip_network(c, strict=False)) for c in env["FLANNEL_NETWORK"].split(",")]
               if "FLANNEL_NETWORK" in env else None,
               "subnet": str(ipaddress.ip_interface(env["FLANNEL_SUBNET"]).network) if "FLANNEL_SUBNET" in env else None,
               "mtu": int(env["FLANNEL_MTU"]) if "FLANNEL_MTU" in env else None,
               "ipmasq": env["FLANNEL_IPMASQ"] == "true" if "FLANNEL_IPMASQ" in env else None}
    except ValueError as exc:
        raise PluginError(ERR_INTERNAL, f"failed to load flannel 'subnet.env' file: {exc}") from None
    missing = []
    if out["network"] is None:
        missing += ["FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK"]
    if out["subnet"] is None:
        missing += ["FLANNEL_SUBNET", "FLANNEL_IPV6_SUBNET"]
    if out["mtu"] is None:
        missing.append("FLANNEL_MTU")
    if out["ipmasq"] is None:
        missing.append("FLANNEL_IPMASQ")
    if missing:
        raise PluginError(ERR_INTERNAL, f"failed to load flannel 'subnet.env' file: {path} is missing"
                          f" {', '.join(missing)}. Check the flannel pod log for this node.")
    return out


def delegate_config(conf: dict, fenv: dict) -> dict:
    """The bridge plugin's configuration, built as ``doCmdAdd`` and ``getDelegateIPAM`` build it."""
    delegate = dict(conf.get("delegate") or {})
    if "type" in delegate and not isinstance(delegate["type"], str):
        raise PluginError(ERR_INTERNAL, "'delegate' dictionary, if present, must have (string) 'type' field")
    if "name" in delegate:
        raise PluginError(ERR_INTERNAL, "'delegate' dictionary must not have 'name' field, it'll be set by flannel")
    if "ipam" in delegate:
        raise PluginError(ERR_INTERNAL, "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel")
    if conf.get("runtimeConfig") is not None:
        delegate["runtimeConfig"] = conf["runtimeConfig"]
    delegate["name"] = conf.get("name", "")
    delegate.setdefault("type", "bridge")
    delegate.setdefault("ipMasq", not fenv["ipmasq"])
    delegate.setdefault("mtu", fenv["mtu"])
    if delegate["type"] == "bridge":
        delegate.setdefault("isGateway", True)
    if conf.get("cniVersion"):
        delegate["cniVersion"] = conf["cniVersion"]
    ipam = dict(conf.get("ipam") or {})
    ipam.setdefault("type", "host-local")
    ipam["ranges"] = [[{"subnet": fenv["subnet"]}]]
    ipam["routes"] = list(ipam.get("routes") or []) + [{"dst": n} for n in fenv["network"]]
    delegate["ipam"] = ipam
    return delegate


def find_plugin(kind: str) -> str:
    """The delegate's binary: the first ``CNI_PATH`` directory holding it (libcni ``invoke.FindInPath``)."""
    for directory in os.environ.get("CNI_PATH", "").split(":"):
        path = os.path.join(directory, kind)
        if directory and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise PluginError(ERR_INTERNAL, f"failed to find plugin {kind!r} in path [{os.environ.get('CNI_PATH', '')}]")


def delegate(kind: str, config: bytes) -> str:
    """Run the delegate with this process's environment and CONFIG on stdin; its stdout, or its error."""
    done = subprocess.run([find_plugin(kind)], input=config, capture_output=True)
    if done.returncode != 0:
        try:
            err = json.loads(done.stdout)
            raise PluginError(ERR_INTERNAL, f"failed to delegate {os.environ['CNI_COMMAND'].lower()}: {err['msg']}"
                              + (f"; {err['details']}" if err.get("details") else ""))
        except (ValueError, KeyError, TypeError):
            raise PluginError(ERR_INTERNAL, f"failed to delegate: {kind} exited {done.returncode}:"
                              f" {(done.stdout + done.stderr).decode(errors='replace').strip()}") from None
    return done.stdout.decode()


def cmd_add(conf: dict, container_id: str) -> str:
    fenv = load_subnet_env(conf.get("subnetFile") or DEFAULT_SUBNET_FILE)
    deleg = delegate_config(conf, fenv)
    data = json.dumps(deleg).encode()
    data_dir = conf.get("dataDir") or DEFAULT_DATA_DIR
    try:
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(data_dir, container_id), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise PluginError(ERR_INTERNAL, f"saving the delegate configuration in {data_dir}: {exc.strerror}") from None
    return delegate(deleg["type"], data)


def cmd_del(conf: dict, container_id: str) -> str:
    path = os.path.join(conf.get("dataDir") or DEFAULT_DATA_DIR, container_id)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return ""  # the spec: DEL of what is already gone succeeds
    try:
        kind = json.loads(data)["type"]
    except (ValueError, KeyError, TypeError):
        return ""  # upstream: "failed to parse netconf", the interface stays until reboot
    out = delegate(kind, data)
    os.remove(path)
    return out


def main() -> int:
    command = os.environ.get("CNI_COMMAND", "")
    version = "1.0.0"
    try:
        if command == "VERSION":
            print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": SUPPORTED}))
            return 0
        raw = sys.stdin.buffer.read()
        try:
            conf = json.loads(raw)
            if not isinstance(conf, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise PluginError(ERR_DECODE, f"failed to load netconf: {exc}") from None
        version = conf.get("cniVersion") or version
        for var in ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"):
            if not os.environ.get(var) and not (command == "DEL" and var == "CNI_NETNS"):
                raise PluginError(ERR_INVALID_ENV, f"required env variables [{var}] missing")
        container_id = os.environ["CNI_CONTAINERID"]
        if command == "ADD":
            sys.stdout.write(cmd_add(conf, container_id))
        elif command == "DEL":
            sys.stdout.write(cmd_del(conf, container_id))
        elif command == "CHECK":
            pass
        else:
            raise PluginError(ERR_INVALID_ENV, f"unknown CNI_COMMAND: {command}")
        return 0
    except PluginError as exc:
        print(json.dumps({"cniVersion": version, "code": exc.code, "msg": exc.msg,
                          **({"details": exc.details} if exc.details else {})}))
        return 1


if __name__ == "__main__":
    sys.exit(main())

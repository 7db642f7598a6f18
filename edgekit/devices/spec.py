"""Which device to reach and how: `ssh://user@host[:port]`, `adb[:SERIAL]`, or a name from devices.yaml.

devices.yaml (in the current folder, else $XDG_CONFIG_HOME/edgekit/devices.yaml; EDGEKIT_DEVICES
names another file) maps names to devices and the target profile their measurements belong to:

    devices:
      lab-pi4:
        uri: ssh://pi@lab-pi4.local
        profile: rpi4                       # the report puts its measurements next to rpi4's estimates
        python: /home/pi/edgekit/bin/python # the device's core install (default: python3)
        workdir: /tmp                       # per-run folders go under it (adb default: /data/local/tmp)
        ssh_config: ~/.ssh/lab_config       # optional: ssh -F FILE instead of ~/.ssh/config
        env: {OMP_NUM_THREADS: "4"}         # optional: set for the measuring process
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from edgekit.devices.errors import DeviceConfigError

DEVICES_FILE = "devices.yaml"
DEFAULT_WORKDIR = {"ssh": "/tmp", "adb": "/data/local/tmp"}
FIELDS = {"uri", "profile", "python", "workdir", "ssh_config", "env", "description"}
URI_HINT = "use ssh://user@host[:port], adb, adb:SERIAL, or a name from devices.yaml"
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./~+-]+$")  # remote paths are put in shell commands


@dataclass(frozen=True)
class DeviceSpec:
    name: str  # what the user called it (a devices.yaml name, or the URI itself)
    transport: str  # "ssh" | "adb"
    host: str | None = None
    user: str | None = None
    port: int | None = None
    serial: str | None = None
    profile: str | None = None  # target profile the measurements belong to
    python: str = "python3"
    workdir: str = "/tmp"
    ssh_config: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        if self.transport == "adb":
            return f"adb:{self.serial}" if self.serial else "adb"
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{self.host}{port}"

    @property
    def address(self) -> str:
        """One physical device: two names for the same address never measure at the same time."""
        return self.uri

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "uri": self.uri, "transport": self.transport, "profile": self.profile}


def parse_uri(text: str, name: str | None = None) -> DeviceSpec:
    """A DeviceSpec from `ssh://user@host[:port][?python=...&workdir=...]` or `adb[:SERIAL]`."""
    text = text.strip()
    if text == "adb" or text.startswith("adb:"):
        serial = text[4:] or None
        if serial is not None and not re.fullmatch(r"[A-Za-z0-9._:-]+", serial):
            raise DeviceConfigError(
                f"device {text!r}: an adb serial is letters, digits and . _ : -", hint=URI_HINT
            )
        return DeviceSpec(name or text, "adb", serial=serial, workdir=DEFAULT_WORKDIR["adb"])
    if not text.startswith("ssh://"):
        raise DeviceConfigError(
            f"device {text!r} is neither a URI nor a name in {DEVICES_FILE}", hint=URI_HINT
        )
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise DeviceConfigError(
            f"device {text!r}: the port is not a number from 1 to 65535", hint=URI_HINT
        ) from None
    host = parts.hostname
    if not host or parts.path not in ("", "/") or parts.fragment:
        raise DeviceConfigError(
            f"device {text!r}: expected ssh://user@host[:port] with nothing after the host", hint=URI_HINT
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - {"python", "workdir"})
    if unknown:
        raise DeviceConfigError(
            f"device {text!r}: unknown option {unknown[0]!r}",
            hint="URI options are ?python=PATH&workdir=PATH",
        )
    spec = DeviceSpec(
        name or text.split("?", 1)[0],
        "ssh",
        host=host,
        user=unquote(parts.username) if parts.username else None,
        port=port,
    )
    return _with_options(spec, query, f"device {text!r}")


def _with_options(spec: DeviceSpec, options: dict[str, Any], where: str) -> DeviceSpec:
    for key in ("python", "workdir"):
        value = options.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not _SAFE_PATH.match(value):
            raise DeviceConfigError(
                f"{where}: {key} must be a plain path (letters, digits, . _ / ~ + -), got {value!r}"
            )
    if isinstance(options.get("workdir"), str) and not options["workdir"].startswith("/"):
        raise DeviceConfigError(
            f"{where}: workdir must be an absolute path on the device, got {options['workdir']!r}"
        )
    env = options.get("env") or {}
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) for k in env
    ):
        raise DeviceConfigError(f"{where}: env must map variable names to values, got {env!r}")
    ssh_config = options.get("ssh_config")
    if ssh_config is not None and not isinstance(ssh_config, str):
        raise DeviceConfigError(f"{where}: ssh_config must be a path, got {ssh_config!r}")
    profile = options.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise DeviceConfigError(f"{where}: profile must be a target name, got {profile!r}")
    return replace(
        spec,
        python=options.get("python") or spec.python,
        workdir=(options.get("workdir") or spec.workdir).rstrip("/") or "/",
        ssh_config=str(Path(ssh_config).expanduser()) if ssh_config else None,
        env={k: str(v) for k, v in env.items()},
        profile=profile or spec.profile,
    )


def devices_file() -> Path | None:
    """The devices.yaml in use: EDGEKIT_DEVICES, ./devices.yaml, then the user config."""
    if os.environ.get("EDGEKIT_DEVICES"):
        return Path(os.environ["EDGEKIT_DEVICES"]).expanduser()
    here = Path.cwd() / DEVICES_FILE
    if here.is_file():
        return here
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "edgekit" / DEVICES_FILE
    return config if config.is_file() else None


def load_devices(path: Path) -> dict[str, DeviceSpec]:
    from edgekit.yamlsafe import load

    data = load(path, what="devices file", error=DeviceConfigError)
    if not isinstance(data, dict) or not isinstance(data.get("devices"), dict):
        raise DeviceConfigError(
            f"{path}: expected a mapping with a 'devices' mapping of name -> device",
            hint="devices:\n    lab-pi4: {uri: ssh://pi@lab-pi4.local, profile: rpi4}",
        )
    out = {}
    for name, entry in data["devices"].items():
        where = f"{path}: devices.{name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("uri"), str):
            raise DeviceConfigError(f"{where}: expected a mapping with a 'uri', got {entry!r}")
        unknown = sorted(set(entry) - FIELDS)
        if unknown:
            raise DeviceConfigError(
                f"{where}: unknown field {unknown[0]!r}", hint=f"allowed: {', '.join(sorted(FIELDS))}"
            )
        out[str(name)] = _with_options(parse_uri(entry["uri"], str(name)), entry, where)
    return out


def resolve_device(text: str) -> DeviceSpec:
    """A URI, or a name looked up in devices.yaml (with its profile)."""
    if text == "adb" or text.startswith(("ssh://", "adb:")):
        return parse_uri(text)
    path = devices_file()
    known = load_devices(path) if path else {}
    if text in known:
        return known[text]
    where = (
        f"{path} names {', '.join(sorted(known)) or 'no devices'}"
        if path
        else f"no {DEVICES_FILE} was found (./{DEVICES_FILE} or ~/.config/edgekit/{DEVICES_FILE})"
    )
    raise DeviceConfigError(f"device {text!r} is neither a URI nor a known name: {where}", hint=URI_HINT)


def remote_env_prefix(spec: DeviceSpec) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in spec.env.items())

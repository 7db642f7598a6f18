"""Measure artifacts on the user's own devices over SSH or ADB.

The host side (spec, transports, remote runner) pushes an artifact and its inputs to a per-run
folder on the device and runs `python -m edgekit.devices.agent` there: the same measurement
protocol as `edgekit bench` on the host, from the device's core install of edgekit-ml.
"""

from edgekit.devices.errors import (
    DeviceConnectionError,
    DeviceError,
    DeviceTimeoutError,
)
from edgekit.devices.spec import DeviceSpec, resolve_device

__all__ = ["DeviceConnectionError", "DeviceError", "DeviceSpec", "DeviceTimeoutError", "resolve_device"]

"""Errors of the device path. All are EdgekitErrors, so the CLI maps them to exit codes in one place."""

from __future__ import annotations

from edgekit.errors import EdgekitError, UsageError


class DeviceError(EdgekitError):
    """A measurement on a device could not be made (exit 1): the device, not the artifact, is at fault."""


class DeviceConnectionError(DeviceError):
    """The connection to the device failed or dropped; nothing measured through it is kept."""


class DeviceTimeoutError(DeviceError):
    """A remote command ran past its deadline; its processes and folder were removed."""


class DeviceConfigError(UsageError):
    """A device URI or devices.yaml entry that is malformed or names nothing (exit 2)."""

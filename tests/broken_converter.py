"""A TFLite converter that fails for int8, for tests of failed conversion rows.

Conversions run in worker processes, so replacing the converter in the test's own process is not
enough: every edgekit process loads this through EDGEKIT_PLUGINS ("broken_converter:register"),
with this folder on PYTHONPATH.
"""

from __future__ import annotations

import dataclasses

from edgekit.artifact import Artifact
from edgekit.convert import FORMATS, ConversionRequest, register_format, unregister_format

PLUGIN_REF = "broken_converter:register"
MESSAGE = "converter exploded"


def register() -> None:
    plugin = FORMATS.get("tflite")
    real = plugin.convert

    def broken_for_int8(request: ConversionRequest) -> Artifact:
        if request.quant == "int8":
            raise RuntimeError(MESSAGE)
        return real(request)

    aliases = FORMATS.entry("tflite").aliases
    unregister_format("tflite")
    register_format(dataclasses.replace(plugin, convert=broken_for_int8), aliases=aliases)

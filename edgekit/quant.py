"""Quant modes: the names users write and what each one means."""

from __future__ import annotations

from edgekit.registry import Registry

QUANT_MODES: Registry[str] = Registry("quant mode")
QUANT_MODES.register(
    "fp32", "float32 weights and activations (no quantization)", aliases=("float32", "float")
)
QUANT_MODES.register("fp16", "float16 weights, float compute", aliases=("float16",))
QUANT_MODES.register(
    "dynamic-int8", "int8 weights, activations quantized at run time", aliases=("dynamic", "drq")
)
QUANT_MODES.register(
    "int8", "full integer: int8 weights and activations, needs calibration data", aliases=("full-int8",)
)
QUANT_MODES.register("int16x8", "int16 activations, int8 weights, needs calibration data", aliases=("a16w8",))
QUANT_MODES.register("uint8", "TF.js: weights stored as uint8, float compute")
QUANT_MODES.register("uint16", "TF.js: weights stored as uint16, float compute")

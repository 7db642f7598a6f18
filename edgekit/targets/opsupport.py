"""Which ops a target's runtime lacks, from the graph analysis.

LiteRT has every builtin op but not the TensorFlow ops ("Flex*" custom ops need the Flex delegate,
which the ai-edge-litert wheel and most device builds do not ship). TFLite Micro has a fixed,
smaller set: the list below is the builtin ops its MicroMutableOpResolver can register
(tensorflow/tflite-micro, tensorflow/lite/micro/micro_mutable_op_resolver.h).
"""

from __future__ import annotations

from edgekit.targets.analysis.graph import GraphAnalysis

TFLITE_MICRO_OPS = frozenset(
    """
ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_TO_SPACE_ND BROADCAST_ARGS
BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE DEPTHWISE_CONV_2D
DEQUANTIZE ELU EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND
GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG
LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC MAXIMUM MAX_POOL_2D MIRROR_PAD MEAN MINIMUM MUL NEG
NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_MAX RELU RELU6 RESHAPE RESIZE_BILINEAR
RESIZE_NEAREST_NEIGHBOR ROUND RSQRT SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT
SPLIT_V SQUEEZE SQRT SQUARE STRIDED_SLICE SUB SVDF TANH TRANSPOSE_CONV TRANSPOSE UNPACK
UNIDIRECTIONAL_SEQUENCE_LSTM VAR_HANDLE WHILE ZEROS_LIKE
CUSTOM:CIRCULAR_BUFFER CUSTOM:TFLite_Detection_PostProcess
""".split()
)


def unsupported_ops(analysis: GraphAnalysis, runtime: str) -> list[str]:
    """Op types in ANALYSIS that RUNTIME cannot run, sorted; empty when all are supported or unknown.

    The format's plugin says how to tell (`FormatPlugin.op_support`); a format without that check
    is taken as fully supported (ONNX Runtime implements the standard opsets; TF.js support is
    checked by its converter)."""
    from edgekit.convert import FORMATS, resolve_hook

    check = FORMATS.get(analysis.format).op_support if analysis.format in FORMATS else None
    return resolve_hook(check)(analysis, runtime) if check is not None else []


def tflite_unsupported_ops(analysis: GraphAnalysis, runtime: str) -> list[str]:
    """TFLite's op check: TFLite Micro's resolver list, and LiteRT without the Flex delegate."""
    types = set(analysis.op_types())
    if runtime == "tflite-micro":
        return sorted(t for t in types if t not in TFLITE_MICRO_OPS)
    if runtime == "litert":
        return sorted(t for t in types if t.startswith("CUSTOM:Flex"))
    return []


def float_kernels_on_mcu(analysis: GraphAnalysis) -> bool:
    """True when a MAC-heavy op computes in float: TFLite Micro then runs slow reference C kernels."""
    return any(op.macs and op.dtype.startswith("float") for op in analysis.ops)

"""A small catalogue of well-known image feature extractors on tfhub.dev / Kaggle Models.

Two jobs, one table:
- tfhub.dev handles moved to Kaggle Models with no general naming rule, so for these modules the
  table says which Kaggle variation a tfhub.dev path became. Both spellings then normalize to one
  canonical id (the Kaggle one) and share one cache entry. Kaggle kept the tfhub.dev version
  numbers for migrated TF2 SavedModels, so versions map one to one.
- Many Hub modules accept any image size in their signature; the table says which size and value
  range they were trained with (all TF Hub image modules take float RGB in [0, 1]).

Pure data, no TensorFlow: handle parsing uses it before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.sources.base import ModuleInfo


@dataclass(frozen=True)
class CatalogueEntry:
    tfhub: str  # tfhub.dev path without version, e.g. google/imagenet/mobilenet_v2_100_224/feature_vector
    kaggle: (
        str  # owner/model/framework/variation, framework lowercase, e.g. google/mobilenet-v2/tensorflow2/...
    )
    input_size: int  # square input side the module was trained at
    output_dim: int

    def info(self) -> ModuleInfo:
        size = (self.input_size, self.input_size)
        return ModuleInfo(
            input_size=size, value_range=(0.0, 1.0), output_dim=self.output_dim, origin="catalogue"
        )


def _mobilenet_v2(width: str, size: int, dim: int) -> CatalogueEntry:
    return CatalogueEntry(
        f"google/imagenet/mobilenet_v2_{width}_{size}/feature_vector",
        f"google/mobilenet-v2/tensorflow2/{width}-{size}-feature-vector",
        size,
        dim,
    )


def _mobilenet_v3(kind: str, width: str, dim: int) -> CatalogueEntry:
    return CatalogueEntry(
        f"google/imagenet/mobilenet_v3_{kind}_{width}_224/feature_vector",
        f"google/mobilenet-v3/tensorflow2/{kind}-{width}-224-feature-vector",
        224,
        dim,
    )


_EFFICIENTNET_SIZES = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "b4": 380, "b5": 456, "b6": 528, "b7": 600}
_EFFICIENTNET_DIMS = {
    "b0": 1280,
    "b1": 1280,
    "b2": 1408,
    "b3": 1536,
    "b4": 1792,
    "b5": 2048,
    "b6": 2304,
    "b7": 2560,
}
_LITE_SIZES = {"lite0": 224, "lite1": 240, "lite2": 260, "lite3": 280, "lite4": 300}
_V2_SIZES = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "s": 384, "m": 480, "l": 480}
_V2_DIMS = {"b0": 1280, "b1": 1280, "b2": 1408, "b3": 1536, "s": 1280, "m": 1280, "l": 1280}

ENTRIES: tuple[CatalogueEntry, ...] = (
    _mobilenet_v2("035", 224, 1280),
    _mobilenet_v2("050", 224, 1280),
    _mobilenet_v2("075", 224, 1280),
    _mobilenet_v2("100", 224, 1280),
    _mobilenet_v2("130", 224, 1664),
    _mobilenet_v2("140", 224, 1792),
    _mobilenet_v2("035", 128, 1280),
    _mobilenet_v2("050", 128, 1280),
    _mobilenet_v2("100", 128, 1280),
    _mobilenet_v2("100", 96, 1280),
    CatalogueEntry(
        "google/tf2-preview/mobilenet_v2/feature_vector",
        "google/mobilenet-v2/tensorflow2/tf2-preview-feature-vector",
        224,
        1280,
    ),
    _mobilenet_v3("small", "075", 1024),
    _mobilenet_v3("small", "100", 1024),
    _mobilenet_v3("large", "075", 1280),
    _mobilenet_v3("large", "100", 1280),
    *(
        CatalogueEntry(
            f"google/efficientnet/{b}/feature-vector",
            f"google/efficientnet/tensorflow2/{b}-feature-vector",
            s,
            _EFFICIENTNET_DIMS[b],
        )
        for b, s in _EFFICIENTNET_SIZES.items()
    ),
    *(
        CatalogueEntry(
            f"tensorflow/efficientnet/{v}/feature-vector",
            f"tensorflow/efficientnet/tensorflow2/{v}-feature-vector",
            s,
            1280,
        )
        for v, s in _LITE_SIZES.items()
    ),
    *(
        CatalogueEntry(
            f"google/imagenet/efficientnet_v2_imagenet1k_{v}/feature_vector",
            f"google/efficientnet-v2/tensorflow2/imagenet1k-{v}-feature-vector",
            s,
            _V2_DIMS[v],
        )
        for v, s in _V2_SIZES.items()
    ),
    *(
        CatalogueEntry(
            f"google/imagenet/resnet_{ver}_{depth}/feature_vector",
            f"google/resnet-{ver}/tensorflow2/{depth}-feature-vector",
            224,
            2048,
        )
        for ver in ("v1", "v2")
        for depth in ("50", "101", "152")
    ),
    CatalogueEntry(
        "google/imagenet/inception_v3/feature_vector",
        "google/inception-v3/tensorflow2/feature-vector",
        299,
        2048,
    ),
    CatalogueEntry(
        "google/imagenet/inception_resnet_v2/feature_vector",
        "google/inception-resnet-v2/tensorflow2/feature-vector",
        299,
        1536,
    ),
)

_BY_TFHUB = {e.tfhub.lower(): e for e in ENTRIES}
_BY_KAGGLE = {e.kaggle.lower(): e for e in ENTRIES}


def by_tfhub(path: str) -> CatalogueEntry | None:
    """The entry for a tfhub.dev path without its version (case-insensitive)."""
    return _BY_TFHUB.get(path.strip("/").lower())


def by_kaggle(variation_path: str) -> CatalogueEntry | None:
    """The entry for owner/model/framework/variation (framework in any case)."""
    return _BY_KAGGLE.get(variation_path.strip("/").lower())

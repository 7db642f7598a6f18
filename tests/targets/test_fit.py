"""Published rows, the fit, its cross-validation, and the committed fitted.json."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.fsutil import sha256_file
from edgekit.targets.calibration import fit
from edgekit.targets.calibration.features import PACKAGE_FEATURES, load_features
from edgekit.targets.calibration.fitted import factors, fit_published
from edgekit.targets.calibration.numerics import error_metrics, spearman
from edgekit.targets.calibration.published import PACKAGE_CALIBRATION, load_published
from edgekit.targets.fitted import load_fitted


@pytest.fixture(scope="module")
def cal():
    return load_published()


@pytest.fixture(scope="module")
def published_fit():
    return fit_published()


def test_published_rows_are_cpu_rows_of_buildable_models(cal):
    assert len(cal.rows) > 150
    reasons = [r for _, r in cal.skipped]
    assert sum("GPU delegate" in r for r in reasons) == 21 and sum("NNAPI" in r for r in reasons) == 18
    assert any("noisy" in r for r in reasons)  # RPi 5 ncnn MobileNetV1 fp32: the source marks it noisy
    assert all(r.dtype in ("fp32", "int8") and r.threads >= 1 and r.latency_ms > 0 for r in cal.rows)


def test_thread_counts_and_families_are_read_as_the_sources_state_them(cal):
    by = {(r.device, r.source, r.model, r.dtype, r.threads): r for r in cal.rows}
    assert ("pixel3a", "XNNPACK", "mobilenet_v2_1.0_224", "fp32", 2) in by  # "#big cores" on a 2+6 SoC
    assert ("rpi4b", "XNNPACK", "mobilenet_v2_1.0_224", "fp32", 4) in by  # "multi (all cores)"
    assert (
        "pixel1",
        "MNV3-README",
        "mobilenet_v2_1.4_224",
        "fp32",
        1,
    ) in by  # "not stated": the paper's 1 core
    assert {r.family for r in cal.rows if r.device == "rpi5"} == {"ncnn"}
    assert {r.os_bits for r in cal.rows if r.source == "XNNPACK" and r.device == "rpi4b"} == {32, 64}


def test_committed_fitted_json_is_the_fit_of_the_committed_data(published_fit):
    committed = load_fitted()
    assert committed["inputs"]["published_latency.csv"] == sha256_file(
        PACKAGE_CALIBRATION / "published_latency.csv"
    )
    assert committed["inputs"]["model_features.json"] == sha256_file(PACKAGE_FEATURES)
    now = factors(published_fit.theta, published_fit.layout, published_fit.design)
    for key, dev in committed["factors"]["devices"].items():
        assert now["devices"][key]["scale"] == pytest.approx(dev["scale"], rel=1e-6)
    for q, costs in committed["factors"]["compute_cost"].items():
        assert now["compute_cost"][q] == pytest.approx(costs, rel=1e-6)


def test_fit_recovers_latencies_generated_by_known_factors(published_fit):
    d = published_fit.design
    weak = fit.Layout(
        published_fit.layout.names, published_fit.layout.mu, np.full(published_fit.layout.mu.size, 100.0)
    )
    rng = np.random.default_rng(1)
    truth = weak.mu + rng.normal(0, 0.3, weak.mu.size)
    synthetic = fit.Design(**{**d.__dict__, "actual": fit.predict(truth, weak, d)})
    theta = fit.fit_theta(synthetic, weak)
    err = error_metrics(fit.predict(theta, weak, synthetic), synthetic.actual)
    assert err["median_abs_pct"] < 0.1  # with negligible priors the optimizer lands on the truth


def test_held_out_predictions_never_see_their_own_rows(published_fit):
    d, layout = published_fit.design, published_fit.layout
    groups = [fit.architecture(r.model) for r in d.rows]
    target = "MobileNetV3Small"
    mask = np.array([g == target for g in groups])
    sub = d.subset(~mask | mask)
    pred_a = fit.held_out(sub, layout, ["rest" if not m else target for m in mask])
    poisoned = fit.Design(**{**sub.__dict__, "actual": np.where(mask, sub.actual * 100, sub.actual)})
    pred_b = fit.held_out(poisoned, layout, ["rest" if not m else target for m in mask])
    assert np.allclose(pred_a[mask], pred_b[mask])  # their own (poisoned) values changed nothing


def test_committed_held_out_figures_cover_every_calibrated_device():
    held = load_fitted()["held_out"]
    for key, figures in held["devices"].items():
        assert figures["loso"]["n"] == figures["lomo"]["n"] > 0
        assert key in held["bands"] and held["bands"][key]["ratio_p10"] < held["bands"][key]["ratio_p90"]


def test_spearman_and_error_metrics():
    assert spearman(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])) == pytest.approx(-1.0)
    assert spearman(np.array([1, 2]), np.array([1, 2])) is None
    m = error_metrics(np.array([110.0, 80.0, 100.0, 150.0]), np.array([100.0, 100.0, 100.0, 100.0]))
    assert (
        m["median_abs_pct"] == pytest.approx(15.0) and m["within_25"] == pytest.approx(0.75) and m["n"] == 4
    )


def test_features_cover_every_published_model(cal):
    features = load_features()
    assert {(r.model, r.dtype) for r in cal.rows} <= set(features)
    for (_model, _dtype), f in features.items():
        assert f.compute.sum() > 0 and f.memory.sum() > 0 and math.isfinite(float(f.n_ops))


def test_a_runtime_whose_only_source_is_left_out_is_predicted_from_its_group(published_fit):
    d, layout = published_fit.design, published_fit.layout
    ncnn = np.array([r.source == "NCNN" for r in d.rows])
    t = np.append(fit.fit_theta(d.subset(~ncnn), layout), 0.0)
    assert t[layout.at("fam:ncnn:fp32")] == pytest.approx(0.0, abs=1e-3)  # never seen: its prior
    assert t[layout.at("grp:native:fp32")] < -0.1  # learned from XNNPACK, the other runtime of its kind
    committed = load_fitted()["factors"]
    assert committed["dotprod"]["fp32"] == 1.0 and committed["dotprod"]["int8"] > 1.0


def test_too_few_calibration_models_is_a_clear_error(tmp_path):
    import json

    from edgekit.errors import UsageError

    data = json.loads(PACKAGE_FEATURES.read_text())
    data["models"] = {k: v for k, v in data["models"].items() if k == "mobilenet_v1_0.25_224"}
    subset = tmp_path / "model_features.json"
    subset.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="1 calibration model") as info:
        fit_published(features_path=subset)
    assert "without --models" in info.value.hint


def test_one_source_is_a_clear_error_not_a_failed_cross_validation(tmp_path):
    import json

    from edgekit.errors import UsageError

    data = json.loads(PACKAGE_FEATURES.read_text())
    data["models"] = {
        k: v for k, v in data["models"].items() if k.startswith("ncnn_")
    }  # only ncnn publishes them
    subset = tmp_path / "model_features.json"
    subset.write_text(json.dumps(data))
    with pytest.raises(
        UsageError, match="source[(]s[)] NCNN and architecture[(]s[)] MobileNetV3Large, SqueezeNet"
    ):
        fit_published(features_path=subset)

"""Device URIs, devices.yaml and the trust verdict from a fingerprint (no device needed)."""

from __future__ import annotations

import pytest

from edgekit.cli import main
from edgekit.devices.agent import integrity_errors
from edgekit.devices.errors import DeviceConfigError
from edgekit.devices.fingerprint import trust_reasons
from edgekit.devices.spec import load_devices, parse_uri, resolve_device


def test_ssh_and_adb_uris():
    s = parse_uri("ssh://pi@lab-pi4.local:2222?python=/home/pi/venv/bin/python")
    assert (s.transport, s.user, s.host, s.port, s.python, s.name) == (
        "ssh",
        "pi",
        "lab-pi4.local",
        2222,
        "/home/pi/venv/bin/python",
        "ssh://pi@lab-pi4.local:2222",
    )
    assert parse_uri("ssh://jetson").uri == "ssh://jetson" and parse_uri("ssh://jetson").workdir == "/tmp"
    a = parse_uri("adb:R58M12345")
    assert (a.transport, a.serial, a.workdir, a.uri) == (
        "adb",
        "R58M12345",
        "/data/local/tmp",
        "adb:R58M12345",
    )
    assert parse_uri("adb").serial is None


@pytest.mark.parametrize(
    "text, says",
    [
        ("ssh://pi@host:99999", "port"),
        ("ssh://pi@host/path", "nothing after the host"),
        ("ssh://host?pyton=/x", "unknown option 'pyton'"),
        ("ssh://host?python=/x;rm -rf /", "plain path"),
        ("adb:bad serial", "adb serial"),
        ("telnet://host", "neither a URI nor a name"),
    ],
)
def test_bad_uris_say_what_is_wrong(text, says):
    with pytest.raises(DeviceConfigError, match=says):
        parse_uri(text)


def test_devices_file(tmp_path, monkeypatch):
    (tmp_path / "devices.yaml").write_text(
        "devices:\n  lab-pi4:\n    uri: ssh://pi@lab-pi4.local\n    profile: rpi4\n    python: /opt/ek/bin/python\n"
        "    env: {OMP_NUM_THREADS: 4}\n  phone: {uri: 'adb:R58M', profile: android-high}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EDGEKIT_DEVICES", raising=False)
    pi = resolve_device("lab-pi4")
    assert (pi.name, pi.profile, pi.python, pi.env) == (
        "lab-pi4",
        "rpi4",
        "/opt/ek/bin/python",
        {"OMP_NUM_THREADS": "4"},
    )
    assert resolve_device("phone").serial == "R58M"
    with pytest.raises(DeviceConfigError, match="names lab-pi4, phone"):
        resolve_device("lab-pi5")


@pytest.mark.parametrize(
    "body, says",
    [
        ("devices: [a, b]\n", "a 'devices' mapping"),
        ("devices:\n  x: {profile: rpi4}\n", "with a 'uri'"),
        ("devices:\n  x: {uri: 'ssh://h', prfile: rpi4}\n", "unknown field 'prfile'"),
        ("devices:\n  x: {uri: 'ssh://h', workdir: tmp}\n", "absolute path"),
        ("devices:\n  x: {uri: 'ssh://h', env: {'A B': 1}}\n", "env must map"),
    ],
)
def test_bad_devices_files(tmp_path, body, says):
    path = tmp_path / "devices.yaml"
    path.write_text(body)
    with pytest.raises(DeviceConfigError, match=says):
        load_devices(path)


def test_bench_with_an_unknown_device_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("EDGEKIT_DEVICES", raising=False)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    assert main(["bench", str(model), "--device", "lab-pi4"]) == 2
    err = capsys.readouterr().err
    assert "device 'lab-pi4' is neither a URI nor a known name: no devices.yaml was found" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


def test_trust_verdict_from_fingerprints():
    cool = {"throttled": 0, "temperatures_c": {"cpu-thermal": 51.0}}
    assert trust_reasons(cool, cool) == []
    assert trust_reasons({"throttled": None, "temperatures_c": {}}, {}) == []
    hot = {"throttled": 0, "temperatures_c": {"cpu-thermal": 83.2}}
    assert trust_reasons(cool, hot) == ["overheated after the run (cpu-thermal at 83.2 °C >= 80 °C)"]
    during = trust_reasons({"throttled": 0x0}, {"throttled": 0x40000})
    assert during == ["throttled during the run (vcgencmd get_throttled 0x0 -> 0x40000: throttled)"]
    assert (
        trust_reasons({"throttled": 0x50000}, {"throttled": 0x50000}) == []
    )  # long ago, not during this run


def test_integrity_check(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    good = {"a.bin": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
    assert integrity_errors(tmp_path, good) == []
    assert "a.bin: sha256 on the device is" in integrity_errors(tmp_path, {"a.bin": "0" * 64})[0]
    assert integrity_errors(tmp_path, {"b.bin": "0" * 64}) == ["b.bin is missing on the device"]


def test_convert_with_an_unknown_device_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("EDGEKIT_DEVICES", raising=False)
    assert (
        main(
            ["convert", "--target", "rpi4", "--out", str(tmp_path / "out"), "--device", "ssh://pi@host:0x16"]
        )
        == 2
    )
    assert "the port is not a number" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_report_shows_device_latency_next_to_the_estimate():
    from edgekit.report.rows import columns_for, display_row

    measured = {"status": "ok", "p50_ms": 12.5, "validity": "UNTRUSTED", "device": {"name": "lab-pi4"}}
    artifact = {
        "format": "tflite",
        "quant": "int8",
        "status": "ok",
        "estimate": {"latency_ms": 11.0},
        "device": [measured],
    }
    columns = columns_for({"artifacts": [artifact]})
    assert columns[columns.index("est. target") + 1] == "device p50"
    assert display_row(artifact)["device p50"] == "12.50 ms (lab-pi4) UNTRUSTED"
    assert "device p50" not in columns_for({"artifacts": [{**artifact, "device": None}]})


@pytest.mark.parametrize(
    "argv, says",
    [
        (["targets", "calibrate", "--name", "x"], "not neither"),
        (["targets", "calibrate", "r.json", "--device", "adb", "--name", "x"], "not both"),
    ],
)
def test_calibrate_needs_results_or_a_device(tmp_path, monkeypatch, capsys, argv, says):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert says in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_fingerprint_reads_clocks_and_temperatures(tmp_path):
    from edgekit.devices.fingerprint import cpus, temperatures

    for n, mhz in ((10, 600), (2, 1800), (0, 1500)):
        folder = tmp_path / "cpu" / f"cpu{n}" / "cpufreq"
        folder.mkdir(parents=True)
        (folder / "scaling_cur_freq").write_text(f"{mhz * 1000}\n")
        (folder / "cpuinfo_max_freq").write_text("1800000\n")
        (folder / "scaling_governor").write_text("ondemand\n")
    zone = tmp_path / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("81234\n")
    (zone / "type").write_text("cpu-thermal\n")
    assert [(c["cpu"], c["mhz"], c["max_mhz"], c["governor"]) for c in cpus(str(tmp_path / "cpu"))] == [
        ("cpu0", 1500, 1800, "ondemand"),
        ("cpu2", 1800, 1800, "ondemand"),
        ("cpu10", 600, 1800, "ondemand"),
    ]
    temps = temperatures(str(tmp_path / "thermal"))
    assert temps == {"cpu-thermal": 81.234}
    assert trust_reasons({"temperatures_c": temps}, {})[0].startswith(
        "overheated before the run (cpu-thermal at 81.2 °C"
    )


def test_tfjs_models_are_refused_before_connecting(tmp_path, monkeypatch, capsys):
    web = tmp_path / "web_model"
    web.mkdir()
    (web / "model.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert main(["bench", str(web), "--device", "ssh://pi@192.0.2.1"]) == 2  # TEST-NET: never reached
    assert "TF.js models cannot be measured with --device" in capsys.readouterr().err

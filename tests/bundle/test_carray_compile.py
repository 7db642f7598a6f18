"""The bundle's C array and header compile with a real toolchain: the Cortex-M cross compiler
(Debian's gcc-arm-none-eabi) when present, and the host compiler, whose program reads the array
back byte for byte."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from synthetic import write_run_dir

from edgekit.bundle.archive import read_bundle
from edgekit.bundle.build import write_bundle

SYMBOL = "demo_int8_tflite"
MAIN = f"""#include <cstdio>
#include <cstdint>
#include "{SYMBOL}.h"
int main() {{
  if (reinterpret_cast<std::uintptr_t>({SYMBOL}) % 16 != 0) return 3;  // TFLM reads the flatbuffer in place
  std::fwrite({SYMBOL}, 1, {SYMBOL}_len, stdout);
  return 0;
}}
"""


@pytest.fixture()
def firmware(tmp_path):
    files = {
        e.name: e.data for e in read_bundle(write_bundle(write_run_dir(tmp_path), tmp_path / "b.tar.gz"))
    }
    src = tmp_path / "fw"
    src.mkdir()
    for name in (f"firmware/{SYMBOL}.h", f"firmware/{SYMBOL}.cc"):
        (src / name.split("/")[1]).write_bytes(files[name])
    return src, files["artifacts/tflite-int8/model.tflite"]


def _run(cmd: list[str], cwd) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, (cmd, done.stderr.decode(errors="replace"))
    return done


@pytest.mark.skipif(
    not shutil.which("arm-none-eabi-g++"),
    reason="no arm-none-eabi-g++ (Debian: apt-get install gcc-arm-none-eabi)",
)
def test_cross_compiles_for_cortex_m7(firmware):
    src, model = firmware
    _run(
        [
            "arm-none-eabi-g++",
            "-mcpu=cortex-m7",
            "-mthumb",
            "-mfpu=fpv5-d16",
            "-mfloat-abi=hard",
            "-std=c++11",
            "-Os",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-c",
            f"{SYMBOL}.cc",
            "-o",
            "model.o",
        ],
        src,
    )
    symbols = _run(["arm-none-eabi-nm", "-S", "--defined-only", "model.o"], src).stdout.decode().split("\n")
    rows = {line.split()[-1]: line.split() for line in symbols if len(line.split()) == 4}
    assert int(rows[SYMBOL][1], 16) == len(model) and int(rows[f"{SYMBOL}_len"][1], 16) == 4
    assert rows[SYMBOL][2] == "R"  # read-only data: the model stays in flash, not copied to RAM
    sections = _run(["arm-none-eabi-readelf", "-S", "-W", "model.o"], src).stdout.decode()
    rodata = next(line for line in sections.splitlines() if ".rodata" in line)
    assert int(rodata.split()[-1]) >= 16  # the section keeps the array's 16-byte alignment


@pytest.mark.skipif(
    not (shutil.which("g++") or shutil.which("c++")), reason="no host C++ compiler (g++ or c++)"
)
def test_host_compiler_reads_back_the_model_bytes(firmware):
    src, model = firmware
    (src / "main.cc").write_text(MAIN)
    cxx = shutil.which("g++") or shutil.which("c++")
    _run([cxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "main.cc", f"{SYMBOL}.cc", "-o", "readback"], src)
    assert _run([str(src / "readback")], src).stdout == model

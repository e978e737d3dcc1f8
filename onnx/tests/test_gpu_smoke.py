"""onnx/gpu_smoke.py without a GPU: its CPU mode on the fixture, and its refusal when CUDA is missing."""
import onnxruntime as ort
import pytest

from conftest import TINY_MODEL


def test_cpu_only_on_the_fixture(capsys):
    import gpu_smoke

    assert gpu_smoke.main([TINY_MODEL, "--cpu-only", "--reference", TINY_MODEL, "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out and "timestep input is float32" in out


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is available here")
def test_no_cuda_is_exit_status_2(capsys):
    import gpu_smoke

    assert gpu_smoke.main([TINY_MODEL]) == 2
    assert "CUDAExecutionProvider is not available" in capsys.readouterr().err

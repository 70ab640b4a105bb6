import torch

from lstmkit.core import device


def test_bf16_on_a_cpu_without_it_warns(monkeypatch, caplog):
    monkeypatch.setattr(device, "native_cpu_bf16", lambda: False)
    with caplog.at_level("WARNING"):
        assert device.autocast_dtype("bf16", torch.device("cpu")) is torch.bfloat16
    assert "no native bf16" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert device.autocast_dtype("auto", torch.device("cpu")) is None
    assert caplog.text == ""

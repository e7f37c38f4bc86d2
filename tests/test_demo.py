import pytest

pytest.importorskip("sklearn")

from daekit import DenoisingAutoencoder
from daekit.demo import digits_demo


def test_digits_demo_trains_saves_and_beats_the_noisy_input(tmp_path, capsys):
    result = digits_demo(str(tmp_path / "demo"), steps=300, quiet=True)
    assert result["psnr_denoised"] > result["psnr_noisy"] + 2
    assert "daekit DAE" in capsys.readouterr().out
    DenoisingAutoencoder.from_pretrained(tmp_path / "demo")

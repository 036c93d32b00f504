"""The gridding measure: validated on maps whose answer is known, and run on real networks' levels."""

import math

import pytest
import torch

from drnlib.analysis import gridding
from drnlib.errors import ParameterError
from drnlib.models import build_model


@pytest.mark.parametrize("dilation, height, width, phase", [(2, 16, 16, (0, 0)), (4, 33, 21, (1, 3)), (3, 30, 12, (2, 0))])
def test_a_pure_grid_scores_one_in_both_formulations(dilation, height, width, phase):
    grid = torch.zeros(height, width)
    grid[phase[0]::dilation, phase[1]::dilation] = 1.0
    assert gridding.grid_energy_share(grid, dilation).item() == pytest.approx(1.0, abs=1e-9)
    assert gridding.polyphase_share(grid, dilation).item() == pytest.approx(1.0, abs=1e-9)
    assert gridding.measure(grid, dilation)["index"] == pytest.approx(1.0, abs=1e-9)


def test_smooth_maps_score_near_zero_and_noise_near_chance():
    generator = torch.Generator().manual_seed(0)
    smooth = gridding.smooth_field(64, sigma=4, generator=generator, batch=8)
    for dilation in (2, 4):
        assert gridding.grid_energy_share(smooth, dilation).item() < 1e-4
        assert gridding.measure(smooth, dilation)["index"] < 0
    noise = torch.randn(400, 32, 32, generator=generator)
    chance = gridding.chance_share(32, 32, 4)
    assert chance == pytest.approx(15 / 1023)
    assert gridding.grid_energy_share(noise, 4).item() == pytest.approx(chance, rel=0.1)


def test_a_grid_in_equal_power_noise_scores_one_half():
    maps = gridding.validation_maps(size=64, dilation=2, seed=1)
    shares = {name: gridding.measure(m, 2)["share"] for name, m in maps.items()}
    assert shares["pure grid"] == pytest.approx(1.0)
    assert shares["grid + equal-power noise"] == pytest.approx(0.5, abs=0.05)
    assert shares["smooth field"] < 1e-4
    assert shares["one pixel, dilated conv (Fig. 4c)"] > shares["... then a 1-dilated conv"] > shares["white noise"]


def test_fourier_and_polyphase_formulations_agree_per_map_and_pooled():
    maps = torch.randn(3, 5, 24, 20).relu() + 0.3 * gridding.grid_pattern(24, 4)[:, :20]
    per_map_fft = gridding.grid_energy_share(maps, 4, per_map=True)
    per_map_space = gridding.polyphase_share(maps, 4, per_map=True)
    assert per_map_fft.shape == (3, 5)
    torch.testing.assert_close(per_map_fft, per_map_space)
    pooled = gridding.grid_energy_share(maps, 4).item()
    assert pooled == pytest.approx(gridding.polyphase_share(maps, 4).item())
    assert per_map_fft.min().item() <= pooled <= per_map_fft.max().item()


def test_constant_maps_carry_no_energy():
    constant = torch.full((8, 8), 0.1)
    assert math.isnan(gridding.grid_energy_share(constant, 2).item())
    mixed = torch.stack([constant, gridding.grid_pattern(8, 2)])
    per_map = gridding.grid_energy_share(mixed, 2, per_map=True)
    assert math.isnan(per_map[0].item()) and per_map[1].item() == pytest.approx(1.0)
    assert gridding.grid_energy_share(mixed, 2).item() == pytest.approx(1.0)  # the dead map does not count


def test_bad_inputs_are_refused_in_one_line():
    with pytest.raises(ParameterError, match="dilation must be an integer >= 2"):
        gridding.grid_energy_share(torch.randn(8, 8), 1)
    with pytest.raises(ParameterError, match="less than two periods"):
        gridding.grid_energy_share(torch.randn(7, 16), 4)
    with pytest.raises(ParameterError, match="at least 2 dimensions"):
        gridding.grid_energy_share(torch.randn(16), 2)
    assert math.isnan(gridding.measure(torch.randn(1, 4, 6, 6), 4)["index"])


def test_figure4_one_pixel_through_a_dilated_convolution_makes_a_lattice():
    size, dilation = 15, 2
    output = gridding.dilated_response(gridding.single_pixel(size), dilation)
    active = output.nonzero().tolist()
    assert len(active) == 9
    centre = size // 2
    assert all((r - centre) % dilation == 0 and (c - centre) % dilation == 0 for r, c in active)
    # stacking dilated convolutions grids more; one undilated convolution afterwards grids less
    pixel = gridding.single_pixel(33)
    index = [gridding.measure(gridding.dilated_response(pixel, 2, layers=n), 2)["index"] for n in (1, 2, 3)]
    assert index[0] < index[1] < index[2]
    degridded = gridding.dilated_response(gridding.dilated_response(pixel, 2, layers=3), 1)
    assert gridding.measure(degridded, 2)["index"] < index[2]


def test_level_gridding_of_real_networks():
    torch.manual_seed(0)
    images = gridding.input_images("synthetic", 1, 64)
    assert images.shape == (1, 3, 64, 64) and images.std() > 0.1
    model = build_model("drn_c_26")
    model.train()
    outputs = gridding.level_outputs(model, images)
    assert model.training  # mode restored
    rows = gridding.level_gridding(outputs, 4)
    assert [r["level"] for r in rows] == list(outputs) == [f"layer{i}" for i in range(1, 9)]
    last = rows[-1]
    assert (last["channels"], last["height"], last["width"]) == (512, 8, 8)
    assert 0 <= last["share"] <= 1 and last["chance"] == pytest.approx(15 / 63)
    resnet_rows = gridding.level_gridding(gridding.level_outputs(build_model("resnet18"), images), 4)
    assert math.isnan(resnet_rows[-1]["index"])  # a 2x2 map holds no two periods of 4

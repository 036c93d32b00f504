"""A gridding measure: the share of a feature map's energy at the aliasing frequencies of a dilation.

A d-dilated convolution reads its input on a lattice of period d. When the input has content above that
sampling rate, the output repeats with period d: the gridding artifact of Yu et al. (2017), Figure 4.
A map that repeats with period d along both axes has a 2D DFT that is zero everywhere except at the
frequencies (k*H/d, l*W/d), k, l = 0..d-1. So we measure gridding as

    share = energy at (k*H/d, l*W/d), (k, l) != (0, 0)  /  energy at every frequency but DC.

It is 1 for a pure period-d pattern, about the chance level (d*d - 1) / (H*W - 1) for white noise, and near 0
for smooth maps. By Parseval it equals the variance of the means of the d*d sub-lattices x[i::d, j::d] divided
by the variance of the whole map, which is how `polyphase_share` computes it (a cross-check for the tests).
Maps are cropped to multiples of d first, so that the aliasing frequencies fall on DFT bins.

The paper shows gridding by eye (Figures 3, 4, 6, 7); this measure is our addition ("Beyond the papers").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from drnlib.errors import DataError, ParameterError


def _check_dilation(dilation: int) -> int:
    if not isinstance(dilation, int) or isinstance(dilation, bool) or dilation < 2:
        raise ParameterError(f"dilation must be an integer >= 2 to have aliasing frequencies, got {dilation!r}")
    return dilation


def _crop(maps: torch.Tensor, dilation: int) -> torch.Tensor:
    """Crop [..., H, W] to the largest multiple of `dilation` on each axis (top-left corner kept)."""
    if maps.dim() < 2:
        raise ParameterError(f"feature maps need at least 2 dimensions [..., H, W], got shape {tuple(maps.shape)}")
    height, width = (s - s % dilation for s in maps.shape[-2:])
    if height < 2 * dilation or width < 2 * dilation:  # one period only: every frequency would be a grid one
        raise ParameterError(
            f"a {maps.shape[-2]}x{maps.shape[-1]} map holds less than two periods of dilation {dilation} per axis"
        )
    return maps[..., :height, :width].double()


def grid_mask(height: int, width: int, dilation: int) -> torch.Tensor:
    """Boolean [height, width] mask of the aliasing frequencies of `dilation`, DC excluded."""
    _check_dilation(dilation)
    if height % dilation or width % dilation:
        raise ParameterError(f"a {height}x{width} map is not a multiple of dilation {dilation}; crop it first")
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[:: height // dilation, :: width // dilation] = True
    mask[0, 0] = False
    return mask


def chance_share(height: int, width: int, dilation: int) -> float:
    """Expected share of white noise on a height x width map (after cropping to multiples of `dilation`)."""
    _check_dilation(dilation)
    if min(height, width) < 2 * dilation:
        raise ParameterError(f"a {height}x{width} map holds less than two periods of dilation {dilation} per axis")
    height, width = height - height % dilation, width - width % dilation
    return (dilation * dilation - 1) / (height * width - 1)


def grid_energy_share(maps: torch.Tensor, dilation: int, per_map: bool = False) -> torch.Tensor:
    """Share of non-DC spectral energy at the aliasing frequencies of `dilation`, for maps shaped [..., H, W].

    By default the energies of all maps (channels, images) are summed first, so strong maps weigh more and dead
    (constant) maps do not count. With `per_map=True` the result has the leading shape, NaN for constant maps.
    """
    _check_dilation(dilation)
    maps = _crop(maps, dilation)
    height, width = maps.shape[-2:]
    centred = maps - maps.mean((-2, -1), keepdim=True)  # removes DC
    power = torch.fft.fft2(centred).abs().square() / (height * width)  # Parseval: sums to the energy in space
    mask = grid_mask(height, width, dilation).to(power.device)
    return _ratio(power[..., mask].sum(-1), power.sum((-2, -1)), maps, per_map)


def _ratio(part: torch.Tensor, total: torch.Tensor, maps: torch.Tensor, per_map: bool) -> torch.Tensor:
    """part / total, summed over all maps unless per_map; NaN where a map (or all) is constant."""
    raw = maps.square().sum((-2, -1))
    if not per_map:
        part, total, raw = part.sum(), total.sum(), raw.sum()
    # A constant map leaves only rounding noise (~1e-32 of its energy) after removing the mean.
    constant = total <= 1e-20 * raw
    return torch.where(constant, torch.full_like(total, math.nan), part / total.clamp_min(1e-300))


def polyphase_share(maps: torch.Tensor, dilation: int, per_map: bool = False) -> torch.Tensor:
    """The same measure computed in space: variance of the d*d sub-lattice means over the map's variance."""
    _check_dilation(dilation)
    maps = _crop(maps, dilation)
    height, width = maps.shape[-2:]
    centred = maps - maps.mean((-2, -1), keepdim=True)
    lattices = centred.unflatten(-2, (height // dilation, dilation)).unflatten(-1, (width // dilation, dilation))
    lattice_means = lattices.mean((-4, -2))  # [..., d, d]
    between = lattice_means.square().sum((-2, -1)) * (height // dilation) * (width // dilation)
    return _ratio(between, centred.square().sum((-2, -1)), maps, per_map)


def gridding_index(share: float, chance: float) -> float:
    """Rescale a share so that white noise scores 0 and a pure grid 1 (smoother than noise is negative)."""
    return (share - chance) / (1.0 - chance)


def measure(maps: torch.Tensor, dilation: int) -> dict:
    """Share, chance level and gridding index of maps [..., H, W] (NaN where the map is below two periods)."""
    height, width = maps.shape[-2:]
    if min(height, width) < 2 * dilation:
        return {"share": math.nan, "chance": math.nan, "index": math.nan}
    share = float(grid_energy_share(maps, dilation))
    chance = chance_share(height, width, dilation)
    return {"share": share, "chance": chance, "index": gridding_index(share, chance)}


# Synthetic inputs: the didactic example of Figure 4 and test patterns for validating the measure.


def single_pixel(size: int) -> torch.Tensor:
    """A size x size map with one active pixel in the middle (Figure 4a)."""
    if size < 1:
        raise ParameterError(f"size must be a positive integer, got {size}")
    image = torch.zeros(size, size)
    image[size // 2, size // 2] = 1.0
    return image


def dilated_response(image: torch.Tensor, dilation: int, kernel_size: int = 3, layers: int = 1) -> torch.Tensor:
    """`image` [H, W] after `layers` convolutions with an all-ones kernel at `dilation` (Figure 4b, 4c)."""
    if dilation < 1 or kernel_size < 1 or layers < 0:
        raise ParameterError(f"need dilation >= 1, kernel_size >= 1, layers >= 0; got {dilation}, {kernel_size}, {layers}")
    weight = torch.ones(1, 1, kernel_size, kernel_size)
    out = image[None, None].float()
    for _ in range(layers):
        out = F.conv2d(out, weight, padding=dilation * (kernel_size - 1) // 2, dilation=dilation)
    return out[0, 0]


def grid_pattern(size: int, dilation: int, phase: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """A pure period-`dilation` grid: ones on the lattice (phase + dilation * Z^2), zeros elsewhere."""
    image = torch.zeros(size, size)
    image[phase[0] :: dilation, phase[1] :: dilation] = 1.0
    return image


def smooth_field(size: int, sigma: float, generator: torch.Generator | None = None, batch: int = 1) -> torch.Tensor:
    """White noise blurred by a Gaussian of std `sigma` pixels: smooth random maps [batch, size, size]."""
    noise = torch.randn(batch, 1, size, size, generator=generator)
    radius = max(1, int(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    noise = F.conv2d(F.pad(noise, (radius,) * 4, mode="circular"), g.view(1, 1, 1, -1))
    noise = F.conv2d(noise, g.view(1, 1, -1, 1))
    return noise[:, 0]


def input_images(dataset: str, count: int, size: int) -> torch.Tensor:
    """`count` normalised images [count, 3, size, size] from the validation split of a drnlib data set, resized to
    size x size: "synthetic" needs no data (the smoke profile); "camvid", "tiny_imagenet"... are read from the
    data cache (a missing data set is a one-line DataError from drnlib.data)."""
    from drnlib.data.factory import build_dataset

    options = {"image_size": size, "num_samples": count} if dataset == "synthetic" else {}
    data = build_dataset(dataset, "val", transform="default", limit=count, **options)
    if len(data) < count:
        raise DataError(f"{dataset} has {len(data)} validation images, fewer than the {count} asked for")
    images = [torch.as_tensor(data[i][0]).float()[None] for i in range(count)]
    return torch.cat([F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) for x in images])


def validation_maps(size: int = 64, dilation: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Maps whose gridding is known in advance, to check the measure: a pure grid (1), a grid in equal-power
    noise (about 1/2), white noise (chance), a smooth field (0), and Figure 4's example before/after a
    1-dilated convolution."""
    generator = torch.Generator().manual_seed(seed)
    grid = grid_pattern(size, dilation)
    noise = torch.randn(size, size, generator=generator)
    grid_noise = (grid - grid.mean()) / (grid - grid.mean()).square().mean().sqrt()  # unit power, like noise
    response = dilated_response(single_pixel(size), dilation)
    return {
        "pure grid": grid,
        "grid + equal-power noise": grid_noise + noise,
        "white noise": torch.randn(size, size, generator=generator),
        "smooth field": smooth_field(size, sigma=size / 16, generator=generator)[0],
        "one pixel, dilated conv (Fig. 4c)": response,
        "... then a 1-dilated conv": dilated_response(response, 1),
    }


@torch.no_grad()
def level_outputs(model: torch.nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every level's output of `model` on `images` (`model.forward_levels` in eval mode, mode restored after)."""
    was_training = model.training
    model.eval()
    try:
        levels = model.forward_levels(images)
    finally:
        model.train(was_training)
    if not levels:
        raise ParameterError("model.forward_levels returned no levels")
    return levels


def level_gridding(levels: dict[str, torch.Tensor], dilation: int = 4) -> list[dict]:
    """One row per level: level, channels, height, width, share, chance, index (NaN below two periods)."""
    _check_dilation(dilation)
    return [
        {"level": name, "channels": int(maps.shape[1]), "height": int(maps.shape[-2]), "width": int(maps.shape[-1]),
         **measure(maps.float(), dilation)}
        for name, maps in levels.items()
    ]

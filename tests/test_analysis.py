"""Analysis tools: gradient paths, lesions, activation maps, FLOPs, speed."""

import pytest
import torch

from drnlib.analysis.activations import class_activation_map, level_input, strongest_map_per_level
from drnlib.analysis.architecture import count_flops, level_table
from drnlib.analysis.paths import (gradient_by_path_length, lesion_study, path_length_distribution,
                                   residual_units)
from drnlib.analysis.speed import inference_throughput, training_step_flops, training_throughput
from drnlib.models import build_model


def test_path_length_distribution_is_binomial():
    assert path_length_distribution(3) == [1, 3, 3, 1]
    assert sum(path_length_distribution(54)) == 2 ** 54


def test_gradient_by_path_length_keeps_the_forward_and_resets_the_switches():
    torch.manual_seed(0)
    model = build_model("resnet_cifar_20", num_classes=10).eval()
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    with torch.no_grad():
        before = model(x)
    n = len(residual_units(model))
    assert n == 9
    result = gradient_by_path_length(model, [(x, y)], ks=[0, 4, n], samples_per_k=2, progress=False)
    assert set(result) == {0, 4, n} and all(len(v) == 2 for v in result.values())
    assert all(v > 0 and v == v for values in result.values() for v in values)
    # k = n has a single path set: every unit through its branch -> both samples agree exactly
    assert result[n][0] == pytest.approx(result[n][1])
    assert all(u.gradient_path is None for u in residual_units(model))
    with torch.no_grad():
        torch.testing.assert_close(model(x), before)


def test_k_zero_is_the_gradient_through_the_shortcuts_alone():
    """k = 0: the backward pass sees only shortcuts (identities and 1x1 projections); the value is its input
    gradient norm divided by the batch size."""
    torch.manual_seed(0)
    model = build_model("resnet_cifar_20", num_classes=10).eval()
    x, y = torch.randn(2, 3, 32, 32), torch.randint(0, 10, (2,))
    gates = gradient_by_path_length(model, [(x, y)], ks=[0], samples_per_k=1, progress=False)[0][0]
    x2 = x.clone().requires_grad_(True)
    for unit in residual_units(model):
        unit.gradient_path = "shortcut"
    loss = torch.nn.functional.cross_entropy(model(x2), y) * 2
    grad, = torch.autograd.grad(loss, x2)
    for unit in residual_units(model):
        unit.gradient_path = None
    assert gates == pytest.approx(grad.norm().item() / 2)


def test_lesion_study_deletes_one_branch_at_a_time():
    torch.manual_seed(0)
    model = build_model("resnet_cifar_20", num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        full = model(x)
    scores = lesion_study(model, lambda m: (m(x) - full).abs().max().item(), progress=False)
    assert len(scores) == 9 and all(s > 0 for s in scores)
    assert not any(u.lesioned for u in residual_units(model))


def test_class_activation_maps_have_the_final_resolution():
    torch.manual_seed(0)
    image = torch.randn(3, 64, 64)
    for name, size in [("resnet18", 2), ("drn_c_26", 8), ("drn_a_18", 8)]:
        model = build_model(name, num_classes=5).eval()
        cam, cls = class_activation_map(model, image)
        with torch.no_grad():
            assert cls == int(model(image[None]).argmax())
        assert cam.shape == (size, size) and (cam >= 0).all() and (cam <= 1).all()


def test_level_input_is_what_enters_level_3():
    image = torch.randn(3, 64, 64)
    drn_a = level_input(build_model("drn_a_18").eval(), image, level=3)   # after the max-pool
    drn_b = level_input(build_model("drn_b_26").eval(), image, level=3)   # after level 2's residual block
    assert drn_a.shape == (64, 16, 16) and drn_b.shape == (32, 32, 32)
    maps = strongest_map_per_level(build_model("drn_c_26").eval(), image)
    assert list(maps) == [f"layer{i}" for i in range(1, 9)] and maps["layer8"][0].shape == (8, 8)


def test_level_table_and_flops():
    table = level_table("drn_c_26")
    assert list(table.index) == list(range(1, 9))
    assert table.loc[6, "dilation"] == "4" and table.loc[8, "resolution"] == 28
    # ResNet-18 at 224: 1.82 GMACs is the well-known figure -> 3.6 GFLOPs with a multiply-add counted as 2
    assert count_flops("resnet18") == pytest.approx(3.64e9, rel=0.01)
    assert count_flops("drn_a_18") > 4 * count_flops("resnet18")  # levels 5-6 now run at 28x28


def test_speed_helpers_run_on_cpu():
    model = build_model("resnet_cifar_20", num_classes=10)
    timing = inference_throughput(model, batch_size=2, input_size=32, warmup=1, iters=2)
    assert timing.images_per_s > 0 and timing.precision == "fp32"
    train = training_throughput(model, batch_size=2, input_size=32, warmup=1, iters=2, precision="bf16")
    assert train.images_per_s > 0
    seg = build_model("drn_d_22", num_classes=3, task="segment")
    assert training_throughput(seg, batch_size=1, input_size=32, warmup=0, iters=1, num_classes=3).images_per_s > 0
    assert training_step_flops(model, batch_size=2, input_size=32) > 2 * count_flops(model, 32)

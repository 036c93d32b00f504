"""The model zoo: exact parameter counts, resolutions, dilations, weights from torchvision and fyu/drn."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
import yaml

from drnlib.analysis.architecture import depth, final_resolution, trace_layers
from drnlib.errors import ParameterError, UnknownModelError
from drnlib.models import build_model, list_models, load_weights, model_from_config
from drnlib.models.blocks import DilatedMaxPool, init_weights

PUBLISHED = yaml.safe_load((Path(__file__).parents[1] / "drnlib" / "published.yaml").read_text())
DRN_COUNTS = PUBLISHED["drn"]["params_official_code"]
WOD = PUBLISHED["wider_or_deeper"]
DRNS = [n for n in list_models() if n.startswith("drn_")]
RESNETS = [f"resnet{d}" for d in (18, 34, 50, 101, 152)]


def meta_model(name, **kw):
    with torch.device("meta"):
        return build_model(name, **kw)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# --- parameter counts: equal to the official code's, to the integer ----------------------------------------------

@pytest.mark.parametrize("name", sorted(DRN_COUNTS))
def test_drn_and_resnet_parameter_counts(name):
    assert n_params(meta_model(name, num_classes=1000)) == DRN_COUNTS[name]


@pytest.mark.parametrize("alias", sorted(WOD["models"]))
def test_wider_or_deeper_parameter_counts_from_name_strings(alias):
    row = WOD["models"][alias]
    model = meta_model(row["spec"], num_classes=1000)
    assert n_params(model) == row["params"]
    assert n_params(model) - n_params(model.fc) == row["trunk"]
    if alias != "unnamed_16":
        assert n_params(meta_model(f"model_{alias.lower()}")) == row["params"]  # the letter is an alias


@pytest.mark.parametrize("name", ["model_a1", "resnet38"])
def test_model_a_variants_have_model_a_parameters(name):
    """Replacing pools by stride-2 convs adds no weight: A1 and the released ResNet-38 layout count as Model A."""
    row = WOD["models"]["A"]
    model = meta_model(name, num_classes=1000)
    assert n_params(model) == row["params"] == 109_167_912
    assert n_params(model) - n_params(model.fc) == row["trunk"] == 105_070_912
    assert depth(model) == 38


@pytest.mark.parametrize("classes", [21, 19, 150, 60])
def test_wod_segmentation_heads_and_totals(classes):
    heads = WOD["segmentation_head_params"]
    one = meta_model("model_a", num_classes=classes, task="segment", head="1conv")
    two = meta_model("model_a1", num_classes=classes, task="segment", head="2conv")
    assert n_params(one.seg) == heads["one_conv"][classes]
    assert n_params(two.seg) == heads["two_conv"][classes]
    totals = {21: "voc_21", 19: "cityscapes_19", 150: "ade20k_150", 60: "context_60"}
    assert n_params(two) == WOD["model_a_2conv_total_params"][totals[classes]]


@pytest.mark.parametrize("name", sorted(PUBLISHED["drn"]["segmentation_params_official_code"]))
def test_drn_segmentation_parameter_counts(name):
    expected = PUBLISHED["drn"]["segmentation_params_official_code"][name]
    model = meta_model(name, num_classes=19, task="segment")
    assert n_params(model.seg) == expected["seg"]
    assert n_params(model) - n_params(model.seg) == expected["base"]


def test_drn_c_58_unused_projection_can_be_dropped():
    full, lean = meta_model("drn_c_58"), meta_model("drn_c_58", drop_unused=True)
    assert n_params(full) - n_params(lean) == 1_049_600  # fyu/drn's computed-but-unused layer7 projection
    with pytest.raises(ParameterError):
        build_model("drn_c_26", drop_unused=True)


def test_depth_read_from_modules_matches_every_name():
    for name in list_models():
        digits = name.rsplit("_", 1)[-1] if not name[0].isdigit() else None
        if digits and digits.isdigit():
            assert depth(meta_model(name)) == int(digits), name
    assert depth(meta_model("model_a")) == 38  # "ResNet-38"
    assert depth(meta_model("model_b")) == 20


# --- resolution ----------------------------------------------------------------------------------------------------

def test_final_map_is_28_for_every_drn_and_7_for_every_resnet_at_224():
    for name in DRNS:
        assert final_resolution(meta_model(name)) == 28, name
    for name in RESNETS:
        assert final_resolution(meta_model(name)) == 7, name


def test_segment_returns_input_sized_logits_for_odd_sizes():
    x = torch.randn(1, 3, 225, 301)
    for name in ["drn_c_26", "drn_d_22", "drn_a_18"]:
        with torch.no_grad():
            assert build_model(name, num_classes=11, task="segment").eval()(x).shape == (1, 11, 225, 301)
    for head in ["1conv", "2conv"]:  # WoD: shapes on the meta device (the net is 100M+ parameters)
        model = meta_model("model_a", num_classes=21, task="segment", head=head)
        assert model(x.to("meta")).shape == (1, 21, 225, 301)
        assert model.forward_features(torch.zeros(1, 3, 504, 504, device="meta")).shape[-1] == 63  # output stride 8


@pytest.mark.parametrize("name", ["drn_a_18", "drn_b_26", "drn_c_26", "drn_d_22", "drn_c_58"])
def test_dense_maps_are_one_eighth_of_the_input(name):
    model = meta_model(name, num_classes=7, task="dense")
    for h, w in [(224, 224), (96, 160), (225, 301)]:
        assert model(torch.zeros(2, 3, h, w, device="meta")).shape == (2, 7, -(-h // 8), -(-w // 8))


def test_classify_pools_globally_at_any_size():
    model = build_model("drn_c_26", num_classes=5).eval()
    with torch.no_grad():
        for size in [(64, 64), (80, 112)]:
            assert model(torch.randn(1, 3, *size)).shape == (1, 5)


# --- dilation: DRN paper Figure 5 and Section 2 ------------------------------------------------------------------

# Figure 5: the dilation of each level, and its resolution at a 224 input (levels 5-8 stay at 28).
FIG5_DILATION = {1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 6: 4, 7: 2, 8: 1}
FIG5_RESOLUTION = {1: 224, 2: 112, 3: 56, 4: 28, 5: 28, 6: 28, 7: 28, 8: 28}


@pytest.mark.parametrize("name, levels", [("drn_a_18", {3, 4, 5, 6}), ("drn_c_26", {1, 2, 3, 4, 5, 6, 7, 8})])
def test_every_3x3_conv_has_figure_5_dilation_level_by_level(name, levels):
    convs = [r for r in trace_layers(meta_model(name)) if r.kind == "conv" and r.kernel == 3]
    assert {r.level for r in convs} == levels  # DRN-A-18 has no 3x3 conv in levels 1-2 and no levels 7-8
    for r in convs:
        assert r.dilation == FIG5_DILATION[r.level], (r.name, r.level, r.dilation)
        assert r.resolution == FIG5_RESOLUTION[r.level], r.name


def test_drn_a_follows_section_2_group_by_group():
    """G4 (layer3): stride removed, dilation 2 from its second layer on; G5 (layer4): 2 on its first layer, 4 after.
    The same for BasicBlock (DRN-A-18/34) and Bottleneck (DRN-A-50, where only the 3x3 convs dilate)."""
    for name in ["drn_a_18", "drn_a_34", "drn_a_50"]:
        model = meta_model(name)
        for group, (first, rest) in {"layer3": (1, 2), "layer4": (2, 4)}.items():
            convs = [m for n, m in getattr(model, group).named_modules()
                     if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
            assert [c.dilation[0] for c in convs] == [first] + [rest] * (len(convs) - 1), (name, group)
            assert all(c.stride == (1, 1) for c in convs)
    official = meta_model("drn_a_50", official_dilation=True)  # fyu/drn's DRN_A: layer4[0] undilated
    assert official.layer4[0].conv2.dilation == (1, 1) and official.layer4[1].conv2.dilation == (4, 4)


def test_drn_a_keeps_the_resnet_receptive_field():
    resnet, drn = trace_layers(meta_model("resnet18")), trace_layers(meta_model("drn_a_18"))
    assert resnet[-1].receptive_field == drn[-1].receptive_field == 435


def test_receptive_field_agrees_with_the_gradient_support():
    """The analytic field (read off the modules) equals the input area that the centre output unit depends on."""
    torch.manual_seed(0)
    model = build_model("resnet_cifar_20", num_classes=10).eval()
    size = 96
    x = torch.randn(4, 3, size, size, requires_grad=True)
    features = model.forward_features(x)
    c = features.shape[-1] // 2
    features[:, :, c, c].sum().backward()
    support = (x.grad.abs().sum((0, 1)) > 0).nonzero()
    extent = int(support[:, 0].max() - support[:, 0].min() + 1)
    assert extent == trace_layers(model, size)[-1].receptive_field


# --- output-stride conversion: WoD Section 5, DRN Section 2, architectures.md B.4 --------------------------------

def wod_names():
    """Every WoD name of the zoo (letters, name strings, A1, the released ResNet-38), a 112 and a 56 net, and a
    name whose empty B4 hands B5 a 3x3/4 pool (only half of that stride is removed at output stride 8)."""
    from drnlib.models import aliases
    from drnlib.models.specs import WOD_VARIANTS, is_wod_name
    zoo = [n for n in list_models() if is_wod_name(n) or n in aliases() or n in WOD_VARIANTS]
    names = zoo + ["112-1-1-1-1-1-1-1", "56-1-1-1-1-1-1-1", "224-1-1-1-0-1-1-1"]

    def units(name):  # nets with the same units share one set of weights (`trunk_state`): run them together
        string = aliases().get(name) or WOD_VARIANTS.get(name, (name,))[0]
        return string.split("-", 1)[1]
    return sorted(names, key=units)


# (net with its native strides, options), (converted net, options), the converted net's output stride
CONVERSIONS = (
    [pytest.param((n, {}), (n, {"task": "segment", "dropout": False}), 8, id=f"{n}-segment") for n in wod_names()]
    + [pytest.param((f"resnet{d}", {}), (f"resnet{d}", {"output_stride": s}), s, id=f"resnet{d}-os{s}")
       for d in (18, 34, 50, 101) for s in (8, 16)]
    + [pytest.param((f"resnet{d}", {}), (f"drn_a_{d}", {}), 8, id=f"drn_a_{d}") for d in (18, 34, 50)]
)
_STATES: dict = {}


def stride_of(model):
    from drnlib.models.zoo import _native_stride
    return _native_stride(model.spec)


def trunk_state(model):
    """Random trunk weights and BN statistics for `model`'s layout, made once per layout: nets that differ only in
    their strides, pools or dilations (A, A1, ResNet-38; D and F; a net and its alias) share one state_dict."""
    signature = tuple((k, tuple(v.shape)) for k, v in model.state_dict().items() if not k.startswith(("fc.", "seg.")))
    if signature not in _STATES:
        _STATES.clear()  # one layout at a time: the WoD nets hold 60-170M parameters each
        with torch.device("meta"):  # init once (a CPU build would run torch's default init first)
            layout = build_model(model.name).to_empty(device="cpu")
        with torch.random.fork_rng():
            torch.manual_seed(len(signature))
            init_weights(layout, layout.spec.conv_init)  # He-normal, as built: activations keep their scale
            randomize_batchnorm(layout)
        _STATES[signature] = {k: v for k, v in layout.state_dict().items() if not k.startswith("fc.")}
    return _STATES[signature]


def loaded(name, **options):
    """`name` built on the meta device, its trunk filled with the shared random weights (no init cost)."""
    with torch.device("meta"):
        model = build_model(name, **options)
    missing, unexpected = model.load_state_dict(trunk_state(model), strict=False, assign=True)
    assert not unexpected and all(k.startswith(("fc.", "seg.")) for k in missing), (missing, unexpected)
    return model.eval()


def relative_difference(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("native, converted, output_stride", CONVERSIONS)
def test_output_stride_conversion_keeps_every_receptive_field(native, converted, output_stride):
    """With the same weights, the converted net's final map subsampled by (native stride / its stride) equals the
    native net's: strides removed at the layer that carried them, every later layer dilated (DRN Section 2; WoD
    Section 5: a pooling level's pool goes to stride 1 at the earlier dilation, its convs take the new one)."""
    classifier, dense = loaded(native[0], **native[1]), loaded(converted[0], **converted[1])
    assert stride_of(dense) == min(output_stride, stride_of(classifier))  # the 56 nets are already at 8
    factor = stride_of(classifier) // stride_of(dense)
    x = torch.randn(1, 3, 33, 33, generator=torch.Generator().manual_seed(0))  # odd: every stride pads its border
    with torch.no_grad():
        reference, features = classifier.forward_features(x), dense.forward_features(x)
    assert features.shape[-1] == -(-33 // stride_of(dense)) and min(reference.shape[-2:]) >= 2
    assert relative_difference(features[..., ::factor, ::factor], reference) < 1e-5
    fields = [trace_layers(n, 224, **o)[-1].receptive_field for n, o in (native, converted)]
    assert fields[0] == fields[1]  # the analytic field too (read off the modules)


def test_official_drn_a_dilation_keeps_layer3_and_changes_layer4():
    """fyu/drn's DRN_A (official_dilation) leaves layer4's first block undilated: layer3 still matches ResNet-50
    subsampled, the final map does not (the paper's rule, tested above, matches both)."""
    resnet, official = loaded("resnet50"), loaded("drn_a_50", official_dilation=True)
    x = torch.randn(1, 3, 33, 33, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = resnet.forward_levels(x), official.forward_levels(x)
    assert relative_difference(theirs["layer3"][..., ::2, ::2], ours["layer3"]) < 1e-5
    assert relative_difference(theirs["layer4"][..., ::4, ::4], ours["layer4"]) > 1e-2


def convs(module, kernel=3):
    return [m for m in module.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (kernel, kernel)]


def test_resnet38_model_a1_and_model_a_downsample_where_each_source_says():
    """model_a: five max-pools; model_a1 (paper): pools before B2, B3, stride-2 convs at B4-B6; resnet38 (released
    code, rna_feat_a1): stride-2 convs on the first conv and the projection of the first unit of B2 ... B6."""
    pools = {n: sorted(name for name, m in meta_model(n).named_modules()
                       if isinstance(m, (torch.nn.MaxPool2d, DilatedMaxPool)))
             for n in ("model_a", "model_a1", "resnet38")}
    assert pools == {"model_a": [f"pool{i}" for i in range(1, 6)], "model_a1": ["pool1", "pool2"], "resnet38": []}
    for name, strided in {"model_a": [], "model_a1": ["b4", "b5", "b6"],
                          "resnet38": ["b2", "b3", "b4", "b5", "b6"]}.items():
        model = meta_model(name)
        for level in model.level_names:
            unit = getattr(model, level)[0]
            want = (2, 2) if level in strided else (1, 1)
            assert unit.conv1.stride == want, (name, level)
            assert unit.shortcut is None or unit.shortcut.stride == want, (name, level)
        assert final_resolution(model) == 7


def test_resnet38_segmentation_layout_follows_the_released_code():
    """Output stride 8 (architectures.md B.4): B5's first conv at stride 1 and dilation 1, its other 3x3 convs at 2;
    every 3x3 in B6 and B7 at 4; dropout 0.3 in B6 and 0.5 in B7; no stride left past B4."""
    model = meta_model("resnet38", num_classes=21, task="segment")
    assert [c.dilation[0] for c in convs(model.b5)] == [1, 2, 2, 2, 2, 2]
    assert [c.dilation[0] for c in convs(model.b6) + convs(model.b7)] == [4, 4]
    assert all(m.stride == (1, 1) for level in ("b5", "b6", "b7") for m in getattr(model, level).modules()
               if isinstance(m, torch.nn.Conv2d))
    assert (model.b6[0].dropout.p, model.b7[0].dropout.p) == (0.3, 0.5)
    assert model.forward_features(torch.zeros(1, 3, 504, 504, device="meta")).shape[-1] == 63
    pooled = meta_model("model_a", num_classes=21, task="segment")  # pools: stride 1 at the earlier dilation
    assert [c.dilation[0] for c in convs(pooled.b5)] == [2] * 6
    assert (pooled.pool4.stride, pooled.pool5.stride, pooled.pool5.dilation) == (1, 1, 2)


@pytest.mark.parametrize("pair", [("model_a1", "resnet38"), ("model_a", "resnet38")])
def test_released_resnet38_weights_load_into_model_a1_but_compute_another_net(pair):
    """The shapes agree, so one state_dict loads strictly into both layouts; their features differ."""
    state = dict(trunk_state(meta_model("resnet38")))
    x = torch.randn(1, 3, 33, 33, generator=torch.Generator().manual_seed(0))
    state.update({f"fc.{k}": v for k, v in torch.nn.Linear(4096, 1000).state_dict().items()})  # a whole net
    features = []
    for name in pair:
        model = meta_model(name, num_classes=1000)
        model.load_state_dict(state, strict=True, assign=True)
        with torch.no_grad():
            features.append(model.eval().forward_features(x))
    assert features[0].shape == features[1].shape
    assert relative_difference(features[0], features[1]) > 0.05


# --- forward, backward, channels_last, compile ----------------------------------------------------------------

@pytest.mark.parametrize("name, task", [("resnet18", "classify"), ("drn_a_18", "dense"), ("drn_b_26", "segment"),
                                        ("drn_c_26", "classify"), ("drn_d_22", "segment"), ("drn_c_58", "classify"),
                                        ("56-1-1-1-1-1-1-1", "classify"), ("resnet_cifar_20", "classify")])
def test_forward_and_backward_on_cpu(name, task):
    torch.manual_seed(0)
    model = build_model(name, num_classes=4, task=task)
    x = torch.randn(2, 3, 48, 48)
    out = model(x)
    loss = out.float().logsumexp(1).mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert torch.isfinite(loss)
    unused = {"layer7.0.downsample.0.weight", "layer7.0.downsample.1.weight", "layer7.0.downsample.1.bias"}
    missing = [n for n, p in model.named_parameters() if p.grad is None and n not in unused]
    assert not missing, missing
    assert sum(g.abs().sum() for g in grads if g is not None) > 0


def test_wod_segmentation_net_trains_a_step():
    model = build_model("56-1-1-1-1-1-1-1", num_classes=3, task="segment", head="2conv")
    out = model(torch.randn(1, 3, 40, 40))
    F.cross_entropy(out, torch.randint(0, 3, (1, 40, 40))).backward()
    assert out.shape == (1, 3, 40, 40) and model.seg[0].weight.grad is not None


def test_channels_last_and_compile_change_no_output():
    torch.manual_seed(0)
    model = build_model("resnet_cifar_20", num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        reference = model(x)
        channels_last = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        compiled = torch.compile(model)(x)
    torch.testing.assert_close(channels_last, reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(compiled, reference, rtol=1e-4, atol=1e-5)


# --- weights --------------------------------------------------------------------------------------------------------

def randomize_batchnorm(model):
    """Give BN non-trivial statistics so that a wrong wiring cannot hide behind identity-like layers."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


@pytest.mark.parametrize("name, reference", [
    ("resnet18", lambda: torchvision.models.resnet18()),
    ("resnet34", lambda: torchvision.models.resnet34()),
    ("resnet50", lambda: torchvision.models.resnet50()),
    ("drn_a_50", lambda: torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True])),
])
def test_torchvision_state_dict_loads_strictly_and_gives_the_same_outputs(name, reference):
    torch.manual_seed(0)
    theirs = randomize_batchnorm(reference()).eval()
    ours = load_weights(build_model(name), theirs.state_dict()).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def official_drn_forward(state, x, arch, block, layers):
    """fyu/drn's DRN forward restated from architectures.md A.1-A.2, functionally, reading the official key names.

    An independent restatement: if our module names or wiring (strides, dilations, residual flags, D's plain
    layers) differed from the official layout, a key lookup would fail or the outputs would differ.
    """
    def bn(t, p):
        return F.batch_norm(t, state[f"{p}.running_mean"], state[f"{p}.running_var"], state[f"{p}.weight"],
                            state[f"{p}.bias"], False, 0.0, 1e-5)

    def conv(t, p, stride=1, dilation=1):
        w = state[f"{p}.weight"]
        return F.conv2d(t, w, state.get(f"{p}.bias"), stride, dilation * (w.shape[-1] // 2), dilation)

    def basic(t, p, stride, dilation, residual):
        out = bn(conv(F.relu(bn(conv(t, f"{p}.conv1", stride, dilation), f"{p}.bn1")), f"{p}.conv2", 1, dilation),
                 f"{p}.bn2")
        if residual:
            has_proj = f"{p}.downsample.0.weight" in state
            out = out + (bn(conv(t, f"{p}.downsample.0", stride), f"{p}.downsample.1") if has_proj else t)
        return F.relu(out)

    def bottleneck(t, p, stride, dilation, residual):
        out = F.relu(bn(conv(t, f"{p}.conv1"), f"{p}.bn1"))
        out = F.relu(bn(conv(out, f"{p}.conv2", stride, dilation), f"{p}.bn2"))
        out = bn(conv(out, f"{p}.conv3"), f"{p}.bn3")
        has_proj = f"{p}.downsample.0.weight" in state
        return F.relu(out + (bn(conv(t, f"{p}.downsample.0", stride), f"{p}.downsample.1") if has_proj else t))

    def blocks(t, name, kind, n, stride, dilation, residual=True):
        for i in range(n):
            t = kind(t, f"{name}.{i}", stride if i == 0 else 1, dilation, residual)
        return t

    def plain(t, name, n, stride, dilation):
        for i in range(n):
            t = F.relu(bn(conv(t, f"{name}.{3 * i}", stride if i == 0 else 1, dilation), f"{name}.{3 * i + 1}"))
        return t

    main = {"basic": basic, "bottleneck": bottleneck}[block]
    if arch == "C":
        x = F.relu(bn(conv(x, "conv1"), "bn1"))
        x = blocks(x, "layer1", basic, layers[0], 1, 1)
        x = blocks(x, "layer2", basic, layers[1], 2, 1)
    else:
        x = F.relu(bn(conv(x, "layer0.0"), "layer0.1"))
        x = plain(x, "layer1", layers[0], 1, 1)
        x = plain(x, "layer2", layers[1], 2, 1)
    for level, stride, dilation in [(3, 2, 1), (4, 2, 1), (5, 1, 2), (6, 1, 4)]:
        x = blocks(x, f"layer{level}", main, layers[level - 1], stride, dilation)
    for level, dilation in [(7, 2), (8, 1)]:
        if arch == "C":
            x = blocks(x, f"layer{level}", basic, layers[level - 1], 1, dilation, residual=False)
        else:
            x = plain(x, f"layer{level}", layers[level - 1], 1, dilation)
    return conv(x.mean((2, 3), keepdim=True), "fc").flatten(1)


@pytest.mark.parametrize("name, arch, block, layers", [
    ("drn_c_26", "C", "basic", [1, 1, 2, 2, 2, 2, 1, 1]),
    ("drn_c_58", "C", "bottleneck", [1, 1, 3, 4, 6, 3, 1, 1]),
    ("drn_d_22", "D", "basic", [1, 1, 2, 2, 2, 2, 1, 1]),
    ("drn_d_40", "D", "basic", [1, 1, 3, 4, 6, 3, 2, 2]),
])
def test_official_drn_layout_loads_strictly_and_gives_the_same_outputs(name, arch, block, layers):
    torch.manual_seed(0)
    state = randomize_batchnorm(build_model(name, num_classes=10)).state_dict()
    x = torch.randn(1, 3, 64, 64)
    expected = official_drn_forward(state, x, arch, block, layers)
    model = load_weights(build_model(name, num_classes=10), state).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)
    assert (name == "drn_c_58") == ("layer7.0.downsample.0.weight" in state)  # the official unused projection
    if name == "drn_c_58":
        lean = load_weights(build_model(name, num_classes=10, drop_unused=True), state).eval()
        with torch.no_grad():
            torch.testing.assert_close(lean(x), expected, rtol=1e-4, atol=1e-4)


def test_official_segmentation_checkpoint_maps_base_indices():
    """fyu/drn segment.py saves DRNSeg: base.<i> = the i-th child of the trunk, seg, and a frozen `up`."""
    torch.manual_seed(0)
    trunk = randomize_batchnorm(build_model("drn_d_22", num_classes=1000)).state_dict()
    children = ["layer0"] + [f"layer{i}" for i in range(1, 9)]
    official = {f"base.{children.index(k.split('.')[0])}.{k.split('.', 1)[1]}": v
                for k, v in trunk.items() if not k.startswith("fc.")}
    official.update({"seg.weight": torch.randn(19, 512, 1, 1), "seg.bias": torch.randn(19),
                     "up.weight": torch.randn(19, 1, 16, 16)})
    model = load_weights(build_model("drn_d_22", num_classes=19, task="segment"), {"state_dict": official})
    loaded = model.state_dict()
    for key, value in trunk.items():
        if not key.startswith("fc."):
            assert torch.equal(loaded[key], value), key
    torch.testing.assert_close(model.seg.weight, official["seg.weight"])


def test_imagenet_weights_load_into_a_segmentation_net_as_backbone():
    classifier = build_model("drn_c_26")
    segmenter = load_weights(build_model("drn_c_26", num_classes=11, task="segment"), classifier.state_dict(),
                             backbone_only=True)
    torch.testing.assert_close(segmenter.layer8[0].conv2.weight, classifier.layer8[0].conv2.weight)


def test_weights_of_another_model_are_refused_in_one_line():
    from drnlib.errors import CheckpointError
    with pytest.raises(CheckpointError) as err:
        load_weights(build_model("drn_c_26"), build_model("drn_d_22").state_dict())
    assert "drn_c_26" in str(err.value) and "\n" not in str(err.value)


# --- names ---------------------------------------------------------------------------------------------------------

def test_unknown_name_lists_the_closest_valid_names():
    with pytest.raises(UnknownModelError) as err:
        build_model("drn_c_27")
    assert "drn_c_26" in str(err.value)
    with pytest.raises(UnknownModelError):
        build_model("224-0-3-3-6-3-1")  # six units is not a WoD name
    with pytest.raises(UnknownModelError):
        build_model("100-0-3-3-6-3-1-1")  # not 7 * 2^k
    assert isinstance(UnknownModelError("x"), ValueError)


def test_names_are_normalised_and_configs_rebuild_the_model():
    assert build_model("DRN-C-26").name == "drn_c_26"
    model = build_model("drn_d_22", num_classes=19, task="segment")
    rebuilt = model_from_config(model.build_config)
    assert rebuilt.state_dict().keys() == model.state_dict().keys()


def test_gradient_path_switch_keeps_values_and_routes_gradients():
    block = build_model("resnet_cifar_20").layer1[0].eval()
    x = torch.randn(1, 16, 8, 8, requires_grad=True)
    reference = block(x)
    for path in ["branch", "shortcut"]:
        block.gradient_path = path
        out = block(x)
        torch.testing.assert_close(out, reference)
        grad, branch_grad = torch.autograd.grad(out.sum(), [x, block.conv1.weight], allow_unused=True)
        assert (branch_grad is None) == (path == "shortcut")
        assert grad.abs().sum() > 0
    block.gradient_path = None

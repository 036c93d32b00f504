"""The Wider-or-Deeper classification pages: Figure 1 (the unravelled view), Figure A.4 (gradient per path length)
and Table 1 (wider or deeper on ImageNet), their runs, measurements and claims.

    p = start("wod_fig1", globals())       # drnlib.pages.start: the page's parameters, checked with RULES below
    nets = trained(p)                      # {arch: Run} of the page's recipes (drnlib.runs: found or trained)
    lesions = lesion_results(p, nets)      # {arch: Lesions}: per-image errors with each unit deleted
    grads = path_gradients(p, nets)        # {arch: PathGradients}: gradient at the input per path length, per batch
    verdicts = fig1_verdicts(p, nets, lesions, grads)

    rows = table1_rows(crop_scale(p))      # book/wod_table1.py: the paper's rows, crops and ours
    trained_rows = table1_runs(p)          # {row label: Run}: the `wod_classifier` runs (and two ablations)
    table1_intervals(test_scores(p, rows, trained_rows))   # errors with 95% intervals, for "paper vs ours"

Runs are shared through their recipes (params/<profile>/recipes.yaml): both path pages use the `cifar_resnet` runs
(ResNet-110 at mini and paper), Figure A.4 and Table 1 the `wod_classifier` runs (Model A, ResNet-101/152: ImageNet
at the paper profile, Tiny-ImageNet-100 at mini), which also start the WoD segmentation nets (drnlib.pages.
wod_segmentation). WoD nets are named by their letters where they have one (model_a, ...), so that every page finds
the same run.

The claims (drnlib/claims.yaml, pages wod_fig1, wod_figA4, wod_table1) are decided by drnlib.paper's one rule:
per-image errors of networks tested on the same images (paired bootstrap), per-batch gradient curves (bootstrap over
the batches), per-repeat timings; structural facts exactly, on networks built on the meta device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from drnlib import paper, recipes, runs
from drnlib.analysis import paths
from drnlib.params import between, models, one_of

CIFAR_NETS = ("resnet_cifar_20", "resnet_cifar_56", "resnet_cifar_110")
IMAGENET_RESNETS = ("resnet50", "resnet101", "resnet152")
DEVICES = ("auto", "cpu", "cuda")


def _one(rule):
    """The rule of a list parameter applied to a single name (a str parameter)."""
    def check(name, value):
        return rule(name, [value])[0]
    return check


def table1_archs(wod_only: bool = False, at_least: int = 1):
    """A drnlib.params rule: names of Table 1 rows (ResNet-50, model_a, '224-0-3-3-6-3-1-1', ...), each returned in
    the spelling its run uses (the letter name where a WoD net has one), without repeats."""
    def rule(name, value):
        from drnlib.models import aliases

        letters = {spec: letter for letter, spec in aliases().items()}
        names = [letters.get(a, a) for a in models(at_least=at_least)(name, value)]
        rows = table1_rows()
        allowed = rows["arch"][rows["name"] != ""] if wod_only else rows["arch"]
        one_of(*allowed)(name, names)
        return list(dict.fromkeys(names))
    return rule


def _optional(rule):
    """`rule`, or "" (none)."""
    def check(name, value):
        return value if value == "" else rule(name, value)
    return check


PATH_RULES = {"gradient_images": between(1, 50000), "gradient_batch": between(1), "samples_per_k": between(1),
              "k_step": between(1), "seed": between(0), "device": one_of(*DEVICES), "max_test_error": between(0, 100)}
RULES = {
    "wod_fig1": {"archs": models(CIFAR_NETS), "recipe": one_of("cifar_resnet"), "lesion_images": between(1, 10000),
                 "gradient_mass": between(0.5, 0.99), **PATH_RULES},
    "wod_figA4": {"resnet": _one(models(CIFAR_NETS)), "cifar_recipe": one_of("cifar_resnet"),
                  "wod_net": _one(table1_archs(wod_only=True)),
                  "imagenet_resnets": models(IMAGENET_RESNETS, at_least=0), "imagenet_recipe": one_of("wod_classifier"),
                  **PATH_RULES},
    "wod_table1": {"archs": table1_archs(), "recipe": one_of("wod_classifier"),
                   "schedule_recipe": one_of("wod_classifier_step"), "schedule_arch": _optional(_one(table1_archs())),
                   "speed_scale": between(0.01, 4), "speed_iters": between(1), "speed_repeats": between(2),
                   "device": one_of(*DEVICES)},
}


# The runs.


def needed_runs(page: str, p) -> list:
    """The runs (drnlib.runs.RunSpec) a page trains: Figure 1 its CIFAR ResNets; Figure A.4 a CIFAR ResNet, a WoD net
    and ImageNet ResNets; Table 1 its rows and the ablations of WOD-19 and WOD-22."""
    if page == "wod_fig1":
        return [runs.RunSpec(p.recipe, arch) for arch in p.archs]
    if page == "wod_figA4":
        return [runs.RunSpec(p.cifar_recipe, p.resnet), runs.RunSpec(p.imagenet_recipe, p.wod_net),
                *(runs.RunSpec(p.imagenet_recipe, arch) for arch in p.imagenet_resnets)]
    if page == "wod_table1":
        return list(table1_specs(p).values())
    return []


def trained(p) -> dict:
    """{arch: finished Run} of a path page (drnlib.runs.get_all: found, resumed or trained; at the paper profile a
    missing run stops the page with the commands that train it)."""
    return {spec.arch: run for spec, run in runs.get_all(p.profile, needed_runs(p.page, p)).items()}


def pretty(arch: str) -> str:
    """The papers' spelling: resnet_cifar_110 -> ResNet-110, resnet152 -> ResNet-152, model_a -> Model A."""
    if arch.startswith("resnet_cifar_"):
        return f"ResNet-{arch.rsplit('_', 1)[1]}"
    if arch.startswith("resnet") and arch[6:].isdigit():
        return f"ResNet-{arch[6:]}"
    if arch.startswith("model_"):
        return f"Model {arch[6:].upper()}"
    return arch


def data_note(run) -> str:
    """'cifar10 (50,000 training images, 32 px)': what a run trained on."""
    cfg = run.config
    return f"{cfg.dataset} ({run.result['train_images']:,} training images, {cfg.crop_size} px)"


def training_table(nets: dict) -> pd.DataFrame:
    """Per network (the papers' names): data set, residual units (counted on the network built on the meta device),
    parameters, epochs, training and test images and test top-1 error of its run."""
    from drnlib.models import build_model

    rows = {}
    for arch, run in nets.items():
        with torch.device("meta"):
            units = len(paths.residual_units(build_model(arch, num_classes=run.result["num_classes"])))
        rows[pretty(arch)] = {"data set": run.config.dataset, "units": units, "params": run.result["params"],
                              "epochs": run.result["epochs"], "train images": run.result["train_images"],
                              "test images": run.result["val_images"],
                              "test top-1 error (%)": run.result["val"]["top1_error"]}
    return pd.DataFrame(rows).T.infer_objects()


# The unravelled view: lesions and gradients per path length (Figure 1, Figure A.4).


def too_poorly_trained(run, max_test_error: float) -> str | None:
    """Why a network cannot test a claim about trained networks (its test error above `max_test_error`, %), or
    None when it can."""
    error = run.result["val"]["top1_error"]
    if error <= max_test_error:
        return None
    return (f"{pretty(run.config.arch)} has {error:.1f}% test error (> {max_test_error:g}%): too poorly trained to "
            "test a claim about trained networks")


def _batches(run, split: str, count: int, batch_size: int, device) -> list:
    """Fixed images of the run's data set, transformed as the run evaluates (its own crop, no augmentation)."""
    from drnlib.train import get_task

    transform = get_task("classify").eval_transform(run.config)
    return paths.load_batches(run.config.dataset, split, count, batch_size, device, run.config.data_root, transform)


@dataclass
class Lesions:
    """Veit et al.'s lesion study of one network on fixed test images: `table` (one row per residual unit: module,
    channels, projection, error (%) with its branch deleted), `intact` (N: 1 where the intact net is wrong) and
    `lesioned` (units x N: the same with each unit deleted)."""

    table: pd.DataFrame
    intact: np.ndarray
    lesioned: np.ndarray

    @property
    def identity(self) -> np.ndarray:
        """The per-image errors with one identity-shortcut unit deleted (units x N)."""
        return self.lesioned[~self.table["projection"].to_numpy()]

    def summary(self) -> dict:
        """Error of the intact net (%), and the increase (points) with a unit deleted: median and largest over the
        identity units, mean over the projection units (None for a net without any)."""
        intact = 100 * self.intact.mean()
        increase = 100 * self.lesioned.mean(axis=1) - intact
        projection = self.table["projection"].to_numpy()
        return {"intact_error": float(intact), "median_increase_identity": float(np.median(increase[~projection])),
                "max_increase_identity": float(increase[~projection].max()),
                "mean_increase_projection": float(increase[projection].mean()) if projection.any() else None}


def lesion_results(p, nets: dict) -> dict:
    """{arch: Lesions} on the first `p.lesion_images` test images (the runs' evaluation transform)."""
    from drnlib.train import resolve_device

    device = resolve_device(p.device)
    out = {}
    for arch, run in nets.items():
        model = run.model(device=device)
        wrong = paths.wrong_predictions(_batches(run, "val", p.lesion_images, 500, device))
        table = paths.unit_table(model)
        lesioned = np.stack(paths.lesion_study(model, wrong, progress=False))
        table["error (%)"] = 100 * lesioned.mean(axis=1)
        out[arch] = Lesions(table, wrong(model), lesioned)
    return out


@dataclass
class PathGradients:
    """WoD's Appendix A.2 experiment on one network: `units` (n), `stats` (paths.path_statistics over every draw)
    and `per_batch` (paths.batch_means: one curve per batch of images, the units of the uncertainty)."""

    units: int
    stats: pd.DataFrame
    per_batch: pd.DataFrame

    def per_batch_values(self, measure) -> np.ndarray:
        """measure(curve) for each batch's curve (a Series of mean gradients by k): one value per batch."""
        return np.array([measure(row) for _, row in self.per_batch.iterrows()], dtype=float)

    def carrying_share(self, mass: float) -> np.ndarray:
        """Per batch: the path length that delivers `mass` of the gradient, as a share of the units."""
        return self.per_batch_values(lambda row: paths.carrying_length(row, self.units, mass) / self.units)

    def long_path_share(self) -> np.ndarray:
        """Per batch: the share of the gradient delivered by the paths through more than half of the units."""
        return self.per_batch_values(lambda row: paths.share_longer_than(row, self.units, self.units / 2))

    def decay(self) -> np.ndarray:
        """Per batch: orders of magnitude (log10) the gradient of one path loses per extra unit on it."""
        return self.per_batch_values(paths.decay_per_unit)

    def change(self) -> np.ndarray:
        """Per batch: the fitted change in log10 of the gradient from the shortest path to the longest (decay x n)."""
        return self.decay() * self.units

    def summary(self, mass: float = 0.9) -> dict:
        """The curve over every draw: log10 decay per unit and its fitted change over all lengths, the longest over
        the shortest path's gradient, the largest over the smallest, the length of the largest total, the effective
        depth (paths.carrying_length at `mass`, in units) and the share of the paths longer than n/2."""
        means = self.stats["mean"]
        return {"units": self.units, "decay_per_unit": paths.decay_per_unit(self.stats),
                "change_over_lengths": paths.decay_per_unit(self.stats) * self.units,
                "longest_over_shortest": float(means.iloc[-1] / means.iloc[0]),
                "max_over_min": float(means.max() / means.min()),
                "peak_k": int(self.stats["total"].idxmax()),
                "carrying_length": paths.carrying_length(means, self.units, mass),
                "long_path_share": paths.share_longer_than(means, self.units, self.units / 2)}


def path_gradients(p, nets: dict) -> dict:
    """{arch: PathGradients}: for k = 0, k_step, ..., n, `samples_per_k` random sets of k units per batch of
    `gradient_batch` of the first `gradient_images` training images (no augmentation, the run's evaluation crop),
    BatchNorm in inference mode (paths.gradient_by_path_length)."""
    from drnlib.train import resolve_device

    device = resolve_device(p.device)
    out = {}
    for arch, run in nets.items():
        model = run.model(device=device)
        n = len(paths.residual_units(model))
        batches = _batches(run, "train", p.gradient_images, p.gradient_batch, device)
        ks = sorted(set(range(0, n + 1, p.k_step)) | {n})
        measured = paths.gradient_by_path_length(model, batches, ks, p.samples_per_k, seed=p.seed, progress=False)
        out[arch] = PathGradients(n, paths.path_statistics(measured, n), paths.batch_means(measured, len(batches)))
        del model
    return out


def _per_batch(label: str, values: np.ndarray) -> paper.Evidence:
    # higher_is_better=True: at_least / at_most then compare the value itself with the claim's threshold
    return paper.Evidence(label, "mean", values, True, unit="batches")


def _untestable(page: str) -> list:
    """'not tested' verdicts for the page's claims that claims.yaml marks untestable, with its reason."""
    return [paper.not_tested(c.id, c.why_not or "not testable with our data") for c in paper.page_claims(page)
            if not c.testable]


def _in_order(page: str, verdicts: list) -> list:
    """The verdicts in the order of the page's claims (the papers' order)."""
    order = {c.id: i for i, c in enumerate(paper.page_claims(page))}
    return sorted(verdicts, key=lambda v: order[v.claim])


def fig1_verdicts(p, nets: dict, lesions: dict, grads: dict) -> list:
    """WOD-1, 4 and 5 on the deepest network trained (per-image errors of the lesioned vs the intact net; per-batch
    gradient curves), the untestable claims of the page with their reasons."""
    deepest = max(nets, key=lambda a: grads[a].units)
    run, lesion, grad = nets[deepest], lesions[deepest], grads[deepest]
    name, n = pretty(deepest), grad.units
    scale = f"{name}, {data_note(run)}, {p.profile} profile"
    why = too_poorly_trained(run, p.max_test_error)
    verdicts = []
    if why:
        verdicts += [paper.not_tested(c, why) for c in ("WOD-1", "WOD-4", "WOD-5")]
    else:
        intact = paper.Evidence(f"{name} intact", "mean", 100 * lesion.intact, False)
        deleted = paper.Evidence(f"one identity unit deleted (mean of {len(lesion.identity)})", "mean",
                                 100 * lesion.identity.mean(axis=0), False)
        verdicts.append(paper.decide("WOD-1", deleted, intact,
                                     scale=f"{scale}, {lesion.intact.size:,} test images"))
        share = _per_batch(f"{name}: length carrying {p.gradient_mass:.0%} of the gradient / {n} units",
                           grad.carrying_share(p.gradient_mass))
        threshold = paper.claims()["WOD-4"].threshold
        verdicts.append(paper.decide(
            "WOD-4", share, scale=f"{scale}, {len(grad.per_batch)} batches of images",
            words=f"{share.describe(3)} (= {share.value * n:.1f} of {n} units) vs at most {threshold:.3f}"))
        verdicts.append(paper.decide(
            "WOD-5", _per_batch(f"{name}: share of the gradient from paths through > {n / 2:g} units",
                                grad.long_path_share()),
            scale=f"{scale}, {len(grad.per_batch)} batches of images"))
    return _in_order("wod_fig1", [*verdicts, *_untestable("wod_fig1")])


def figA4_verdicts(p, nets: dict, grads: dict) -> list:
    """WOD-3 and WOD-11 on the ResNets (the CIFAR ResNet, and ResNet-101/152 where trained), WOD-12 on the WoD net,
    each from per-batch gradient curves (bootstrap over the batches); "not tested" for a network too poorly
    trained."""
    resnets = [p.resnet, *p.imagenet_resnets]

    def scale(arch):
        return (f"{pretty(arch)}, {data_note(nets[arch])}, {len(grads[arch].per_batch)} batches of images, "
                f"{p.profile} profile")

    def on_resnets(claim_id, measure, label):
        ready = [a for a in resnets if not too_poorly_trained(nets[a], p.max_test_error)]
        if not ready:
            return paper.not_tested(claim_id, "; ".join(too_poorly_trained(nets[a], p.max_test_error)
                                                        for a in resnets))
        parts = [paper.decide(claim_id, _per_batch(f"{pretty(a)}: {label}", measure(grads[a])), scale=scale(a))
                 for a in ready]
        left_out = [pretty(a) for a in resnets if a not in ready]
        verdict = paper.all_hold(claim_id, parts)
        if left_out:
            verdict.ours += f" ({', '.join(left_out)}: too poorly trained, left out)"
        return verdict

    verdicts = [on_resnets("WOD-3", PathGradients.decay, "log10 change per extra unit"),
                on_resnets("WOD-11", PathGradients.change, "log10 change from the shortest to the longest path")]
    why = too_poorly_trained(nets[p.wod_net], p.max_test_error)
    if why:
        verdicts.append(paper.not_tested("WOD-12", why))
    else:
        change = np.abs(grads[p.wod_net].change())
        verdicts.append(paper.decide("WOD-12", _per_batch(
            f"{pretty(p.wod_net)}: |log10 change from the shortest to the longest path|", change),
            scale=scale(p.wod_net)))
    return _in_order("wod_figA4", verdicts)


# Table 1.


def table1_rows(crop_scale: float = 1.0) -> pd.DataFrame:
    """The rows of WoD's Table 1 that we build, in the paper's order (ResNet-50/101/152, Models F, E, D, C, the
    unnamed 224-0-1-1-1-1-1-1, B, A), indexed by the paper's label, with each row's `arch` (the drnlib.models name
    its run uses: the letter name where there is one), its WoD `name` string ("" for ResNets), the paper's training
    and test crops (224 -> 320, 112 -> 160, 56 -> 80; ResNets 224 -> 320) and ours: the paper's times `crop_scale`
    (the wod_classifier recipe's), rounded as drnlib.recipes rounds the training crop. Crops: drnlib/published.yaml
    (wider_or_deeper.models)."""
    from drnlib.models import aliases

    wod = paper.published("wider_or_deeper", "models")
    letters = {spec: letter for letter, spec in aliases().items()}
    test_crop_for = {int(spec.split("-")[0]): int(crop) for spec, crop in zip(wod["spec"], wod["test_crop"])}
    rows = [{"model": f"ResNet-{depth}", "arch": f"resnet{depth}", "name": "", "paper train crop": 224}
            for depth in (50, 101, 152)]
    for key in ("F", "E", "D", "C", "unnamed_16", "B", "A"):
        spec = wod.loc[key, "spec"]
        rows.append({"model": spec if key == "unnamed_16" else key, "arch": letters.get(spec, spec), "name": spec,
                     "paper train crop": int(spec.split("-")[0])})
    frame = pd.DataFrame(rows).set_index("model")
    frame["paper test crop"] = frame["paper train crop"].map(test_crop_for)
    for kind in ("train", "test"):
        frame[f"our {kind} crop"] = [max(8, round(c * crop_scale)) for c in frame[f"paper {kind} crop"]]
    return frame


def crop_scale(p) -> float:
    """The Table 1 recipe's `crop_scale` at the page's profile (1 when it has none)."""
    return float(recipes.recipe(p.profile, p.recipe).get("crop_scale") or 1.0)


SCHEDULE_SUFFIX = ", step schedule"
MORE_DOWNSAMPLING = "D with one more downsampling"


def more_downsampling(name: str) -> str:
    """The WoD name with the same units designed for twice the crop: one more downsampling (112-... -> 224-...)."""
    crop, rest = name.split("-", 1)
    return f"{2 * int(crop)}-{rest}"


def table1_specs(p) -> dict:
    """{label: RunSpec}: the page's rows (plus `schedule_arch`'s own row), the step-schedule run of `schedule_arch`
    (WOD-22) and, with Model D, D's units designed for 224 px (one more downsampling) trained at D's crop (WOD-19,
    Mishkin et al.'s way of shrinking the input)."""
    rows = table1_rows(crop_scale(p))
    wanted = set(p.archs) | ({p.schedule_arch} if p.schedule_arch else set())
    specs = {label: runs.RunSpec(p.recipe, arch) for label, arch in rows["arch"].items() if arch in wanted}
    if p.schedule_arch:
        label = rows.index[rows["arch"] == p.schedule_arch][0]
        specs[label + SCHEDULE_SUFFIX] = runs.RunSpec(p.schedule_recipe, p.schedule_arch)
    if "model_d" in p.archs:
        d_crop = recipes.config(p.profile, p.recipe, "model_d").crop_size
        specs[MORE_DOWNSAMPLING] = runs.RunSpec(p.recipe, more_downsampling(rows.loc["D", "name"]),
                                                crop_size=d_crop)
    return specs


def table1_runs(p) -> dict:
    """{label: finished Run} of table1_specs (drnlib.runs.get_all)."""
    specs = table1_specs(p)
    done = runs.get_all(p.profile, specs.values())
    return {label: done[spec] for label, spec in specs.items()}


def row_of(label: str) -> str:
    """The Table 1 row a run label belongs to (an ablation is tested at its row's crops)."""
    if label == MORE_DOWNSAMPLING:
        return "D"
    return label.removesuffix(SCHEDULE_SUFFIX)


def test_scores(p, rows: pd.DataFrame, trained_runs: dict) -> dict:
    """{label: scores} at the paper's test protocol: one centre crop of the whole image resized to the row's test
    crop (ours: the paper's times crop_scale), through the one evaluation cache (drnlib.runs.evaluate)."""
    out = {}
    for label, run in trained_runs.items():
        crop = int(rows.loc[row_of(label), "our test crop"])
        out[label] = runs.evaluate(run, crop_size=crop, resize_size=crop)
    return out


def table1_intervals(scores: dict) -> pd.DataFrame:
    """Top-1 and top-5 error (%) at the test crop of every row of `test_scores` ({label: scores}), with their
    Clopper-Pearson 95% intervals (drnlib.paper.Evidence): rows by label, columns (top1_1crop | top5_1crop, value |
    low | high), named as published.yaml names the paper's columns. What the "paper vs ours" figure plots."""
    return pd.concat({column: paper.interval_table({label: paper.Evidence.from_scores(label, s, metric)
                                                    for label, s in scores.items()})
                      for column, metric in (("top1_1crop", "top1_error"), ("top5_1crop", "top5_error"))}, axis=1)


def training_trace(model: torch.nn.Module, input_size: int) -> dict:
    """The forward pass of one training image at input_size x input_size (BatchNorm in training mode), traced on the
    model's device (best the meta device: no arithmetic, no memory):
    - "flops": forward FLOPs, a multiply-add counting 2 (torch.utils.flop_counter);
    - "activation_bytes": the tensors autograd keeps for the backward pass, weights and buffers left out, tensors
      that share storage counted once (torch.autograd.graph.saved_tensors_hooks): the training memory that grows
      with the batch (WoD Sec. 3.3's "spatial costs");
    - "final_map": the side of the last map before the classifier (the output of the last child module but `fc`).
    """
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    fixed = {t.untyped_storage()._cdata for t in [*model.parameters(), *model.buffers()]}
    saved, sides = {}, []

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage._cdata not in fixed:
            saved[storage._cdata] = storage  # kept alive: its address is not reused during the trace
        return tensor

    hooks = [child.register_forward_hook(lambda module, inputs, output: sides.append(output.shape[-1]))
             for name, child in model.named_children() if name != "fc"]
    counter = FlopCounterMode(display=False)
    try:
        model.train()
        with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            model(torch.zeros(1, 3, input_size, input_size, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return {"flops": int(counter.get_total_flops()), "final_map": int(sides[-1]) if sides else None,
            "activation_bytes": sum(storage.nbytes() for storage in saved.values())}


def network_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per row, computed on the network built (meta device, the paper's 1000-way classifier): parameters, the
    official code's count and the difference (ademxapp resnet_v2.py for WoD, torchvision for ResNets; published.yaml),
    depth (convolutions on the main path + classifier), GFLOPs and final map side at the paper's training crop, the
    final map at ours, B1 units, residual units, final features and training activation memory per image (MB) at
    the paper's crop."""
    from drnlib.analysis.architecture import depth, final_resolution
    from drnlib.models import build_model

    wod = paper.published("wider_or_deeper", "models")
    official = {**paper.published("drn", "params_official_code")["params_official_code"].to_dict(),
                **dict(zip(wod["spec"], wod["params"]))}
    out = {}
    for label, row in rows.iterrows():
        with torch.device("meta"):
            model = build_model(row["arch"], num_classes=1000).eval()  # BatchNorm traces faster in eval mode
        layers, ours = depth(model), final_resolution(model, int(row["our train crop"]))
        trace = training_trace(model, int(row["paper train crop"]))
        out[label] = {
            "params": sum(t.numel() for t in model.parameters()),
            "official params": int(official[row["name"] or row["arch"]]), "depth": layers,
            "GFLOPs": trace["flops"] / 1e9, "final map": trace["final_map"], "our final map": ours,
            "B1 units": int(row["name"].split("-")[1]) if row["name"] else 0,
            "residual units": len(paths.residual_units(model)), "features": model.out_channels,
            "activation MB/image": trace["activation_bytes"] / 2 ** 20}
        del model
    frame = pd.DataFrame.from_dict(out, orient="index")
    frame["Δ params"] = frame["params"] - frame["official params"]
    return frame.infer_objects()


def speeds(p, rows: pd.DataFrame, labels) -> dict:
    """{label: {measure: [images/s per repeat]}} for the Table 1 rows `labels`, on the page's device, on networks
    built afresh (speed does not depend on the weights; the paper's 1000-way classifier), 10 images per batch as in
    the paper: "inference fp32" (and "inference bf16" with channels-last on a GPU) at the paper's test crop times
    `speed_scale`, and "training fp32" (SGD steps) at the training crop times `speed_scale` for the WoD rows when
    they span two training crops or more (WOD-21). `speed_repeats` repeats of `speed_iters` timed iterations each are
    the units of the timings' uncertainty."""
    from drnlib.analysis.speed import inference_throughput, training_throughput
    from drnlib.models import build_model
    from drnlib.train import resolve_device

    device = resolve_device(p.device)
    gpu = device.type == "cuda"
    warmup = 3 if gpu else 1
    measures = [("inference fp32", "fp32", False)] + ([("inference bf16", "bf16", True)] if gpu else [])
    wod_crops = {rows.loc[label, "paper train crop"] for label in labels if rows.loc[label, "name"]}
    out = {}
    for label in labels:
        row = rows.loc[label]
        test_size = max(8, round(row["paper test crop"] * p.speed_scale))
        train_size = max(8, round(row["paper train crop"] * p.speed_scale))
        model = build_model(row["arch"], num_classes=1000).to(device)
        timings = {}
        for measure, precision, channels_last in measures:  # warm-up before the first repeat only
            timings[measure] = [inference_throughput(model, 10, test_size, device, precision, channels_last,
                                                     warmup=0 if r else warmup, iters=p.speed_iters).images_per_s
                                for r in range(p.speed_repeats)]
        if row["name"] and len(wod_crops) > 1:  # WOD-21 compares the training speed of the WoD rows' crops
            timings["training fp32"] = [training_throughput(model, 10, train_size, device, warmup=0 if r else warmup,
                                                            iters=p.speed_iters, num_classes=1000).images_per_s
                                        for r in range(p.speed_repeats)]
        out[label] = timings
        del model
    return out


@dataclass
class RankCorrelation(paper.Evidence):
    """The Spearman rank correlation between the rows' parameter counts (`params`) and their top-1 errors on the same
    images (`data`: images x rows, 1 = wrong), resampled over the images (kind "mean": drnlib.paper's bootstrap)."""

    params: np.ndarray | None = None

    def statistic(self, index: np.ndarray) -> np.ndarray:
        from scipy.stats import rankdata

        errors = self.data[index].mean(axis=-2)  # (..., rows)
        x = rankdata(self.params)
        y = rankdata(errors, axis=-1)
        x, y = x - x.mean(), y - y.mean(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (y * x).sum(-1) / np.sqrt((y ** 2).sum(-1) * (x ** 2).sum())


def table1_verdicts(p, rows: pd.DataFrame, networks: pd.DataFrame, scores: dict, speed: dict) -> list:
    """The verdicts on WOD-9, 10 and 13-22 (WoD Sec. 3.3, 4, 6.1, Table 1): structure and memory exactly on the
    built networks, errors from the per-image records at the test crop (paired bootstrap), speed from the repeats
    of its timings; "not tested" where a row (or ablation) this needs is not trained at the profile, and WOD-16
    (networks not built here) with its reason."""
    run_scale = (f"{next(iter(scores.values()))['images']:,} validation images at the test crops, {p.profile} "
                 "profile") if scores else f"{p.profile} profile"
    speed_scale = f"{p.speed_repeats} timed repeats on {speed_device(p)}"
    claims = paper.claims()

    def missing(*labels):
        gone = [label for label in labels if label not in scores]
        return f"{'; '.join(gone)}: not trained at the {p.profile} profile" if gone else None

    def error(label, metric="top1_error"):
        return paper.Evidence.from_scores(label, scores[label], metric)

    def timed(label, measure="inference fp32"):
        return paper.Evidence(f"{label} images/s", "mean", speed[label][measure], True, unit="timed repeats")

    verdicts = [memory_verdict(networks, claims["WOD-9"])]

    trained_rows = [label for label in rows.index if label in scores]
    if len(trained_rows) < 3:
        verdicts.append(paper.not_tested("WOD-10", f"needs three trained rows or more, {len(trained_rows)} at the "
                                                   f"{p.profile} profile"))
    else:
        wrong = np.stack([scores[label]["per_image"]["top1_wrong"] for label in trained_rows], axis=1)
        evidence = RankCorrelation("Spearman correlation of parameters and top-1 error", "mean", wrong, True,
                                   params=networks.loc[trained_rows, "params"].to_numpy(dtype=float))
        verdicts.append(paper.decide("WOD-10", evidence, scale=f"{len(trained_rows)} rows, {run_scale}"))

    units, width = int(networks.loc["A", "residual units"]), int(networks.loc["A", "features"])
    model_a_name = rows.loc["A", "name"]
    units_in_name = sum(int(c) for c in model_a_name.split("-")[1:])
    features = int(paper.published("wider_or_deeper", "models").loc["A", "features"])
    verdicts.append(paper.exact(
        "WOD-13", units == units_in_name and width == features,
        f"Model A ({model_a_name}) built with {units} residual units (its name: {units_in_name}) and {width} final "
        f"features (paper: {features})"))

    side = claims["WOD-14"].threshold
    wod_rows = networks[rows["name"] != ""]
    skip_b1 = wod_rows[rows.loc[wod_rows.index, "paper train crop"] == 224]["B1 units"]
    verdicts.append(paper.exact(
        "WOD-14", bool((networks["final map"] == side).all() and (skip_b1 == 0).all()),
        f"final map at the paper's training crop: {', '.join(f'{k} {v}' for k, v in networks['final map'].items())}; "
        f"B1 units of the 224-px WoD nets: {', '.join(f'{k} {v}' for k, v in skip_b1.items())}"))

    others = [label for label in rows.index if label != "A"]
    gone = missing(*rows.index)
    verdicts.append(paper.not_tested("WOD-15", gone + " (the claim compares Model A with every row)") if gone else
                    paper.all_hold("WOD-15", [paper.decide("WOD-15", error("A", m), error(o, m), scale=run_scale)
                                              for o in others for m in ("top1_error", "top5_error")],
                                   ours=f"Model A top-1 {scores['A']['top1_error']:.2f}, top-5 "
                                        f"{scores['A']['top5_error']:.2f}; best other top-1: "
                                        f"{min(others, key=lambda o: scores[o]['top1_error'])}"))
    verdicts += _untestable("wod_table1")

    gone = missing("B", "ResNet-152")
    verdicts.append(paper.not_tested("WOD-17", gone) if gone else paper.all_hold("WOD-17", [
        paper.decide("WOD-17", error("B"), error("ResNet-152"), scale=run_scale),
        paper.decide("WOD-17", timed("B"), timed("ResNet-152"), relation="beats", scale=speed_scale)]))

    gone = missing("D", "ResNet-152")
    if gone:
        verdicts.append(paper.not_tested("WOD-18", gone))
    else:
        ratio = np.asarray(speed["D"]["inference fp32"]) / np.asarray(speed["ResNet-152"]["inference fp32"])
        verdicts.append(paper.all_hold("WOD-18", [
            paper.decide("WOD-18", error("ResNet-152"), error("D"), relation="beats", scale=run_scale,
                         words=f"D is worse: {error('D').describe()} vs {error('ResNet-152').describe()}"),
            paper.decide("WOD-18", paper.Evidence("D / ResNet-152 images/s", "mean", ratio, True,
                                                  unit="timed repeats"), relation="at_least", scale=speed_scale)]))

    gone = missing("D", MORE_DOWNSAMPLING)
    verdicts.append(paper.not_tested("WOD-19", gone) if gone else paper.decide(
        "WOD-19", error("D"), error(MORE_DOWNSAMPLING), scale=f"both trained and tested at D's crops, {run_scale}"))

    gone = missing("C", "D", "E")
    if gone:
        verdicts.append(paper.not_tested("WOD-20", gone))
    else:
        larger = paper.exact("WOD-20", bool(all(networks.loc["C", c] > networks.loc[o, c]
                                                for c in ("depth", "params") for o in ("D", "E"))),
                             "C is deeper and larger: depth " + ", ".join(f"{k} {networks.loc[k, 'depth']}"
                                                                          for k in "CDE"))
        verdicts.append(paper.all_hold("WOD-20", [larger, *(
            paper.decide("WOD-20", error(x, m), error(y, m), scale=run_scale)
            for x, y in (("C", "D"), ("C", "E"), ("D", "E")) for m in ("top1_error", "top5_error"))]))

    verdicts.append(crop_speed_verdict(p, rows, speed, speed_scale))

    step = f"{rows.index[rows['arch'] == p.schedule_arch][0]}{SCHEDULE_SUFFIX}" if p.schedule_arch else None
    if step is None:
        verdicts.append(paper.not_tested("WOD-22", "no step-schedule run at this profile (schedule_arch is empty)"))
    else:
        linear = row_of(step)
        verdicts.append(paper.decide("WOD-22", error(linear), error(step), scale=f"{linear}, {run_scale}",
                                     words=f"linear {error(linear).describe()} vs step {error(step).describe()}"))
    return _in_order("wod_table1", verdicts)


def speed_device(p) -> str:
    """The device the page times on, in words ("CPU" or the GPU's name)."""
    from drnlib.train import resolve_device

    device = resolve_device(p.device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


def memory_verdict(networks: pd.DataFrame, claim) -> paper.Verdict:
    """WOD-9: among the pairs of a WoD row and a ResNet whose training activation memory per image differs by at most
    the claim's tolerance (relative), the largest ratio of parameters, against the claim's threshold."""
    wod = [label for label in networks.index if not label.startswith("ResNet")]
    resnets = [label for label in networks.index if label.startswith("ResNet")]
    memory, params = networks["activation MB/image"], networks["params"]
    pairs = [(params[w] / params[r], w, r) for w in wod for r in resnets
             if abs(memory[w] / memory[r] - 1) <= claim.tolerance]
    if not pairs:
        return paper.exact(claim.id, False, f"no WoD row within {claim.tolerance:.0%} of a ResNet's memory")
    ratio, w, r = max(pairs)
    return paper.exact(claim.id, ratio >= claim.threshold,
                       f"{w}: {params[w] / 1e6:.1f} M parameters at {memory[w]:.0f} MB/image vs {r}: "
                       f"{params[r] / 1e6:.1f} M at {memory[r]:.0f} MB/image: {ratio:.2f}x (needs "
                       f"{claim.threshold:g}x; {len(pairs)} pairs within {claim.tolerance:.0%} in memory)",
                       scale="training activations per image at the paper's crops, traced on the built networks")


def crop_speed_verdict(p, rows: pd.DataFrame, speed: dict, scale: str) -> paper.Verdict:
    """WOD-21: the timed WoD rows grouped by training crop; each group trains faster (images/s per repeat, averaged
    over the group's rows) than the group of the next larger crop."""
    wod = [label for label in speed if rows.loc[label, "name"]]
    crops = sorted({int(rows.loc[label, "paper train crop"]) for label in wod})
    if len(crops) < 2:
        return paper.not_tested("WOD-21", f"needs timed WoD rows of two training crops or more; the {p.profile} "
                                          f"profile trains {', '.join(wod) or 'none'}")

    def group(crop):
        members = [label for label in wod if rows.loc[label, "paper train crop"] == crop]
        values = np.mean([speed[label]["training fp32"] for label in members], axis=0)
        return paper.Evidence(f"{crop}-px rows ({', '.join(members)}) training images/s", "mean", values, True,
                              unit="timed repeats")

    return paper.all_hold("WOD-21", [paper.decide("WOD-21", group(small), group(large), scale=scale)
                                     for small, large in zip(crops, crops[1:])])


__all__ = ["CIFAR_NETS", "IMAGENET_RESNETS", "RULES", "table1_archs", "needed_runs", "trained", "pretty", "data_note",
           "training_table", "too_poorly_trained", "Lesions", "lesion_results", "PathGradients", "path_gradients",
           "fig1_verdicts", "figA4_verdicts", "table1_rows", "crop_scale", "more_downsampling", "table1_specs",
           "table1_runs", "row_of", "test_scores", "table1_intervals", "training_trace", "network_table", "speeds",
           "RankCorrelation", "table1_verdicts", "speed_device", "memory_verdict", "crop_speed_verdict"]

"""Loading weights saved by torchvision, by fyu/drn, or by this project.

Names: our modules carry the official names, so a torchvision ResNet state_dict and a fyu/drn `drn.py` state_dict
load as they are (strict). Three mappings remain, all here:
- fyu/drn `segment.py` (DRNSeg) keeps the trunk as `base = nn.Sequential(*children[:-2])`, so its keys read
  `base.<i>.<rest>`; child i is the i-th of our stem and level modules, in forward order. Its `seg` is our `seg`;
  its `up` (a frozen bilinear ConvTranspose2d) has no counterpart: we upsample with F.interpolate.
- DataParallel / DDP / torch.compile prefixes (`module.`, `_orig_mod.`) are stripped.
- DRN-C-58 built with `drop_unused=True` ignores fyu/drn's unused `layer7.0.downsample.*`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from ..errors import CheckpointError

_PREFIXES = ("module.", "_orig_mod.")


def _unwrap(source: str | os.PathLike | Mapping) -> dict[str, Tensor]:
    if isinstance(source, (str, os.PathLike)):
        try:
            source = torch.load(source, map_location="cpu", weights_only=True)
        except Exception as err:  # corrupt or foreign file: one line, the file named
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""  # torch's messages run to pages
            raise CheckpointError(f"cannot read weights from {source}: {type(err).__name__}: {first}") from None
    for key in ("state_dict", "model"):
        if isinstance(source, Mapping) and key in source and isinstance(source[key], Mapping):
            source = source[key]
    if not isinstance(source, Mapping):
        raise CheckpointError(f"expected a state_dict, got {type(source).__name__}")
    state = {}
    for name, value in source.items():
        for prefix in _PREFIXES:
            while name.startswith(prefix):
                name = name[len(prefix):]
        state[name] = value
    return state


def convert_official(state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """Map fyu/drn DRNSeg names onto ours (see module docstring); other state_dicts pass unchanged."""
    children = list(getattr(model, "stem_names", [])) + list(getattr(model, "body_names", []))
    out = {}
    for name, value in state.items():
        match = re.match(r"base\.(\d+)\.(.*)", name)
        if match:
            index = int(match.group(1))
            if index >= len(children):
                raise CheckpointError(f"{name}: the official trunk has more children than {model.name}")
            name = f"{children[index]}.{match.group(2)}"
        elif name == "up.weight":
            continue  # fixed bilinear upsampling: ours is F.interpolate
        out[name] = value
    if getattr(model, "build_config", {}).get("drop_unused"):
        out = {k: v for k, v in out.items() if not k.startswith("layer7.0.downsample.")}
    return out


def load_weights(model: nn.Module, source: str | os.PathLike | Mapping, backbone_only: bool = False) -> nn.Module:
    """Load a state_dict (or a file / checkpoint holding one) into `model`, strictly.

    backbone_only: load the trunk only, e.g. ImageNet weights into a segmentation net; the classifier (`fc`) of
    the source is dropped and the model's head (`fc` or `seg`) keeps its initialisation. Every trunk weight must
    still match.
    """
    state = convert_official(_unwrap(source), model)
    own = model.state_dict()
    head = ("fc.", "seg.")
    if backbone_only:
        state = {k: v for k, v in state.items() if not k.startswith(head)}
        own = {k: v for k, v in own.items() if not k.startswith(head)}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        name = getattr(model, "name", type(model).__name__)
        parts = [f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
                 f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else "",
                 f"{len(shapes)} of another shape (e.g. {shapes[0]})" if shapes else ""]
        raise CheckpointError(f"weights do not fit {name}: " + "; ".join(p for p in parts if p))
    model.load_state_dict(state, strict=not backbone_only)
    return model

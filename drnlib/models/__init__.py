"""Models of both papers: ResNet, DRN-A/B/C/D, Wider-or-Deeper nets, from spec tables and one builder.

    build_model("drn_c_26", num_classes=19, task="segment")
    build_model("224-0-3-3-6-3-1-1")            # = build_model("model_a")
    list_models()
"""

from .network import Net
from .specs import Level, NetSpec
from .weights import load_weights
from .zoo import aliases, build_model, design_crop, list_models, model_from_config, normalize_name

__all__ = ["Net", "Level", "NetSpec", "aliases", "build_model", "list_models", "model_from_config", "normalize_name",
           "load_weights", "design_crop"]

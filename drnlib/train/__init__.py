"""The one training engine (classification and segmentation), checkpoints, schedules, task objects.

    from drnlib.train import RunConfig, fit, evaluate_run
    result = fit(RunConfig(arch="drn_c_26", dataset="camvid", task="segment", crop_size=448, epochs=100,
                           lr=0.01, batch_size=8, out_dir="runs/drn_c_26_camvid"))
    scores = evaluate_run({"out_dir": "runs/drn_c_26_camvid", "scales": [0.75, 1, 1.25], "flip": True})

- config.py       RunConfig: every knob (the CLI parses its options into it)
- engine.py       fit(): the loop, run directory, resume, NaN check, DDP under torchrun
- evaluation.py   evaluate_run(): a checkpoint on an evaluation split (1-/10-crop, localization, multi-scale)
- tasks.py        Classification / Segmentation / Localization task objects (loss, transforms, batching)
- schedules.py    step / poly / linear / constant learning rates
- checkpoint.py   atomic checkpoints and run files, RNG states
- distributed.py  torchrun process group, SyncBatchNorm, DDP; resolve_device ("auto" -> cuda or cpu)
"""

from drnlib.train.checkpoint import load_checkpoint, save_checkpoint
from drnlib.train.config import RunConfig
from drnlib.train.distributed import resolve_device
from drnlib.train.engine import fit, freeze_batchnorm
from drnlib.train.evaluation import evaluate_run
from drnlib.train.schedules import SCHEDULES, lr_at, make_scheduler
from drnlib.train.tasks import get_task

__all__ = ["RunConfig", "fit", "evaluate_run", "freeze_batchnorm", "load_checkpoint", "save_checkpoint",
           "SCHEDULES", "lr_at", "make_scheduler", "get_task", "resolve_device"]

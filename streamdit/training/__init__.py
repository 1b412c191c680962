"""Training: the objectives, the trainer (checkpoints, EMA, DDP/FSDP), distillation, the autoencoder's training
and the ``train``/``distill`` commands."""

from streamdit.training.distillation import DistillationTrainer
from streamdit.training.objectives import distillation_loss, flow_matching_loss
from streamdit.training.trainer import TrainConfig, Trainer

__all__ = ["DistillationTrainer", "TrainConfig", "Trainer", "distillation_loss", "flow_matching_loss"]

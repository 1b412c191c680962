"""Every metric of `eval`, one `MetricSpec` (`eval/metric.py`) each: the command line, the Python API, the
report and the paper run read this list. Adding a metric: its module, and one entry here
(docs/architecture.md §6 shows an example)."""

from __future__ import annotations

from .metric import MetricRegistry, MetricSpec

METRICS = MetricRegistry(
    MetricSpec("fvd", "Frechet video distance to a reference set (I3D or VideoMAE clip features)", ".fvd:fvd",
               ("frames", "reference"), weights="i3d", per_video=False, better="lower"),
    MetricSpec("kvd", "kernel video distance (polynomial-kernel MMD) on the FVD features", ".kvd:kernel_distance",
               ("frames", "reference"), weights="i3d", per_video=False, better="lower", command="fvd",
               in_paper=False),
    MetricSpec("fd_ae", "Frechet distance on a video autoencoder's latents (the paper run's offline FVD stand-in)",
               ".frechet:frechet_distance", ("frames", "reference"), per_video=False, better="lower", command=None),
    MetricSpec("clip_score", "CLIP similarity of frames and prompt, 100 * max(cos, 0)", ".clip:clip_score",
               ("frames", "prompts"), weights="clip"),
    MetricSpec("subject_consistency", "VBench subject consistency (DINO features)", ".consistency:subject_consistency",
               weights="dino", command="consistency", option="subject", in_paper=False),
    MetricSpec("background_consistency", "VBench background consistency (CLIP image features)",
               ".consistency:background_consistency", weights="clip", command="consistency", option="background",
               in_paper=False),
    MetricSpec("temporal_flicker", "mean absolute difference of consecutive frames (0-255)",
               ".consistency:temporal_flicker", better="lower", command="consistency", option="flicker",
               reads="differences"),
    MetricSpec("seam_score", "frame change across chunk borders / elsewhere", ".consistency:seam_score", ("frames", "chunk_size"), better="one",
               command="consistency", option="seam", reads="differences"),
    MetricSpec("inside_share", "share of all frame change inside chunks (real video about (c-1)/c)",
               ".motion:inside_chunk_share", ("frames", "chunk_size"), command="consistency", option="inside",
               reads="differences"),
    MetricSpec("frozen_share", "share of consecutive frames that do not change", ".motion:frozen_share",
               better="lower", command="consistency", option="frozen", in_paper=False, reads="differences"),
    MetricSpec("motion_smoothness_linear", "VBench motion smoothness, odd frames vs the linear interpolation of "
               "their even neighbours", ".motion_smoothness:motion_smoothness", command="motion-smoothness",
               note="VBench interpolates with AMT-S, not available here; linear interpolation gives a lower bound",
               reads="frames"),
    MetricSpec("dynamic_degree", "VBench dynamic degree: share of videos that move (RAFT optical flow)",
               ".dynamic_degree:dynamic_degree", weights="raft"),
    MetricSpec("adherence", "share of videos whose prompted attributes (colour, shape, motion; in world v2 also "
               "size, speed, background, camera) the world's detector reads back", ".adherence:prompt_adherence",
               ("frames", "prompts", "detector")),
)

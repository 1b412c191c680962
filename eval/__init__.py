"""Video generation metrics: FVD, CLIP score, temporal consistency, seam score, prompt adherence.

Python API (DESIGN 3): a video is a uint8 array or tensor (T, H, W, 3), or a path to a video file or a
frame folder. `python -m eval --help` lists the command-line tools.
"""

from .adherence import prompt_adherence
from .clip import CLIP, VideoCLIPScore, clip_score, clip_scores
from .consistency import background_consistency, feature_consistency, seam_score, subject_consistency, temporal_flicker
from .dino import DINO
from .features import FeatureCache, video_features
from .frechet import frechet_distance
from .fvd import FrechetVideoDistance, fvd, fvd_features
from .i3d import I3D, InceptionI3d
from .stats import Estimate, bootstrap_mean
from .video_io import VideoLoadError, list_videos, load_video
from .videomae import VideoMAE
from .weights import MissingWeightsError

__all__ = [
    "CLIP", "DINO", "I3D", "Estimate", "FeatureCache", "FrechetVideoDistance", "InceptionI3d", "MissingWeightsError",
    "VideoCLIPScore", "VideoLoadError", "VideoMAE", "background_consistency", "bootstrap_mean", "clip_score", "clip_scores",
    "feature_consistency", "frechet_distance", "fvd", "fvd_features", "list_videos", "load_video",
    "prompt_adherence", "seam_score", "subject_consistency", "temporal_flicker", "video_features",
]

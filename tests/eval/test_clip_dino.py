"""CLIP score and subject/background consistency end to end with randomly initialised networks of the
real architectures (open_clip ViT-B-32-quickgelu; DINO ViT-S/16, the `dino_vits16` layout, as timm builds
it: the default ViT-B/16 differs only in width and costs 4x more here), saved to files."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import open_clip
import pandas as pd
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torchmetrics.functional.multimodal import clip_score as torchmetrics_clip_score
from torchmetrics.functional.multimodal.clip_score import _clip_score_update

from eval import (CLIP, DINO, VideoCLIPScore, VideoLoadError, background_consistency, clip_score, load_video,
                  subject_consistency)
from eval.cli import main
from eval.consistency import feature_consistency
from eval.dino import dino_vit
from eval_helpers import moving_square_video, write_video

ARCH = "ViT-B-32-quickgelu"
DINO_ARCH = "vit_small_patch16_224"
PROMPTS = ["a red square moving right", "a green square on grey"]


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("clip") / "open_clip_model.safetensors"
    save_file(open_clip.create_model(ARCH).state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def clip_model(clip_file) -> CLIP:
    return CLIP.load(clip_file, ARCH)


@pytest.fixture(scope="module")
def dino_file(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("dino") / "dino_deitsmall16_pretrain.pth"
    torch.save(dino_vit(DINO_ARCH).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def videos() -> list[np.ndarray]:
    return [moving_square_video(3, 32, color, speed=2, seed=i) for i, color in enumerate([(255, 0, 0), (0, 255, 0)])]


@pytest.fixture(scope="module")
def clip_result(clip_model, videos):
    return clip_score(videos, PROMPTS, clip_model)


@pytest.fixture(scope="module")
def raw_clip_features(clip_model, videos) -> tuple[list[torch.Tensor], torch.Tensor]:
    """open_clip's own encode_image/encode_text outputs (not normalized) for the test videos and prompts."""
    with torch.no_grad():
        images = [clip_model.model.encode_image(clip_model.preprocess(torch.from_numpy(v))) for v in videos]
        return images, clip_model.model.encode_text(clip_model.tokenizer(PROMPTS))


class OpenClipAsHF(torch.nn.Module):
    """The (model, processor) interface torchmetrics' CLIPScore takes, served by the same open_clip model
    and preprocessing, so torchmetrics' own code computes the score from the same features."""

    config = SimpleNamespace()

    def __init__(self, clip: CLIP):
        super().__init__()
        self.clip = clip
        self.model = clip.model

    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixel_values)

    def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(input_ids)

    def processor(self, text=None, images=None, return_tensors="pt", padding=True) -> dict:
        if images is not None:
            return {"pixel_values": self.clip.preprocess(torch.stack(images).permute(0, 2, 3, 1))}
        tokens = self.clip.tokenizer(text)
        return {"input_ids": tokens, "attention_mask": torch.ones_like(tokens)}


def test_clip_score_equals_torchmetrics_definition_plumbing_random_weights(clip_model, videos, clip_result,
                                                                          raw_clip_features):
    # by hand: 100 * max(cos, 0) per frame from the raw open_clip features, mean over frames, then videos
    images, texts = raw_clip_features
    per_frame = [100 * torch.nn.functional.cosine_similarity(i, t[None], dim=-1) for i, t in zip(images, texts)]
    by_hand = np.mean([float(s.clamp_min(0).mean()) for s in per_frame])
    assert clip_result.value == pytest.approx(by_hand, rel=1e-5)
    assert clip_result.ci_low <= clip_result.value <= clip_result.ci_high and clip_result.n == 2
    # torchmetrics' own code with the same network and preprocessing behind its (model, processor) interface:
    # its per-pair scores (100 * cos, before its clamp) over all frames at once ...
    adapter = OpenClipAsHF(clip_model)
    frames = [torch.from_numpy(f).permute(2, 0, 1) for v in videos for f in v]
    prompts = [p for v, p in zip(videos, PROMPTS) for _ in v]
    with torch.no_grad():
        scores, n = _clip_score_update(frames, prompts, adapter, adapter.processor)
        # ... and its public clip_score on one pair, where its clamp of the mean is the per-pair clamp
        single = torchmetrics_clip_score(frames[0], prompts[0], model_name_or_path=lambda: (adapter, adapter.processor))
    per_video = scores.reshape(len(videos), -1).clamp_min(0).mean(dim=1)
    assert n == len(frames) and float(per_video.mean()) == pytest.approx(clip_result.value, rel=1e-4)
    assert float(single) == pytest.approx(float(per_frame[0][0].clamp_min(0)), rel=1e-4, abs=1e-4)


def test_clip_metric_class_plumbing_random_weights(clip_model, videos, clip_result):
    metric = VideoCLIPScore(clip_model)
    metric.update(videos[:1], PROMPTS[:1])
    metric.update([torch.from_numpy(videos[1])], PROMPTS[1:])
    assert float(metric.compute()) == pytest.approx(clip_result.value, rel=1e-5)
    with pytest.raises(VideoLoadError, match="1 prompts for 2 videos"):
        clip_score(videos, PROMPTS[:1], clip_model)


def test_subject_consistency_dino_plumbing_random_weights(dino_file, videos, tmp_path):
    model = DINO.load(dino_file, DINO_ARCH)
    static = np.repeat(videos[0][:1], 3, axis=0)
    assert subject_consistency([static], model).value == pytest.approx(1.0, abs=1e-6)
    result = subject_consistency(videos[:2], model)
    with torch.no_grad():
        by_hand = [feature_consistency(model.network(model.preprocess(torch.from_numpy(v))).numpy()) for v in videos[:2]]
    assert result.value == pytest.approx(np.mean(by_hand), rel=1e-5)
    assert result.value < 1.0
    # timm's safetensors layout of the same weights loads to the same network
    save_file(model.network.state_dict(), str(tmp_path / "model.safetensors"))
    again = DINO.load(tmp_path / "model.safetensors", DINO_ARCH)
    for name, tensor in model.network.state_dict().items():
        assert torch.equal(tensor, again.network.state_dict()[name])


def test_background_consistency_clip_plumbing_random_weights(clip_model, videos, raw_clip_features):
    result = background_consistency(videos, clip_model)
    feats = [f.numpy() for f in raw_clip_features[0]]
    assert result.value == pytest.approx(np.mean([feature_consistency(f) for f in feats]), rel=1e-5)


def test_cli_clip_score_and_consistency_plumbing_random_weights(clip_file, dino_file, videos, tmp_path, capsys):
    folder = tmp_path / "sys"
    folder.mkdir()
    for i, video in enumerate(videos):
        write_video(folder / f"v{i}.mp4", video)
    (folder / "v0.mp4.json").write_text('{"chunk_frames": 2}')
    (tmp_path / "prompts.txt").write_text("\n".join(PROMPTS))
    common = ["--cache-dir", str(tmp_path / "cache"), "--no-progress", "--clip-weights", str(clip_file),
              "--clip-arch", ARCH]
    assert main(["clip-score", str(folder), "--prompts", str(tmp_path / "prompts.txt"),
                 "--out", str(tmp_path / "clip.csv"), "--per-video", str(tmp_path / "clip_videos.csv")] + common) == 0
    assert main(["consistency", str(folder), "--dino-weights", str(dino_file), "--dino-arch", DINO_ARCH, "--out", str(tmp_path / "cons.json")]
                + common) == 0
    clip_table, cons = pd.read_csv(tmp_path / "clip.csv"), pd.read_json(tmp_path / "cons.json")
    assert clip_table.loc[0, "system"] == "sys" and clip_table.loc[0, "metric"] == "clip_score"
    assert len(pd.read_csv(tmp_path / "clip_videos.csv")) == 2
    # only v0 has a sidecar chunk size (2), and its 3 frames are shorter than two chunks: no chunk metric, a note
    assert list(cons["metric"]) == ["subject_consistency", "background_consistency", "temporal_flicker", "frozen_share"]
    captured = capsys.readouterr()
    assert "clip_score" in captured.out and "v0.mp4 (3 frames, chunk size 2)" in captured.err
    (tmp_path / "prompts.txt").write_text(PROMPTS[0])
    assert main(["clip-score", str(folder), "--prompts", str(tmp_path / "prompts.txt")] + common) == 2
    assert "1 prompts for 2 videos" in capsys.readouterr().err


def test_mixed_sizes_each_video_preprocessed_on_its_own_plumbing_random_weights(clip_file, dino_file, clip_model,
                                                                               tmp_path):
    """A folder of videos of different sizes: every per-video value equals the value of that video alone."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    videos = {"a.mp4": moving_square_video(3, 48, (255, 0, 0), 2, seed=1)[:, :32],
              "b.mp4": moving_square_video(3, 40, (0, 255, 0), 2, seed=2),
              "c.mp4": moving_square_video(3, 64, (0, 0, 255), 2, seed=3)[:, 8:56, :40]}
    for name, video in videos.items():
        write_video(folder / name, video)
    decoded = [load_video(folder / name) for name in videos]
    (tmp_path / "p.csv").write_text("video,prompt\n" + "\n".join(f"{n},{p}" for n, p in zip(videos, PROMPTS * 2)))
    common = ["--no-cache", "--no-progress", "--clip-weights", str(clip_file), "--clip-arch", ARCH]
    assert main(["clip-score", str(folder), "--prompts", str(tmp_path / "p.csv"), "--batch-size", "4",
                 "--per-video", str(tmp_path / "clip.json")] + common) == 0
    alone = [clip_score([v], [p], clip_model).value for v, p in zip(decoded, PROMPTS * 2)]
    assert pd.read_json(tmp_path / "clip.json")["clip_score"].tolist() == pytest.approx(alone, rel=1e-5)
    # the features behind it (random weights put most cosines below 0, where the score clamps to 0)
    clip_model.batch_size = 4
    together = clip_model.encode_videos(decoded)
    for f, v in zip(together, decoded):
        np.testing.assert_allclose(f, clip_model.encode_videos([v])[0], rtol=1e-4, atol=1e-5)
    assert main(["consistency", str(folder), "--dino-weights", str(dino_file), "--dino-arch", DINO_ARCH,
                 "--metrics", "subject,background", "--per-video", str(tmp_path / "cons.csv")] + common) == 0
    dino = DINO.load(dino_file, DINO_ARCH)
    per_video = pd.read_csv(tmp_path / "cons.csv")
    assert per_video["subject_consistency"].tolist() == pytest.approx(
        [subject_consistency([v], dino).value for v in decoded], rel=1e-5)
    assert per_video["background_consistency"].tolist() == pytest.approx(
        [background_consistency([v], clip_model).value for v in decoded], rel=1e-5)


@pytest.mark.parametrize("height, width", [(300, 400), (400, 300), (48, 80)])
def test_preprocess_matches_open_clips_own_eval_transform_on_non_square_frames(height, width):
    """open_clip's eval transform (PIL: shorter side resized to 224, bicubic, then a centre crop) is the
    reference; a frame must be neither squashed nor stretched. Landscape, portrait, and upscaled frames; PIL
    and torchvision's uint8 resizes differ by at most 2 levels of 255."""
    model, _, reference = open_clip.create_model_and_transforms(ARCH, pretrained=None)
    clip = CLIP(model, ARCH)
    rng = np.random.default_rng(height)
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([255 * x / width, 255 * y / height, np.full(x.shape, 128)], -1)
    frame[height // 4:height // 2, width // 8:width // 3] = (230, 20, 20)  # an off-centre square
    frame = np.clip(frame + rng.integers(-20, 20, frame.shape), 0, 255).astype(np.uint8)
    ours = clip.preprocess(torch.from_numpy(frame)[None])[0]
    expected = reference(Image.fromarray(frame))
    assert ours.shape == expected.shape == (3, 224, 224)
    difference = (ours - expected).abs()
    assert difference.max() <= 2.5 / 255 / min(clip.std) and difference.mean() < 1e-3


@pytest.mark.parametrize("height, width", [(300, 400), (360, 240)])
def test_dino_preprocess_is_vbench_dino_transform_on_non_square_frames(height, width):
    """VBench's dino_transform(224) on uint8 frames: torchvision's Resize(224, antialias=False) (bilinear, the
    shorter side to 224, no crop), /255, ImageNet mean and std; then, as documented, the pixels beyond a
    multiple of the 16-pixel patch dropped. (Resize here is torchvision.transforms v1, as VBench calls it.)"""
    from torchvision import transforms

    vbench = transforms.Compose([transforms.Resize(size=224, antialias=False),
                                 transforms.Lambda(lambda x: x.float().div(255.0)),
                                 transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, height, width, 3), dtype=np.uint8))
    expected = vbench(frames.permute(0, 3, 1, 2))
    short, long_ = min(height, width), max(height, width)
    assert min(expected.shape[-2:]) == 224 and max(expected.shape[-2:]) == int(224 * long_ / short)
    expected = expected[..., :expected.shape[-2] // 16 * 16, :expected.shape[-1] // 16 * 16]
    ours = DINO(dino_vit(DINO_ARCH)).preprocess(frames)
    assert ours.shape == expected.shape
    difference = (ours - expected).abs()  # torchvision's two uint8 resize paths round apart by at most one level
    assert difference.max() <= 1.01 / 255 / 0.224 and difference.mean() < 0.25 / 255 / 0.224


def test_junk_safetensors_is_a_one_line_error(tmp_path, videos, capsys):
    folder = tmp_path / "sys"
    folder.mkdir()
    write_video(folder / "v0.mp4", videos[0])
    (tmp_path / "p.csv").write_text(f"video,prompt\nv0.mp4,{PROMPTS[0]}\n")
    junk = tmp_path / "open_clip_model.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}" + bytes(100))
    assert main(["clip-score", str(folder), "--prompts", str(tmp_path / "p.csv"), "--clip-weights", str(junk),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "open_clip_model.safetensors: not a usable clip weights file" in err
    assert main(["consistency", str(folder), "--metrics", "subject", "--dino-weights", str(junk), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a usable dino weights file" in err


def test_a_pickled_weights_file_is_refused_without_torchs_advice_to_unpickle_it(tmp_path, videos, capsys):
    """torch.load(weights_only=True) refuses pickled objects and suggests loading again with weights_only=False,
    which would run the file's code and is never done: the error says what the file holds, not that."""
    import fractions
    import pickle

    folder = tmp_path / "sys"
    folder.mkdir()
    write_video(folder / "v0.mp4", videos[0])
    zipped, legacy = tmp_path / "zipped.pth", tmp_path / "legacy.pth"
    torch.save({"pos_embed": fractions.Fraction(1, 3)}, zipped)  # torch's zip format, an object that is no tensor
    legacy.write_bytes(pickle.dumps({"pos_embed": fractions.Fraction(1, 3)}, protocol=2))  # a plain pickle
    for weights, cause in ((zipped, "fractions.Fraction"), (legacy, "fractions.Fraction")):
        assert main(["consistency", str(folder), "--metrics", "subject", "--dino-weights", str(weights),
                     "--dino-arch", DINO_ARCH, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{weights.name}: not a usable dino weights file" in err and cause in err
        assert "weights_only" not in err and "Re-running" not in err and "\x1b" not in err

"""FVD end to end with randomly initialised I3D weights (real architecture), and parity with cd-fvd."""

from pathlib import Path

import numpy as np
import pytest
import torch
from cdfvd.fvd import cdfvd
from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d as CdfvdInceptionI3d
from cdfvd.third_party.i3d.utils import preprocess_i3d as cdfvd_preprocess

from eval import I3D, FrechetVideoDistance, MissingWeightsError, frechet_distance, fvd
from eval.cli import main
from eval_helpers import moving_square_video, write_frame_folder

FRAMES = 10  # the minimum for I3D is 9; FVD's standard 16 only costs more time here


@pytest.fixture(scope="module")
def cdfvd_network() -> torch.nn.Module:
    """cd-fvd's own pytorch-i3d class, randomly initialised; BN variances lowered so that activations do
    not vanish through the random layers and features differ between videos."""
    torch.manual_seed(0)
    network = CdfvdInceptionI3d(400, in_channels=3).eval()
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_var.uniform_(0.08, 0.12)
    return network


@pytest.fixture(scope="module")
def state_dict_file(tmp_path_factory, cdfvd_network) -> Path:
    path = tmp_path_factory.mktemp("weights") / "i3d_pretrained_400.pt"
    torch.save(cdfvd_network.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def clips() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two 'real' clips (red squares) and two 'fake' ones (green, faster) of 40x48 pixels."""
    real = [moving_square_video(FRAMES, 48, (255, 0, 0), 1, seed=s)[:, 4:44] for s in (1, 2)]
    fake = [moving_square_video(FRAMES, 48, (0, 255, 0), 3, seed=s)[:, 4:44] for s in (3, 4)]
    return real, fake


@pytest.fixture(scope="module")
def our_features(state_dict_file, clips) -> np.ndarray:
    real, fake = clips
    return I3D.load(state_dict_file, batch_size=4).encode_videos(real + fake)


@pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")  # inside cd-fvd's scipy call
def test_features_and_fvd_match_cdfvd_plumbing_random_weights(state_dict_file, cdfvd_network, our_features, clips):
    real, fake = clips
    with torch.no_grad():
        reference = cdfvd_network(cdfvd_preprocess(np.stack(real + fake))).numpy()
    assert our_features.shape == (4, 400)
    assert np.std(our_features, axis=0).mean() > 1e-3 * np.abs(our_features).mean()  # videos differ
    np.testing.assert_allclose(our_features, reference, rtol=1e-4, atol=1e-6 * np.abs(reference).max())
    # cd-fvd's own Frechet code (scipy sqrtm on its FeatureStats) on its features vs ours on ours
    fvd_reference = cdfvd(model="i3d", ckpt_path=str(state_dict_file), device="cpu", n_real="full", n_fake="full")
    fvd_reference.real_stats.append_torch(torch.from_numpy(reference[:2]), num_gpus=1, rank=0)
    fvd_reference.fake_stats.append_torch(torch.from_numpy(reference[2:]), num_gpus=1, rank=0)
    ours = frechet_distance(our_features[:2], our_features[2:])
    assert ours > 0
    assert ours == pytest.approx(float(fvd_reference.compute_fvd_from_stats()), rel=1e-3)


def test_fvd_metric_class_and_function_plumbing_random_weights(state_dict_file, our_features, clips):
    real, fake = clips
    model = I3D.load(state_dict_file, batch_size=4)
    metric = FrechetVideoDistance(model, num_frames=FRAMES)
    metric.update([real[0]], real=True)
    metric.update(torch.from_numpy(np.stack([real[1]])), real=True)
    metric.update(fake, real=False)
    expected = frechet_distance(our_features[:2], our_features[2:])
    assert float(metric.compute()) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="at least 2 real"):
        fvd(real[:1], fake, model, num_frames=FRAMES)


class StyleGANVStyleDetector(torch.nn.Module):
    """Stands in for StyleGAN-V's `i3d_torchscript.pt`: the same call (uint8 clips (B, 3, T, H, W) with
    rescale/resize done inside), our random network behind it, scripted and saved like the original."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False) -> torch.Tensor:
        assert x.dtype == torch.uint8 and x.shape[1] == 3 and rescale and resize and return_features
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w).float()
        frames = torch.nn.functional.interpolate(frames, size=(224, 224), mode="bilinear", align_corners=False)
        return self.network(2.0 * frames.reshape(b, t, c, 224, 224).transpose(1, 2) / 255.0 - 1.0)


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")  # StyleGAN-V's detector format is TorchScript
def test_torchscript_detector_plumbing_random_weights(tmp_path, state_dict_file, our_features, clips):
    network = I3D.load(state_dict_file).network
    path = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(StyleGANVStyleDetector(network)).save(str(path))
    model = I3D.load(path, batch_size=2)
    assert model.torchscript
    real, _ = clips
    np.testing.assert_allclose(model.encode_videos(real), our_features[:2], rtol=1e-4, atol=1e-6 * np.abs(our_features).max())


def test_cli_fvd_with_cache_plumbing_random_weights(tmp_path, state_dict_file, our_features, clips, capsys):
    real, fake = clips
    for folder, videos in (("real", real), ("fake", fake)):
        for i, video in enumerate(videos):
            write_frame_folder(tmp_path / folder / f"clip{i}", video)  # PNG: lossless, same pixels
    args = ["fvd", str(tmp_path / "real"), str(tmp_path / "fake"), "--i3d-weights", str(state_dict_file),
            "--num-frames", str(FRAMES), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "fvd.json"), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "fvd" in printed and "fake" in printed
    import pandas as pd

    table = pd.read_json(tmp_path / "fvd.json")
    expected = frechet_distance(our_features[:2], our_features[2:])
    assert table.loc[0, "value"] == pytest.approx(expected, rel=1e-5)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 4
    # a second run reads the cache: same number, no new files
    assert main(args[:-1] + ["--no-progress"]) == 0
    assert pd.read_json(tmp_path / "fvd.json").loc[0, "value"] == table.loc[0, "value"]


def test_missing_weights_error_says_what_and_where(tmp_path):
    with pytest.raises(MissingWeightsError) as err:
        I3D.load(weights_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "i3d_torchscript.pt") in message and "i3d_torchscript.pt?dl=1" in message
    assert str(tmp_path / "i3d_pretrained_400.pt") in message and "i3d_pretrained_400.pt" in message
    assert main(["fvd", str(tmp_path), str(tmp_path), "--weights-dir", str(tmp_path)]) == 2


def test_videomae_fvd_plumbing_random_weights(tmp_path, clips):
    """A small random VideoMAE (the transformers class, tiny config) saved as a local directory."""
    from transformers import VideoMAEConfig, VideoMAEModel

    from eval import VideoMAE

    torch.manual_seed(0)
    config = VideoMAEConfig(image_size=32, patch_size=8, num_frames=4, tubelet_size=2, hidden_size=48,
                            num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
    VideoMAEModel(config).save_pretrained(tmp_path / "videomae")
    real, fake = (videos[:2] for videos in clips)
    for folder, videos in (("real", real), ("fake", fake)):
        for i, video in enumerate(videos):
            write_frame_folder(tmp_path / folder / f"clip{i}", video)
    assert main(["fvd", str(tmp_path / "real"), str(tmp_path / "fake"), "--features", "videomae",
                 "--videomae-weights", str(tmp_path / "videomae"), "--no-cache", "--no-progress",
                 "--out", str(tmp_path / "fvd.csv")]) == 0
    model = VideoMAE.load(tmp_path / "videomae")
    with torch.no_grad():
        x = torch.from_numpy(np.stack([v[:4] for v in real + fake]))
        feats = model.model(pixel_values=model.preprocess(x)).last_hidden_state.mean(1).numpy()
    import pandas as pd

    row = pd.read_csv(tmp_path / "fvd.csv").iloc[0]
    assert row["metric"] == "fvd_videomae" and row["value"] > 0
    assert row["value"] == pytest.approx(frechet_distance(feats[:2], feats[2:]), rel=1e-5)
    with pytest.raises(ValueError, match="clips of 4 frames"):
        model.encode_videos([real[0]])

"""FVD end to end with randomly initialised I3D weights (real architecture), and parity with cd-fvd."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torchmetrics.image.kid import poly_mmd
from cdfvd.fvd import cdfvd
from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d as CdfvdInceptionI3d
from cdfvd.third_party.i3d.utils import preprocess_i3d as cdfvd_preprocess

from eval import (I3D, FrechetVideoDistance, KernelVideoDistance, MissingWeightsError, frechet_distance, fvd,
                  kernel_distance)
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
    with pytest.warns(UserWarning, match="2 (real|fake) videos for 400-dimensional features"):
        assert fvd(real, fake, model, num_frames=FRAMES) == pytest.approx(expected, rel=1e-6)
    kvd = KernelVideoDistance(model, num_frames=FRAMES)
    kvd.update(real, real=True)
    kvd.update(fake[:1], real=False)
    kvd.update(fake[1:], real=False)
    assert float(kvd.compute()) == pytest.approx(kernel_distance(our_features[:2], our_features[2:]), rel=1e-6)


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


def _write_mixed(root: Path, videos: dict[str, np.ndarray]) -> None:
    for name, video in videos.items():
        write_frame_folder(root / name, video)  # PNG frames: lossless


@pytest.fixture(scope="module")
def mixed_sets() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Real and fake folders whose videos all differ in size (and aspect ratio)."""
    sizes = [(40, 48), (48, 48), (32, 56), (64, 40), (56, 32), (36, 60)]
    real = {f"r{i}": moving_square_video(FRAMES, 64, (255, 0, 0), 1, seed=i)[:, :h, :w] for i, (h, w) in enumerate(sizes[:3])}
    fake = {f"f{i}": moving_square_video(FRAMES, 64, (0, 255, 0), 3, seed=10 + i)[:, :h, :w] for i, (h, w) in enumerate(sizes[3:])}
    return real, fake


@pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")
def test_mixed_resolution_folders_fvd_equals_cdfvd_plumbing_random_weights(tmp_path, state_dict_file, cdfvd_network,
                                                                           mixed_sets, capsys):
    real, fake = mixed_sets
    _write_mixed(tmp_path / "real", real)
    _write_mixed(tmp_path / "fake", fake)
    assert main(["fvd", str(tmp_path / "real"), str(tmp_path / "fake"), "--i3d-weights", str(state_dict_file),
                 "--num-frames", str(FRAMES), "--no-cache", "--no-progress", "--batch-size", "3",
                 "--out", str(tmp_path / "fvd.json")]) == 0
    ours = json.loads((tmp_path / "fvd.json").read_text())[0]
    # cd-fvd's own preprocessing and network, one video at a time (its way with videos of any size)
    with torch.no_grad():
        feats = {side: torch.cat([cdfvd_network(cdfvd_preprocess(v[None])) for v in videos.values()])
                 for side, videos in (("real", real), ("fake", fake))}
    reference = cdfvd(model="i3d", ckpt_path=str(state_dict_file), device="cpu", n_real="full", n_fake="full")
    reference.real_stats.append_torch(feats["real"], num_gpus=1, rank=0)
    reference.fake_stats.append_torch(feats["fake"], num_gpus=1, rank=0)
    assert ours["metric"] == "fvd" and ours["value"] > 0
    assert ours["value"] == pytest.approx(float(reference.compute_fvd_from_stats()), rel=1e-3)


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_torchscript_detector_mixed_sizes_plumbing_random_weights(tmp_path, state_dict_file, mixed_sets):
    network = I3D.load(state_dict_file).network
    path = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(StyleGANVStyleDetector(network)).save(str(path))
    model = I3D.load(path, batch_size=4)
    videos = list(mixed_sets[0].values()) + list(mixed_sets[1].values())[:1]
    one_by_one = np.concatenate([model.encode_videos([v]) for v in videos])
    np.testing.assert_allclose(model.encode_videos(videos), one_by_one, rtol=1e-5, atol=1e-5 * np.abs(one_by_one).max())


def test_provenance_kvd_and_small_set_warning_in_results_plumbing_random_weights(tmp_path, state_dict_file, clips,
                                                                                 our_features, capsys):
    real, fake = clips
    _write_mixed(tmp_path / "real", {f"clip{i}": v for i, v in enumerate(real)})
    _write_mixed(tmp_path / "fake", {f"clip{i}": v for i, v in enumerate(fake)})
    argv = ["fvd", str(tmp_path / "real"), str(tmp_path / "fake"), "--i3d-weights", str(state_dict_file),
            "--num-frames", str(FRAMES), "--no-cache", "--no-progress", "--out", str(tmp_path / "fvd.csv")]
    assert main(argv) == 0
    assert "warning: 2 real videos for 400-dimensional features" in capsys.readouterr().err
    table = pd.read_csv(tmp_path / "fvd.csv").set_index("metric")
    row = table.loc["fvd"]
    assert row["weights"] == "i3d_pretrained_400.pt"
    assert row["weights_sha256"] == hashlib.sha256(state_dict_file.read_bytes()).hexdigest()
    assert row["code_version"].startswith("streamdit eval ") and "torch" in row["code_version"]
    assert f"first {FRAMES} frames at stride 1" in row["preprocessing"] and "224x224" in row["preprocessing"]
    assert row["videos"] == "real=2; fake=2" and row["command"].startswith("python -m eval fvd ")
    expected = kernel_distance(our_features[:2], our_features[2:])
    assert table.loc["kvd", "value"] == pytest.approx(expected, rel=1e-6)
    # KVD is torchmetrics' unbiased polynomial MMD (KID's) on sets of equal size
    poly = float(poly_mmd(torch.from_numpy(our_features[:2]).double(), torch.from_numpy(our_features[2:]).double()))
    assert expected == pytest.approx(poly, rel=1e-6)


def test_real_stats_saved_loaded_and_refused_for_other_settings_plumbing_random_weights(tmp_path, state_dict_file, clips,
                                                                                        capsys):
    real, fake = clips
    _write_mixed(tmp_path / "real", {f"clip{i}": v for i, v in enumerate(real)})
    _write_mixed(tmp_path / "fake", {f"clip{i}": v for i, v in enumerate(fake)})
    stats = tmp_path / "real_stats.npz"
    common = ["--i3d-weights", str(state_dict_file), "--no-cache", "--no-progress", "--real-stats", str(stats)]
    assert main(["fvd", str(tmp_path / "real"), str(tmp_path / "fake"), "--num-frames", str(FRAMES),
                 "--out", str(tmp_path / "a.json")] + common) == 0
    assert stats.is_file()
    assert main(["fvd", "-", str(tmp_path / "fake"), "--num-frames", str(FRAMES), "--out", str(tmp_path / "b.json")] + common) == 0
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert [r["value"] for r in a] == [r["value"] for r in b] and b[0]["videos"] == "real=2; fake=2"
    capsys.readouterr()
    assert main(["fvd", "-", str(tmp_path / "fake"), "--num-frames", "12"] + common) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "real statistics made with other settings" in err


def test_corrupt_weights_and_missing_gpu_are_one_line_errors(tmp_path, clips, capsys):
    real, fake = clips
    _write_mixed(tmp_path / "real", {f"clip{i}": v for i, v in enumerate(real)})
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "i3d_torchscript.pt").write_text("<!DOCTYPE html><html><body>Dropbox - sign in</body></html>")
    folders = [str(tmp_path / "real"), str(tmp_path / "real")]
    assert main(["fvd", *folders, "--weights-dir", str(weights), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "i3d_torchscript.pt: not a usable i3d weights file" in err and "HTML" in err
    (weights / "i3d_torchscript.pt").unlink()
    (weights / "i3d_pretrained_400.pt").write_bytes(b"\x80\x02junk" * 100)
    assert main(["fvd", *folders, "--weights-dir", str(weights), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "i3d_pretrained_400.pt: not a usable i3d weights file" in err
    assert main(["fvd", *folders, "--device", "cuda:99"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device cuda:99" in err
    if not torch.cuda.is_available():
        assert main(["fvd", *folders, "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no CUDA GPU" in err


def test_weights_in_the_cache_need_no_flag_plumbing_random_weights(tmp_path, state_dict_file, clips, monkeypatch):
    real, fake = clips
    _write_mixed(tmp_path / "real", {f"clip{i}": v for i, v in enumerate(real)})
    _write_mixed(tmp_path / "fake", {f"clip{i}": v for i, v in enumerate(fake)})
    monkeypatch.delenv("STREAMDIT_EVAL_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cached = tmp_path / "xdg" / "streamdit" / "eval-weights" / "i3d_pretrained_400.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(state_dict_file.read_bytes())
    assert main(["fvd", str(tmp_path / "real"), str(tmp_path / "fake"), "--num-frames", str(FRAMES), "--no-cache",
                 "--no-progress", "--out", str(tmp_path / "fvd.json")]) == 0
    assert json.loads((tmp_path / "fvd.json").read_text())[0]["weights"] == "i3d_pretrained_400.pt"

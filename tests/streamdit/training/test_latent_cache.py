"""streamdit.training.latent_cache: training clips encoded once and read back epoch after epoch (CPU; the
autoencoders are small random-init ones: what is under test is the plumbing, not their latents)."""

from __future__ import annotations

import copy
import itertools
import json
from functools import partial

import numpy as np
import pytest
import torch
from accelerate.state import AcceleratorState

from streamdit.autoencoders.base import PatchAutoencoder, video_to_tensor
from streamdit.autoencoders.video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig
from streamdit.data import object_pixels, v2, worlds
from streamdit.data.v2.render import background
from streamdit.models.dit import StreamDiT, StreamDiTConfig
from streamdit.models.text import CachedTextEncoder
from streamdit.training import cli
from streamdit.training.cli import encode_main, train_main
from streamdit.training.latent_cache import LatentCache, encode_clips, latent_blocks, shard_seed
from streamdit.training.objectives import drop_text
from streamdit.training.trainer import TrainConfig, Trainer, weights_digest
from tests.streamdit.training.test_training import CAPTION, moving_square, tiny_config

DATA = partial(worlds.stream, "v1", num_frames=8, resolution=16)


@pytest.fixture(autouse=True)
def fresh_accelerator():
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def small_autoencoder(seed: int) -> VideoAutoencoder:
    torch.manual_seed(seed)
    return VideoAutoencoder(VideoAutoencoderConfig(latent_channels=4, patch_size=2, widths=(8,))).eval()


def test_the_cache_holds_each_shards_clips_encoded_by_the_autoencoder_plumbing_random_init(tmp_path) -> None:
    ae = small_autoencoder(0)
    encode_clips(DATA, ae, tmp_path, clips=5, source="synthetic", seed=3,
                 batch_size=2, shard_clips=2)
    cache = LatentCache(tmp_path)
    assert len(cache) == 5 and sorted(p.name for p in tmp_path.glob("shard-*")) == [
        "shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors"]
    expected_latents, expected_captions = [], []
    for shard, n in enumerate((2, 2, 1)):  # each shard: the first n clips of its own seeded stream
        clips = list(itertools.islice(DATA(shard_seed(3, shard)), n))
        videos = torch.as_tensor(np.stack([video for video, _ in clips]))
        with torch.no_grad():
            expected_latents.append(ae.encode(video_to_tensor(videos)))
        expected_captions += [caption for _, caption in clips]
    assert cache.captions == expected_captions
    assert cache.latents.dtype == torch.bfloat16 and cache.latents.shape == (5, 4, 2, 4, 4)
    torch.testing.assert_close(cache.latents.float(), torch.cat(expected_latents), rtol=1 / 128, atol=1e-3)
    assert json.loads((tmp_path / "latents.json").read_text())["latent_shape"] == [4, 2, 4, 4]
    with pytest.raises(FileExistsError, match="already holds"):
        encode_clips(DATA, ae, tmp_path, 5, "synthetic")


def test_an_interrupted_cache_resumes_to_the_same_shards_plumbing_random_init(tmp_path) -> None:
    ae = small_autoencoder(0)
    encode_clips(DATA, ae, tmp_path / "whole", 6, "synthetic", seed=1, batch_size=2, shard_clips=2)

    def breaks_in_the_second_shard(seed: int):
        if seed == shard_seed(1, 1):
            yield next(DATA(seed))
            raise KeyboardInterrupt
        yield from DATA(seed)

    with pytest.raises(KeyboardInterrupt):
        encode_clips(breaks_in_the_second_shard, ae, tmp_path / "resumed", 6, "synthetic", seed=1, batch_size=1,
                     shard_clips=2)
    assert [p.name for p in (tmp_path / "resumed").iterdir()] == ["shard-00000.safetensors"]
    with pytest.raises(FileNotFoundError, match="not a finished latent cache"):
        LatentCache(tmp_path / "resumed")
    encode_clips(DATA, ae, tmp_path / "resumed", 6, "synthetic", seed=1, batch_size=2, shard_clips=2)
    for name in ("shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors", "latents.json"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def test_an_extended_cache_equals_the_longer_cache_and_refuses_other_data_plumbing_random_init(tmp_path) -> None:
    ae = small_autoencoder(0)
    encode_clips(DATA, ae, tmp_path / "whole", 9, "synthetic", seed=1, batch_size=2, shard_clips=2)
    grown = tmp_path / "grown"
    encode_clips(DATA, ae, grown, 5, "synthetic", seed=1, batch_size=2, shard_clips=2)  # last shard: 1 clip
    with pytest.raises(FileExistsError, match=r"holds a finished latent cache \(latents.json\) of 5 clips"):
        encode_clips(DATA, ae, grown, 9, "synthetic", seed=1, batch_size=2, shard_clips=2)
    for changed, message in (({"seed": 2}, "seed 1"), ({"autoencoder": small_autoencoder(1)}, "another encoder"),
                             ({"source": "synthetic-v2"}, "source 'synthetic'"), ({"clips": 4}, "already holds 5"),
                             ({"shard_clips": 3}, "shards hold 2")):
        settings = {"autoencoder": ae, "clips": 9, "source": "synthetic", "seed": 1, "shard_clips": 2} | changed
        with pytest.raises(ValueError, match=message):
            encode_clips(DATA, out_dir=grown, batch_size=2, extend=True, **settings)
    assert LatentCache(grown).index["clips"] == 5  # refused extensions leave the cache as it was
    encode_clips(DATA, ae, grown, 9, "synthetic", seed=1, batch_size=2, shard_clips=2, extend=True)
    names = sorted(p.name for p in (tmp_path / "whole").iterdir())
    assert sorted(p.name for p in grown.iterdir()) == names
    for name in names:
        assert (grown / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def test_the_stream_visits_every_clip_once_per_epoch_in_a_new_order(tmp_path) -> None:
    ae = small_autoencoder(0)
    encode_clips(DATA, ae, tmp_path, 6, "synthetic", batch_size=3, shard_clips=4)
    cache = LatentCache(tmp_path)
    ids = {cache.latents[i].float().sum().item(): i for i in range(6)}
    seen = [ids[latents.float().sum().item()] for latents, _ in itertools.islice(cache.stream(0), 18)]
    epochs = [seen[i:i + 6] for i in range(0, 18, 6)]
    assert all(sorted(epoch) == list(range(6)) for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) > 1
    assert [ids[x.float().sum().item()] for x, _ in itertools.islice(cache.stream(0), 6)] == epochs[0]
    assert [ids[x.float().sum().item()] for x, _ in itertools.islice(cache.stream(1), 6)] != epochs[0]


def test_training_on_latents_equals_training_on_their_videos(text_encoder, tmp_path) -> None:
    ae = PatchAutoencoder(2)
    video = moving_square()
    latents = ae.encode(video_to_tensor(video[None]))[0]
    runs = []
    for name, sample in (("videos", video), ("latents", latents)):
        torch.manual_seed(0)
        model = StreamDiT(tiny_config(text_encoder.dim, ae))
        trainer = Trainer(model, ae, text_encoder, itertools.repeat((sample, CAPTION)),
                          TrainConfig(steps=2, batch_size=2, lr=1e-3), tmp_path / name)
        trainer.train()
        runs.append(trainer.unwrapped.state_dict())
        AcceleratorState._reset_state(reset_partial_state=True)
    for key in runs[0]:
        assert torch.equal(runs[0][key], runs[1][key]), key
    wrong = Trainer(StreamDiT(tiny_config(text_encoder.dim, ae)), ae, text_encoder,
                    itertools.repeat((latents[:, :2], CAPTION)), TrainConfig(steps=1, batch_size=1), tmp_path / "wrong")
    with pytest.raises(ValueError, match=r"float latents of shape \(12, 4, 4, 4\)"):
        wrong.train()


def with_decoder_changed(ae: VideoAutoencoder) -> VideoAutoencoder:
    """A copy of ``ae`` whose decoder weights moved, as a decoder fine-tune moves them."""
    tuned = copy.deepcopy(ae)
    with torch.no_grad():
        for p in tuned.decoder.parameters():
            p.add_(0.01)
    return tuned


def test_encode_latents_then_train_on_them_and_refuse_another_autoencoder_plumbing_random_init(tmp_path,
                                                                                               monkeypatch) -> None:
    for seed in (0, 1):
        small_autoencoder(seed).save_pretrained(tmp_path / f"ae{seed}")
    with_decoder_changed(small_autoencoder(0)).save_pretrained(tmp_path / "ae0-decoder-tuned")
    (tmp_path / "config.json").write_text(json.dumps(tiny_config(384, PatchAutoencoder(4), pixels=16).to_dict()))
    assert encode_main(["--out", str(tmp_path / "cache"), "--data", "synthetic-v2", "--autoencoder",
                        str(tmp_path / "ae0"), "--config", str(tmp_path / "config.json"), "--clips", "3",
                        "--shard-clips", "2", "--cpu"]) == 0
    cache = LatentCache(tmp_path / "cache")
    assert cache.latents.shape == (3, 4, 4, 4, 4) and cache.foreground.shape == (3, 1, 4, 4, 4)
    common = ["--config", str(tmp_path / "config.json"), "--data", str(tmp_path / "cache"), "--steps", "1",
              "--foreground-weight", "4",
              "--batch-size", "2", "--num-workers", "0", "--sample-chunk-size", "1", "--cpu"]
    kept = []  # training on a cache keeps every caption's encoding, even above the usual limit (here 2)
    monkeypatch.setattr(cli, "TEXT_CACHE_PROMPTS", 2)
    monkeypatch.setattr(cli, "CachedTextEncoder", lambda encoder, max_items: kept.append(max_items) or
                        CachedTextEncoder(encoder, max_items))
    assert train_main(["--out", str(tmp_path / "run"), "--autoencoder", str(tmp_path / "ae0"), *common]) == 0
    assert kept == [3] and cli.text_cache_size("synthetic-v2") == 2
    assert json.loads((tmp_path / "run" / "pipeline" / "pipeline.json").read_text())["world"] == "v2"
    with pytest.raises(SystemExit, match="encoded by another encoder"):
        train_main(["--out", str(tmp_path / "other"), "--autoencoder", str(tmp_path / "ae1"), *common])
    # the same encoder with a fine-tuned decoder: the latents are still its own
    assert train_main(["--out", str(tmp_path / "tuned"), "--autoencoder", str(tmp_path / "ae0-decoder-tuned"),
                       *common]) == 0


def test_the_cache_checks_the_encoder_and_an_older_cache_the_whole_autoencoder_until_reindexed_plumbing_random_init(
        tmp_path) -> None:
    ae = small_autoencoder(0)
    tuned, other = with_decoder_changed(ae), small_autoencoder(1)
    encode_clips(DATA, ae, tmp_path, 3, "synthetic", shard_clips=2)
    cache = LatentCache(tmp_path)
    assert cache.encoded_by(ae) and cache.encoded_by(tuned) and not cache.encoded_by(other)
    with torch.no_grad():
        tuned.encoder[1].weight.mul_(1.001)  # its first convolution moved too: not its latents any more
    assert not cache.encoded_by(tuned)

    index = json.loads((tmp_path / "latents.json").read_text())
    del index["encoder_digest"]  # as caches were written before the encoder digest: the whole autoencoder's
    (tmp_path / "latents.json").write_text(json.dumps(index | {"autoencoder_digest": weights_digest(ae)}))
    shards = {p.name: p.read_bytes() for p in tmp_path.glob("shard-*")}
    assert LatentCache(tmp_path).encoded_by(ae) and not LatentCache(tmp_path).encoded_by(with_decoder_changed(ae))
    with pytest.raises(ValueError, match="another encoder"):
        encode_clips(DATA, with_decoder_changed(ae), tmp_path, 3, "synthetic", shard_clips=2, extend=True)
    encode_clips(DATA, ae, tmp_path, 3, "synthetic", shard_clips=2, extend=True)  # the same clips: a new index
    assert LatentCache(tmp_path).encoded_by(with_decoder_changed(ae))
    assert {p.name: p.read_bytes() for p in tmp_path.glob("shard-*")} == shards


def test_object_pixels_are_where_a_render_differs_from_its_background() -> None:
    spec = v2.sample_scene(np.random.default_rng(3), "train", num_objects=2, resolution=64)
    video = v2.render(spec, 4).astype(np.int16)
    plain = np.clip(np.rint(background(spec, 4)), 0, 255).astype(np.int16)
    changed = np.abs(video - plain).max(-1)
    found = object_pixels(video.astype(np.uint8))
    assert found.shape == (4, 64, 64) and found.any()
    assert not found[changed == 0].any()  # the background alone is never an object
    assert found[changed > 120].all()  # an object's inside (fully covered) always is


def test_latent_blocks_flag_a_latent_pixel_when_any_pixel_of_its_block_is_set() -> None:
    mask = torch.zeros(2, 8, 16, 16, dtype=torch.bool)
    mask[0, 5, 3, 12] = True  # frame group 1, rows 0-3, columns 12-15 -> latent (1, 0, 3)
    mask[1, 0, 15, 0] = True  # group 0, row block 3, column block 0
    flags = latent_blocks(mask, temporal=4, spatial=4)
    assert flags.shape == (2, 1, 2, 4, 4)
    expected = torch.zeros(2, 1, 2, 4, 4, dtype=torch.bool)
    expected[0, 0, 1, 0, 3] = expected[1, 0, 0, 3, 0] = True
    assert torch.equal(flags, expected)


def test_a_cache_with_foreground_flags_yields_them_and_the_trainer_weights_its_loss_plumbing_random_init(
        text_encoder, tmp_path) -> None:
    ae = small_autoencoder(0)  # 4x in time and space
    data = partial(worlds.stream, "v2", num_frames=16, resolution=16)
    encode_clips(data, ae, tmp_path / "cache", 3, "synthetic-v2", batch_size=2, shard_clips=2,
                 foreground=object_pixels)
    cache = LatentCache(tmp_path / "cache")
    videos = [video for video, _ in itertools.islice(data(shard_seed(0, 0)), 2)]
    videos += [video for video, _ in itertools.islice(data(shard_seed(0, 1)), 1)]
    expected = latent_blocks(torch.as_tensor(object_pixels(np.stack(videos))), 4, 4)
    assert torch.equal(cache.foreground, expected) and expected.any() and not expected.all()
    latents, caption, flags = next(cache.stream(0))
    assert flags.shape == (1, 4, 4, 4) and flags.dtype == torch.bool

    model = StreamDiT(StreamDiTConfig(in_channels=4, buffer_frames=4, latent_height=4, latent_width=4, hidden_size=64,
                                      depth=2, num_heads=2, window_size=(4, 8, 8), text_dim=text_encoder.dim))
    for p in model.parameters():  # every weight non-zero: the prediction, so the loss, depends on the weights
        p.data.normal_(0, 0.1)
    losses = {}
    for factor, max_t in ((1.0, 1.0), (10.0, 1.0), (10.0, 0.5)):
        trainer = Trainer(model, ae, text_encoder, cache.stream, TrainConfig(
            steps=1, batch_size=3, num_workers=0, foreground_weight=factor, foreground_max_t=max_t),
            tmp_path / f"run{factor}-{max_t}")
        batch = next(trainer._batches())
        assert batch[2] is not None and batch[2].shape == (3, 1, 4, 4, 4)
        text = text_encoder.encode(batch[1])
        torch.manual_seed(0)
        with torch.no_grad():
            losses[factor, max_t] = trainer.compute_loss(batch[0].float(), text, batch[2]).item()
        torch.manual_seed(0)  # the same noise and times, weighted by hand
        with torch.no_grad():
            text = drop_text(text, trainer.null_text, trainer.config.cond_dropout)
            _, t = trainer.time_sampler.sample(3)
            noise = torch.randn_like(batch[0].float())
            x0 = batch[0].float()
            x_t = (1 - t[:, None, :, None, None]) * x0 + t[:, None, :, None, None] * noise
            error = (model(x_t, t, text.tokens, text.mask) - (noise - x0)).pow(2)
            weighted = batch[2].float() * (t <= max_t).float()[:, None, :, None, None]
            if max_t < 1:  # some flagged frames are noisier than 0.5, some not
                assert 0 < weighted.sum() < batch[2].sum()
            w = 1 + (factor - 1) * weighted.expand_as(error)
            assert losses[factor, max_t] == pytest.approx(((w * error).sum() / w.sum()).item(), rel=1e-5)
        AcceleratorState._reset_state(reset_partial_state=True)
    assert losses[1.0, 1.0] != pytest.approx(losses[10.0, 1.0], rel=1e-3)
    assert losses[10.0, 0.5] != pytest.approx(losses[10.0, 1.0], rel=1e-3)


def test_a_foreground_weight_without_foreground_flags_is_an_error_naming_the_option(text_encoder, tmp_path) -> None:
    ae = PatchAutoencoder(2)
    trainer = Trainer(StreamDiT(tiny_config(text_encoder.dim, ae)), ae, text_encoder,
                      itertools.repeat((moving_square(), CAPTION)),
                      TrainConfig(steps=1, batch_size=1, foreground_weight=5.0), tmp_path / "run")
    with pytest.raises(ValueError, match="foreground_weight 5.0 needs foreground flags"):
        trainer.train()

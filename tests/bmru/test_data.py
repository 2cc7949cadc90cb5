import json
import shutil

import numpy as np
import pytest

from bmru import data as D
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

TINY = D.DataConfig(seed=3, train_clips=14, val_clips=7, test_clips=7)


@pytest.fixture(scope="module")
def tiny():
    return D.generate(TINY, processes=1, keep_audio=True, chunk=5)


def test_shapes_and_labels(tiny):
    for split in D.SPLITS:
        n = TINY.clips(split)
        assert tiny[f"x_{split}"].shape == (n, 101, 13)
        assert tiny[f"x_{split}"].dtype == np.float32
        assert tiny[f"audio_{split}"].shape == (n, 16000)
        assert tiny[f"audio_{split}"].dtype == np.int16
        y, word = tiny[f"y_{split}"], tiny[f"word_{split}"]
        assert np.array_equal(y, (word == D.WORDS.index("yes")).astype(np.int64))
        assert np.all(np.isfinite(tiny[f"x_{split}"]))
    # half "yes", the rest spread evenly over the 6 negatives
    counts = np.bincount(tiny["word_train"], minlength=len(D.WORDS))
    assert counts[0] == 7 and counts[1:].tolist() == [2, 1, 1, 1, 1, 1]


def test_clips_hold_speech_or_noise(tiny):
    audio = tiny["audio_train"].astype(np.float64) / 32767
    peaks = np.abs(audio).max(axis=1)
    assert np.all(peaks > 0.02)
    for split in D.SPLITS:
        speech = tiny[f"word_{split}"] != D.WORDS.index(D.SILENCE)
        assert all(v for v in tiny[f"voice_{split}"][speech])
        assert not any(v for v in tiny[f"voice_{split}"][~speech])


def test_deterministic_and_independent_of_processes_and_chunks(tiny):
    again = D.generate(TINY, processes=2, keep_audio=True, chunk=3)
    for key in tiny:
        floating = tiny[key].dtype.kind == "f"
        assert np.array_equal(tiny[key], again[key], equal_nan=floating), key
    other = D.generate(D.DataConfig(seed=4, train_clips=14, val_clips=7, test_clips=7), splits=("train",),
                       processes=1, keep_audio=True)
    assert not np.array_equal(other["audio_train"], tiny["audio_train"])


def test_a_clip_depends_only_on_its_index():
    small = D.generate(D.DataConfig(seed=3, train_clips=14, val_clips=0, test_clips=0), splits=("train",),
                       processes=1, keep_audio=True)
    voices = D.speaker_split(TINY)["train"]
    spec = D.clip_spec(TINY, "train", 5, voices)
    np.testing.assert_array_equal(np.round(D.render(spec, TINY) * 32767).astype(np.int16), small["audio_train"][5])


def test_voice_disjoint_splits(tiny):
    split = D.speaker_split(D.DataConfig())
    for key in ("languages", "variants"):
        groups = [set(split[name][key]) for name in D.SPLITS]
        assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2]), key
        assert all(groups), key
    # English accents appear in every split, so the test set has native English voices
    for name in D.SPLITS:
        assert set(split[name]["languages"]) & set(D.ENGLISH_LANGUAGES)
    # and the generated clips only use their split's voices
    stored = json.loads(str(tiny["split_voices"]))
    for name in D.SPLITS:
        for voice in tiny[f"voice_{name}"]:
            if not voice:
                continue
            language, _, variant = str(voice).partition("+")
            assert language in stored[name]["languages"]
            assert variant in stored[name]["variants"]


def test_cache_roundtrip(tmp_path):
    config = D.DataConfig(seed=5, train_clips=4, val_clips=2, test_clips=2)
    first, info = D.load_dataset(config, tmp_path, processes=1)
    assert not info["cached"]
    second, info2 = D.load_dataset(config, tmp_path, processes=1)
    assert info2["cached"] and info2["path"] == info["path"]
    for key in ("x_train", "y_test", "voice_val"):
        assert np.array_equal(first[key], second[key])
    assert D.cache_key(config) != D.cache_key(D.DataConfig(seed=6, train_clips=4, val_clips=2, test_clips=2))
    summary = D.describe(second)
    assert summary["train"]["clips"] == 4 and summary["test"]["yes"] == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"train_clips": -1}, "train_clips"),
    ({"yes_fraction": 1.5}, "yes_fraction"),
    ({"pitch": (10.0, 120.0)}, "pitch"),
    ({"speed_wpm": (50.0, 100.0)}, "speed_wpm"),
    ({"snr_db": (30.0, 3.0)}, "snr_db"),
    ({"seed": -2}, "seed"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(D.DataError, match=match):
        D.DataConfig(**kwargs)


def test_bad_arguments():
    with pytest.raises(D.DataError, match="splits"):
        D.generate(TINY, splits=("dev",))
    with pytest.raises(D.DataError, match="processes"):
        D.generate(TINY, processes=0)


def test_interleaved_classes_balance_every_prefix():
    from bmru.data import interleave_classes

    labels = np.array([1, 1, 1, 1, 0, 0, 2])
    order = interleave_classes(labels)
    assert list(labels[order]) == [0, 1, 2, 0, 1, 1, 1]
    assert list(order) == [4, 0, 6, 5, 1, 2, 3]  # each class keeps its own order


def test_shipped_test_set_covers_both_classes_in_every_prefix():
    """Circuit checks simulate the first N utterances: from N = 2 on, both classes are there
    in equal numbers (the set used to start with 300 'yes' clips)."""

    with np.load(REPO_ROOT / "examples" / "kws_yes_test.npz") as data:
        labels = data["y"]
    for count in range(2, 101, 2):
        assert np.bincount(labels[:count], minlength=2).tolist() == [count // 2, count // 2]

import numpy as np
import pytest

from bmru import features as F
from bmru.features import extract, extract_batch


def tone(seconds=1.0, rate=16000, freq=440.0, seed=0):
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * freq * t) * np.exp(-((t - 0.5) / 0.15) ** 2)
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_shape_and_dtype():
    feats = extract(tone(), 16000)
    assert feats.shape == (101, 13) == (F.FRAMES, F.N_MFCC)
    assert feats.dtype == np.float32
    assert np.all(np.isfinite(feats))


def test_per_utterance_normalisation():
    feats = extract(tone(), 16000).astype(np.float64)
    np.testing.assert_allclose(feats.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(feats.std(axis=0), 1.0, atol=1e-4)


def test_gain_invariance_of_normalised_features():
    # scaling the audio shifts log-mel energies by a constant: removed by the normalisation
    a = extract(tone(), 16000)
    b = extract(4.0 * tone(), 16000)
    np.testing.assert_allclose(a, b, atol=2e-3)


def test_pad_and_trim_to_one_second():
    short = extract(tone(0.4), 16000)
    long = extract(tone(1.7), 16000)
    assert short.shape == long.shape == (101, 13)
    # trimming: the first second of a longer clip gives the same features as the clip cut to 1 s
    clip = tone(1.7)
    np.testing.assert_allclose(extract(clip, 16000), extract(clip[:16000], 16000), atol=1e-6)


def test_resampling():
    feats = extract(tone(rate=8000), 8000)
    assert feats.shape == (101, 13)
    ref = extract(tone(rate=16000), 16000)
    assert np.corrcoef(feats[:, 1], ref[:, 1])[0, 1] > 0.8


def test_silence_gives_zeros_not_nan():
    feats = extract(np.zeros(16000, dtype=np.float32), 16000)
    assert np.all(np.isfinite(feats))
    np.testing.assert_array_equal(feats, 0.0)


def test_integer_pcm_matches_float():
    audio = tone()
    pcm = np.round(audio * 32767).astype(np.int16)
    np.testing.assert_allclose(extract(pcm, 16000), extract(pcm.astype(np.float32) / 32768.0, 16000), atol=1e-6)


def test_batch_matches_single():
    clips = np.stack([tone(seed=i, freq=300 + 100 * i) for i in range(3)])
    batch = extract_batch(clips, 16000)
    assert batch.shape == (3, 101, 13)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], extract(clips[i], 16000))
    ragged = extract_batch([tone(0.5), tone(1.2)], 16000)
    assert ragged.shape == (2, 101, 13)
    assert extract_batch([], 16000).shape == (0, 101, 13)


@pytest.mark.parametrize("bad, rate, match", [
    (np.zeros((2, 16000)), 16000, "mono"),
    (np.array([]), 16000, "at least one sample"),
    (np.array([np.nan] * 100), 16000, "NaN"),
    (np.zeros(100), 0, "sample_rate"),
    (np.zeros(100), 44100.5, "sample_rate"),
    (np.array(["a"]), 16000, "dtype"),
])
def test_bad_input(bad, rate, match):
    with pytest.raises(ValueError, match=match):
        extract(bad, rate)

"""Audio -> the network's input frames: 13 MFCCs per 10 ms, normalised per utterance.

The shipped keyword spotter expects exactly what :func:`extract` returns (DESIGN.md section 2):
16 kHz mono audio padded or trimmed to 1 s, 13 MFCCs from librosa with a 512-point FFT and a
10 ms hop (160 samples), centred frames, hence 101 frames; then every coefficient is shifted
and scaled over the utterance's frames to zero mean and unit variance. The network rectifies
these values itself (``ReLU(x)``), so the features stay signed here.

This module does not import PyTorch (it runs in both environments).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
CLIP_SECONDS = 1.0
CLIP_SAMPLES = int(SAMPLE_RATE * CLIP_SECONDS)
N_MFCC = 13
N_FFT = 512
HOP = 160
N_MELS = 40  # 128 (librosa's default) leaves empty mel bands with a 512-point FFT
FMIN = 20.0
FMAX = 8000.0
FRAMES = 1 + CLIP_SAMPLES // HOP  # 101
NORM_EPS = 1e-6  # a coefficient whose std over the frames is below this is only centred
# A short string naming the exact feature definition, stored in a model's meta and in cache keys.
FEATURES_ID = "mfcc13-per-utterance-norm"
FEATURES_PARAMS = {"sample_rate": SAMPLE_RATE, "n_mfcc": N_MFCC, "n_fft": N_FFT, "hop_length": HOP,
                   "n_mels": N_MELS, "fmin": FMIN, "fmax": FMAX, "frames": FRAMES, "center": True,
                   "normalisation": "per-utterance zero mean, unit variance per coefficient",
                   "norm_eps": NORM_EPS}


def _check_rate(sample_rate) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer, float, np.floating)) \
            or not np.isfinite(sample_rate) or sample_rate <= 0 or int(sample_rate) != sample_rate:
        raise ValueError(f"sample_rate: expected a positive integer rate in Hz, got {sample_rate!r}")
    return int(sample_rate)


def _prepare(audio, sample_rate, name: str = "audio") -> np.ndarray:
    """Check, resample to 16 kHz and pad/trim the last axis to exactly 1 s (float32)."""
    import librosa

    rate = _check_rate(sample_rate)
    array = np.asarray(audio)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected real-valued samples, got dtype {array.dtype}")
    if array.ndim < 1 or array.shape[-1] == 0:
        raise ValueError(f"{name}: expected at least one sample, got shape {array.shape}")
    if array.dtype.kind in "iu":  # integer PCM -> [-1, 1)
        array = array.astype(np.float64) / float(2 ** (8 * array.dtype.itemsize - 1))
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or inf")
    if rate != SAMPLE_RATE:
        array = librosa.resample(array, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq", axis=-1)
        array = array.astype(np.float32)
    length = array.shape[-1]
    if length >= CLIP_SAMPLES:
        array = array[..., :CLIP_SAMPLES]
    else:
        pad = [(0, 0)] * (array.ndim - 1) + [(0, CLIP_SAMPLES - length)]
        array = np.pad(array, pad)
    return np.ascontiguousarray(array)


def normalise(frames: np.ndarray) -> np.ndarray:
    """Per utterance, per coefficient: zero mean and unit variance over the frame axis (-2).

    A coefficient that is (nearly) constant over the utterance is only centred, so silence
    or digital zeros give zeros rather than NaN or amplified rounding noise.
    """
    frames = np.asarray(frames, dtype=np.float64)
    mean = frames.mean(axis=-2, keepdims=True)
    std = frames.std(axis=-2, keepdims=True)
    centred = frames - mean
    scale = np.where(std > NORM_EPS, std, 1.0)
    return centred / scale


def mfcc(audio: np.ndarray) -> np.ndarray:
    """Raw MFCCs of prepared 16 kHz, 1 s audio (..., 16000) -> (..., 101, 13), not normalised."""
    import librosa

    coefficients = librosa.feature.mfcc(y=audio, sr=SAMPLE_RATE, n_mfcc=N_MFCC, n_fft=N_FFT,
                                        hop_length=HOP, n_mels=N_MELS, fmin=FMIN, fmax=FMAX, center=True)
    return np.swapaxes(coefficients, -1, -2)


def extract(audio, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono audio (samples,) -> (101, 13) float32 per-utterance-normalised MFCC frames."""
    array = np.asarray(audio)
    if array.ndim != 1:
        raise ValueError(f"audio: expected mono samples of shape (samples,), got shape {array.shape} "
                         "(use extract_batch for several clips)")
    prepared = _prepare(array, sample_rate)
    return normalise(mfcc(prepared)).astype(np.float32)


def extract_batch(audios, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Several clips -> (n, 101, 13) float32, each exactly as :func:`extract` computes it.

    ``audios`` is an (n, samples) array or a sequence of 1-D clips of any lengths; each is
    resampled, padded/trimmed to 1 s and normalised on its own. Clips are processed one by
    one (librosa is no faster on a batch here), so a clip's features never depend on the
    batch it came in (bit for bit).
    """
    if isinstance(audios, np.ndarray) and audios.ndim == 2:
        clips = audios
    else:
        clips = list(audios)
    out = np.empty((len(clips), FRAMES, N_MFCC), dtype=np.float32)
    for index, clip in enumerate(clips):
        if np.asarray(clip).ndim != 1:
            raise ValueError(f"audios[{index}]: expected a mono clip (samples,), got shape {np.shape(clip)}")
        prepared = _prepare(clip, sample_rate, f"audios[{index}]")
        out[index] = normalise(mfcc(prepared))
    return out

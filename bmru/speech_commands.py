"""Loader for the Google Speech Commands folder layout, as the "yes" versus rest task.

Layout (v0.01 and v0.02 alike)::

    ROOT/
      yes/0a7c2a8d_nohash_0.wav  no/...  up/...  (one folder per word, 16 kHz mono WAV)
      _background_noise_/white_noise.wav ...     (long noise recordings)
      validation_list.txt                        (relative paths, one per line: "yes/xxx.wav")
      testing_list.txt

The official split: a file listed in ``validation_list.txt`` is validation, one listed in
``testing_list.txt`` is test, every other word file is training. Class 1 is the keyword
(default "yes"), class 0 every other word plus *silence* clips: 1 s segments cut from the
background-noise files at seeded random offsets, a ``silence_fraction`` of the split's word
clips. To keep the splits disjoint, each noise file is divided in time: its first 80 % feeds
training, the next 10 % validation, the last 10 % test.

This module does not import PyTorch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmru import features as F

SPLITS = ("train", "val", "test")
BACKGROUND = "_background_noise_"
SILENCE = "_silence_"
NOISE_SPANS = {"train": (0.0, 0.8), "val": (0.8, 0.9), "test": (0.9, 1.0)}


class SpeechCommandsError(ValueError):
    """The folder does not look like a Speech Commands tree, or an argument is bad."""


@dataclass(frozen=True)
class Clip:
    path: str  # relative to the root, "/"-separated ("_background_noise_/file.wav@sample" for silence)
    word: str
    label: int


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A WAV file -> (mono float32 samples in [-1, 1], sample rate)."""
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(str(path))
    except (OSError, ValueError) as error:
        raise SpeechCommandsError(f"{path}: not a readable WAV file ({error})") from None
    data = np.asarray(data)
    if data.dtype.kind in "iu":
        if data.dtype == np.uint8:
            data = (data.astype(np.float32) - 128.0) / 128.0
        else:
            data = data.astype(np.float32) / float(2 ** (8 * data.dtype.itemsize - 1))
    data = data.astype(np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1)
    return data, int(rate)


def _read_list(root: Path, name: str) -> set[str]:
    path = root / name
    if not path.is_file():
        raise SpeechCommandsError(f"{path}: missing (a Speech Commands root has validation_list.txt and testing_list.txt)")
    return {line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()}


def word_folders(root: str | os.PathLike) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        raise SpeechCommandsError(f"{root}: not a folder")
    words = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
    if not words:
        raise SpeechCommandsError(f"{root}: no word folders found (expected yes/, no/, ...)")
    return words


def list_split(root: str | os.PathLike, split: str, keyword: str = "yes") -> list[Clip]:
    """The word clips of one official split, sorted by path."""
    if split not in SPLITS:
        raise SpeechCommandsError(f"split: expected one of {SPLITS}, got {split!r}")
    root = Path(root)
    words = word_folders(root)
    if keyword not in words:
        raise SpeechCommandsError(f"keyword: no folder {keyword!r} under {root}")
    validation, testing = _read_list(root, "validation_list.txt"), _read_list(root, "testing_list.txt")
    clips = []
    for word in words:
        for wav in sorted((root / word).glob("*.wav")):
            relative = f"{word}/{wav.name}"
            in_split = ("val" if relative in validation else "test" if relative in testing else "train")
            if in_split == split:
                clips.append(Clip(relative, word, int(word == keyword)))
    return clips


def silence_clips(root: str | os.PathLike, split: str, count: int, seed: int = 0) -> tuple[list[Clip], np.ndarray]:
    """``count`` 1 s background-noise clips for ``split`` (from that split's span of each noise file)."""
    root = Path(root)
    folder = root / BACKGROUND
    if count <= 0:
        return [], np.zeros((0, F.CLIP_SAMPLES), dtype=np.float32)
    files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if not files:
        raise SpeechCommandsError(f"{folder}: no background-noise WAV files (needed for silence clips; "
                                  "pass silence_fraction=0 to do without)")
    rng = np.random.default_rng([seed, SPLITS.index(split), 31])
    sources = []
    for wav in files:
        audio, rate = read_wav(wav)
        if rate != F.SAMPLE_RATE:
            import librosa
            audio = librosa.resample(audio, orig_sr=rate, target_sr=F.SAMPLE_RATE, res_type="soxr_hq")
        low, high = NOISE_SPANS[split]
        first = int(low * len(audio))
        segment = audio[first:int(high * len(audio))]
        sources.append((wav.name, first, segment))
    clips, audio_out = [], np.zeros((count, F.CLIP_SAMPLES), dtype=np.float32)
    for index in range(count):
        name, first, segment = sources[int(rng.integers(len(sources)))]
        start = int(rng.integers(0, max(1, len(segment) - F.CLIP_SAMPLES + 1)))
        piece = segment[start:start + F.CLIP_SAMPLES]
        audio_out[index, :len(piece)] = piece * rng.uniform(0.05, 1.0)
        clips.append(Clip(f"{BACKGROUND}/{name}@{first + start}", SILENCE, 0))
    return clips, audio_out


def load_split(root: str | os.PathLike, split: str, keyword: str = "yes", silence_fraction: float = 0.1,
               seed: int = 0, limit: int | None = None, progress=None) -> dict[str, np.ndarray]:
    """Features and labels of one official split.

    Returns ``x`` (n, 101, 13) float32, ``y`` (n,) int64 (1 = keyword), ``word`` (n,) str and
    ``path`` (n,) str. ``limit`` keeps a seeded random subset of the word clips (for quick runs).
    """
    if not 0.0 <= silence_fraction <= 1.0:
        raise SpeechCommandsError(f"silence_fraction: expected 0..1, got {silence_fraction!r}")
    if limit is not None and limit < 1:
        raise SpeechCommandsError(f"limit: expected a positive number of clips, got {limit!r}")
    root = Path(root)
    clips = list_split(root, split, keyword)
    if limit is not None and len(clips) > limit:
        rng = np.random.default_rng([seed, SPLITS.index(split), 17])
        keep = np.sort(rng.choice(len(clips), size=limit, replace=False))
        clips = [clips[i] for i in keep]
    feats = np.zeros((len(clips), F.FRAMES, F.N_MFCC), dtype=np.float32)
    for index, clip in enumerate(clips):
        audio, rate = read_wav(root / clip.path)
        feats[index] = F.extract(audio, rate)
        if progress is not None and (index + 1) % 500 == 0:
            progress(index + 1, len(clips))
    n_silence = int(round(silence_fraction * len(clips)))
    quiet, quiet_audio = silence_clips(root, split, n_silence, seed)
    if quiet:
        feats = np.concatenate([feats, F.extract_batch(quiet_audio, F.SAMPLE_RATE)])
        clips = clips + quiet
    return {"x": feats, "y": np.array([c.label for c in clips], dtype=np.int64),
            "word": np.array([c.word for c in clips], dtype=str), "path": np.array([c.path for c in clips], dtype=str)}


def load(root: str | os.PathLike, keyword: str = "yes", silence_fraction: float = 0.1, seed: int = 0,
         limit: int | None = None) -> dict[str, np.ndarray]:
    """All three splits as ``x_<split>``, ``y_<split>``, ``word_<split>`` (the training loader's layout)."""
    out: dict[str, np.ndarray] = {}
    for split in SPLITS:
        part = load_split(root, split, keyword, silence_fraction, seed, limit)
        for key in ("x", "y", "word"):
            out[f"{key}_{split}"] = part[key]
    return out

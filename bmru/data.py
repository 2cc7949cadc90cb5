"""An offline keyword-spotting data set: "yes" versus other words and background noise.

The real Google Speech Commands set is not reachable from the project's machines, so this
module synthesises a stand-in with espeak-ng (see :mod:`bmru.speech_commands` for the real
set's loader). Class 1 is "yes"; class 0 is a balanced mix of "no", "up", "down", "left",
"right" and silence / background-noise clips.

Diversity
    A *voice* is an espeak-ng language voice plus a voice variant (``en-us+f2``). Languages
    come from three groups: English accents, foreign voices that read English words with
    English phonemes (Russian, Hindi, Greek, ...), and foreign voices that read the words
    with their own spelling rules (accents: ``j'e:s`` in German). Variants are espeak-ng's
    ``!v`` files (male, female, old, whisper, robotic, klatt, ...). Each clip also draws a
    speaking rate, pitch, amplitude, intonation (``yes`` / ``yes?`` / ``yes!``), a vocal-tract
    warp (resampling by 0.88..1.12), a reverberation tail, a channel filter (low-, high- or
    band-pass), background noise (white, pink, brown, babble-like, mains hum) at 5..35 dB
    SNR, a level, and a random time shift within the 1 s window.

Splits
    Languages and variants are each partitioned into train / validation / test groups
    (stratified by language group and by variant gender), and a split's clips only use
    voices ``language+variant`` whose language *and* variant belong to that split. A test
    voice therefore never appears in training, and neither does its language or variant.

Determinism and cache
    Every clip is a pure function of (configuration, split, clip index): its random numbers
    come from ``numpy.random.default_rng([seed, split, index])`` and espeak-ng is
    deterministic, so the same seed gives identical arrays whatever the number of worker
    processes. Results are cached under ``.cache/kws/<hash>.npz``, keyed by a hash of the
    configuration, the voice lists, the espeak-ng version and the feature definition.

Command line: ``python -m bmru.data --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bmru import features as F

DATA_VERSION = 2  # bump when the synthesis or augmentation changes (invalidates the cache)
KEYWORD = "yes"
NEGATIVE_WORDS = ("no", "up", "down", "left", "right")
SILENCE = "_silence_"
WORDS = (KEYWORD,) + NEGATIVE_WORDS + (SILENCE,)  # word index -> name, stored with the data
SPLITS = ("train", "val", "test")
CLASSES = ("other", "yes")
SAMPLE_RATE = F.SAMPLE_RATE
CLIP = F.CLIP_SAMPLES
NOISE_TYPES = ("white", "pink", "brown", "babble", "hum")
FILTER_TYPES = ("lowpass", "highpass", "bandpass")
PUNCTUATION = ("", ".", "?", "!", ",")

# Language voices, checked with ``espeak-ng -x -q`` on the six words (espeak-ng 1.51).
# Languages that spell Latin-script words letter by letter ("Y E S"), or read "yes" as
# something far from /jes/ (Luxembourgish "J'@Ez", Hungarian "j'ES" = "yesh", Uyghur "j'&s",
# Finnish / Baltic "'yes" with a front rounded vowel, ...), are left out.
ENGLISH_LANGUAGES = ("en-029", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                     "en-gb-x-rp", "en-us", "en-us-nyc")
ENGLISH_PHONEME_LANGUAGES = ("am", "ar", "as", "bg", "bn", "bpy", "cmn", "el", "fa", "gu", "hi", "hy",
                             "ka", "kk", "kn", "ko", "ml", "mr", "ne", "or", "pa", "ru", "ru-lv", "sd",
                             "si", "ta", "te", "th", "tt", "uk", "ur", "yue")
ACCENT_LANGUAGES = ("an", "az", "bs", "ca", "de", "eo", "es", "es-419", "eu", "fr-be", "fr-ch", "fr-fr",
                    "ga", "hr", "ht", "ia", "id", "io", "it", "kl", "ku", "lfn", "ms", "nci",
                    "nl", "pap", "pl", "pt", "pt-br", "py", "qu", "qya", "ro", "sl", "sr", "sw", "tn", "tr")
LANGUAGE_GROUPS = (ENGLISH_LANGUAGES, ENGLISH_PHONEME_LANGUAGES, ACCENT_LANGUAGES)
DEFAULT_VARIANT = ""  # the language voice without a variant; always a training voice


class DataError(RuntimeError):
    """The data set cannot be generated or loaded (missing tool, bad configuration)."""


@dataclass(frozen=True)
class DataConfig:
    """Everything that determines the generated data set (and its cache key)."""

    seed: int = 0
    train_clips: int = 20000
    val_clips: int = 1200
    test_clips: int = 600
    yes_fraction: float = 0.5  # share of class 1; the rest is split evenly over the 6 negatives
    val_share: float = 0.12  # share of languages / variants held out for validation
    test_share: float = 0.22  # ... and for test
    speed_wpm: tuple[float, float] = (105.0, 215.0)
    pitch: tuple[float, float] = (10.0, 90.0)
    amplitude: tuple[float, float] = (60.0, 180.0)
    warp: tuple[float, float] = (0.88, 1.12)  # resampling factor (vocal-tract length / pitch)
    max_shift_s: float = 0.15  # word centre within +-max_shift of the clip centre (clipped to fit)
    level: tuple[float, float] = (0.03, 0.9)  # peak level of the clip
    clean_probability: float = 0.15  # no added background noise (only a -90 dBFS dither)
    snr_db: tuple[float, float] = (5.0, 35.0)
    filter_probability: float = 0.4
    reverb_probability: float = 0.3

    def __post_init__(self) -> None:
        for name in ("train_clips", "val_clips", "test_clips"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise DataError(f"{name}: expected a non-negative integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise DataError(f"seed: expected a non-negative integer, got {self.seed!r}")
        for name in ("yes_fraction", "clean_probability", "filter_probability", "reverb_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise DataError(f"{name}: expected a probability in [0, 1], got {value!r}")
        if not (0 < self.val_share < 1 and 0 < self.test_share < 1 and self.val_share + self.test_share < 1):
            raise DataError(f"val_share, test_share: expected positive shares summing below 1, "
                            f"got {self.val_share}, {self.test_share}")
        for name in ("speed_wpm", "pitch", "amplitude", "warp", "level", "snr_db"):
            low, high = getattr(self, name)
            if not low <= high:
                raise DataError(f"{name}: expected (low, high) with low <= high, got {(low, high)}")
        if not (80 <= self.speed_wpm[0] and self.speed_wpm[1] <= 450):
            raise DataError(f"speed_wpm: espeak-ng accepts 80..450 words per minute, got {self.speed_wpm}")
        if not (0 <= self.pitch[0] and self.pitch[1] <= 99):
            raise DataError(f"pitch: espeak-ng accepts 0..99, got {self.pitch}")
        if not (0 <= self.amplitude[0] and self.amplitude[1] <= 200):
            raise DataError(f"amplitude: espeak-ng accepts 0..200, got {self.amplitude}")
        if not (0.5 <= self.warp[0] and self.warp[1] <= 2.0):
            raise DataError(f"warp: expected factors within [0.5, 2], got {self.warp}")
        if not (0 < self.level[0] and self.level[1] <= 1.0):
            raise DataError(f"level: expected peak levels within (0, 1], got {self.level}")
        if not 0 <= self.max_shift_s <= 0.5:
            raise DataError(f"max_shift_s: expected 0..0.5 s, got {self.max_shift_s}")

    def clips(self, split: str) -> int:
        return {"train": self.train_clips, "val": self.val_clips, "test": self.test_clips}[split]

    def to_dict(self) -> dict:
        return {key: (list(value) if isinstance(value, tuple) else value)
                for key, value in dataclasses.asdict(self).items()}


# --------------------------------------------------------------------------------------
# espeak-ng


def _espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise DataError("espeak-ng: not found on PATH; install it (Debian: apt-get install espeak-ng) "
                        "or train on real recordings with --speech-commands DIR")
    return path


@lru_cache(maxsize=None)
def espeak_version() -> str:
    result = subprocess.run([_espeak(), "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip()


@lru_cache(maxsize=None)
def available_languages() -> tuple[str, ...]:
    result = subprocess.run([_espeak(), "--voices"], capture_output=True, text=True, check=False)
    names = []
    for line in result.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            names.append(parts[1])
    return tuple(names)


@lru_cache(maxsize=None)
def available_variants() -> tuple[tuple[str, str], ...]:
    """(variant file name, gender 'M'/'F') for every espeak-ng ``!v`` variant usable as ``lang+name``."""
    result = subprocess.run([_espeak(), "--voices=variant"], capture_output=True, text=True, check=False)
    variants = []
    for line in result.stdout.splitlines()[1:]:
        parts = line.split(None, 4)
        if len(parts) < 5:
            continue
        gender = parts[2].split("/")[-1][:1].upper() or "M"
        rest = parts[4]
        marker = rest.find("!v/")
        if marker < 0:
            continue
        name = rest[marker + 3:].split("  ")[0].strip()
        if not name or " " in name or name == "fast":  # "fast" is espeak's speed test, not a voice
            continue
        variants.append((name, gender if gender in "MF" else "M"))
    return tuple(sorted(set(variants)))


def languages() -> tuple[tuple[str, ...], ...]:
    """The curated language groups restricted to the voices this espeak-ng has."""
    have = set(available_languages())
    groups = tuple(tuple(name for name in group if name in have) for group in LANGUAGE_GROUPS)
    if not groups[0]:
        raise DataError("espeak-ng: no English voice found (expected e.g. en-us); is espeak-ng-data installed?")
    return groups


def _partition(names: list[str], rng: np.random.Generator, val_share: float, test_share: float) -> dict:
    order = [names[i] for i in rng.permutation(len(names))]
    count = len(order)
    n_test = max(1, int(round(count * test_share))) if count >= 3 else 0
    n_val = max(1, int(round(count * val_share))) if count >= 3 else 0
    return {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}


def speaker_split(config: DataConfig) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per split, the languages and variants its voices are made of (disjoint across splits)."""
    rng = np.random.default_rng([config.seed, 7919])
    split = {name: {"languages": [], "variants": []} for name in SPLITS}
    for group in languages():
        for name, members in _partition(sorted(group), rng, config.val_share, config.test_share).items():
            split[name]["languages"].extend(members)
    variants = available_variants()
    for gender in ("F", "M"):
        names = sorted(v for v, g in variants if g == gender)
        for name, members in _partition(names, rng, config.val_share, config.test_share).items():
            split[name]["variants"].extend(members)
    split["train"]["variants"].append(DEFAULT_VARIANT)
    for name in SPLITS:
        if not split[name]["languages"] or not split[name]["variants"]:
            raise DataError(f"espeak-ng: too few voices to make a voice-disjoint {name} split")
    return {name: {key: tuple(sorted(value)) for key, value in parts.items()} for name, parts in split.items()}


def voice_name(language: str, variant: str) -> str:
    return f"{language}+{variant}" if variant else language


def _parse_wav(raw: bytes) -> tuple[np.ndarray, int]:
    """espeak-ng's --stdout WAV (its size fields may be bogus) -> float32 samples, rate."""
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise DataError("espeak-ng: did not return a WAV stream")
    rate = int.from_bytes(raw[24:28], "little")
    position = 12
    while position + 8 <= len(raw):
        chunk, size = raw[position:position + 4], int.from_bytes(raw[position + 4:position + 8], "little")
        if chunk == b"data":
            body = raw[position + 8:]
            body = body[:len(body) - len(body) % 2]
            return np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0, rate
        position += 8 + size
    raise DataError("espeak-ng: WAV stream without a data chunk")


def synthesize(text: str, voice: str, speed: int = 175, pitch: int = 50, amplitude: int = 100) -> tuple[np.ndarray, int]:
    """Run espeak-ng once: (float32 samples at its native rate, rate)."""
    command = [_espeak(), "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-a", str(int(amplitude)),
               "--stdout", text]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        raise DataError(f"espeak-ng failed for voice {voice!r}: {result.stderr.decode(errors='replace').strip()}")
    return _parse_wav(result.stdout)


# --------------------------------------------------------------------------------------
# one clip


def _colored_noise(rng: np.random.Generator, kind: str, length: int) -> np.ndarray:
    white = rng.standard_normal(length)
    if kind == "white":
        noise = white
    elif kind in ("pink", "brown", "babble"):
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(length, 1.0 / SAMPLE_RATE)
        freqs[0] = freqs[1]
        if kind == "pink":
            shape = 1.0 / np.sqrt(freqs)
        elif kind == "brown":
            shape = 1.0 / np.maximum(freqs, 20.0)
        else:  # speech-shaped: a bump at a few hundred Hz falling ~-12 dB/octave above 1 kHz
            shape = (freqs / 300.0) / (1.0 + (freqs / 300.0) ** 2) / (1.0 + (freqs / 1500.0) ** 2)
        noise = np.fft.irfft(spectrum * shape, n=length)
        if kind == "babble":  # syllable-rate amplitude modulation of a few overlapping talkers
            t = np.arange(length) / SAMPLE_RATE
            envelope = np.zeros(length)
            for _ in range(int(rng.integers(2, 6))):
                rate = rng.uniform(2.5, 6.0)
                envelope += np.maximum(np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)), 0.0) ** 2
            noise = noise * (0.3 + envelope)
    elif kind == "hum":
        t = np.arange(length) / SAMPLE_RATE
        base = rng.choice([50.0, 60.0]) * rng.uniform(0.99, 1.01)
        noise = np.zeros(length)
        for harmonic in range(1, 8):
            noise += rng.uniform(0.0, 1.0) / harmonic * np.sin(2 * np.pi * base * harmonic * t + rng.uniform(0, 6.3))
        noise += 0.05 * white
    else:  # pragma: no cover - guarded by NOISE_TYPES
        raise DataError(f"noise type: unknown {kind!r}")
    return noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)


def _channel_filter(rng: np.random.Generator, audio: np.ndarray, info: dict) -> np.ndarray:
    from scipy import signal

    kind = FILTER_TYPES[int(rng.integers(len(FILTER_TYPES)))]
    info["filter"] = kind
    order = int(rng.integers(2, 5))
    nyquist = SAMPLE_RATE / 2
    if kind == "lowpass":
        sos = signal.butter(order, rng.uniform(2500.0, 7000.0) / nyquist, btype="lowpass", output="sos")
    elif kind == "highpass":
        sos = signal.butter(order, rng.uniform(80.0, 500.0) / nyquist, btype="highpass", output="sos")
    else:
        low, high = rng.uniform(200.0, 400.0), rng.uniform(3000.0, 4000.0)
        sos = signal.butter(order, [low / nyquist, high / nyquist], btype="bandpass", output="sos")
    return signal.sosfilt(sos, audio)


def _reverb(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    from scipy import signal

    rt60 = rng.uniform(0.08, 0.5)
    length = int(rt60 * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    tail = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
    tail[: int(0.002 * SAMPLE_RATE)] = 0.0
    response = tail * rng.uniform(0.1, 0.6) / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    response[0] = 1.0
    return signal.fftconvolve(audio, response)[: len(audio)]


def _trim(audio: np.ndarray) -> np.ndarray:
    """Cut leading / trailing silence (10 ms frames below 2 % of the peak frame RMS)."""
    frame = SAMPLE_RATE // 100
    usable = len(audio) // frame * frame
    if usable == 0:
        return audio
    rms = np.sqrt(np.mean(audio[:usable].reshape(-1, frame) ** 2, axis=1))
    active = np.flatnonzero(rms > 0.02 * rms.max())
    if active.size == 0:
        return audio
    start = max(0, (active[0] - 2) * frame)
    stop = min(len(audio), (active[-1] + 3) * frame)
    return audio[start:stop]


def clip_spec(config: DataConfig, split: str, index: int, voices: dict) -> dict:
    """The random choices that define clip ``index`` of ``split`` (drawn from its own RNG)."""
    split_id = SPLITS.index(split)
    rng = np.random.default_rng([config.seed, split_id, index])
    n_clips = config.clips(split)
    n_yes = int(round(n_clips * config.yes_fraction))
    if index < n_yes:
        word = KEYWORD
    else:
        negatives = WORDS[1:]
        word = negatives[(index - n_yes) % len(negatives)]
    language = voices["languages"][int(rng.integers(len(voices["languages"])))]
    variant = voices["variants"][int(rng.integers(len(voices["variants"])))]
    return {
        "split": split, "index": index, "word": word, "label": int(word == KEYWORD),
        "language": language, "variant": variant,
        "speed": int(round(rng.uniform(*config.speed_wpm))),
        "pitch": int(round(rng.uniform(*config.pitch))),
        "amplitude": int(round(rng.uniform(*config.amplitude))),
        "punctuation": PUNCTUATION[int(rng.integers(len(PUNCTUATION)))],
        "aug_seed": [config.seed, split_id, index, 1],
    }


def render(spec: dict, config: DataConfig, info: dict | None = None) -> np.ndarray:
    """Synthesise and augment one clip: float32 (16000,) at 16 kHz.

    ``info``, if given, is filled with the augmentation drawn (for analysis of errors).
    """
    import librosa

    rng = np.random.default_rng(spec["aug_seed"])
    clip = np.zeros(CLIP, dtype=np.float64)
    info = {} if info is None else info
    info.update(snr_db=np.nan, noise="", filter="", reverb=False, warp=1.0, onset_s=np.nan, offset_s=np.nan)
    if spec["word"] != SILENCE:
        voice = voice_name(spec["language"], spec["variant"])
        raw, rate = synthesize(spec["word"] + spec["punctuation"], voice, spec["speed"], spec["pitch"],
                               spec["amplitude"])
        warp = rng.uniform(*config.warp)
        info["warp"] = warp
        speech = librosa.resample(raw, orig_sr=rate, target_sr=int(round(SAMPLE_RATE * warp)), res_type="soxr_hq")
        speech = _trim(speech.astype(np.float64))
        if len(speech) > CLIP - SAMPLE_RATE // 20:  # keep at least 50 ms of context
            keep = CLIP - SAMPLE_RATE // 20
            start = (len(speech) - keep) // 2
            speech = speech[start:start + keep]
        if rng.uniform() < config.reverb_probability:
            info["reverb"] = True
            speech = np.concatenate([speech, np.zeros(SAMPLE_RATE // 4)])
            speech = _trim(_reverb(rng, speech))[: CLIP - SAMPLE_RATE // 20]
        speech /= np.max(np.abs(speech)) + 1e-12
        centre = (CLIP - len(speech)) / 2 + rng.uniform(-config.max_shift_s, config.max_shift_s) * SAMPLE_RATE
        offset = int(np.clip(round(centre), 0, CLIP - len(speech)))
        clip[offset:offset + len(speech)] = speech
        info.update(onset_s=offset / SAMPLE_RATE, offset_s=(offset + len(speech)) / SAMPLE_RATE)
        speech_power = np.mean(speech ** 2)
        if rng.uniform() >= config.clean_probability:
            kind = NOISE_TYPES[int(rng.integers(len(NOISE_TYPES)))]
            snr = rng.uniform(*config.snr_db)
            info.update(noise=kind, snr_db=snr)
            clip += _colored_noise(rng, kind, CLIP) * np.sqrt(speech_power / 10 ** (snr / 10))
    else:  # background only: one or two noise types, a wide range of levels, sometimes near-silent
        kinds = rng.choice(len(NOISE_TYPES), size=int(rng.integers(1, 3)), replace=False)
        info["noise"] = "+".join(NOISE_TYPES[int(kind)] for kind in kinds)
        for kind in kinds:
            clip += _colored_noise(rng, NOISE_TYPES[int(kind)], CLIP) * rng.uniform(0.2, 1.0)
        if rng.uniform() < 0.1:
            clip *= 1e-3
    if rng.uniform() < config.filter_probability:
        clip = _channel_filter(rng, clip, info)
    peak = np.max(np.abs(clip)) + 1e-12
    level = np.exp(rng.uniform(np.log(config.level[0]), np.log(config.level[1])))
    clip = clip / peak * level
    clip += rng.standard_normal(CLIP) * 10 ** (-90 / 20)  # dither: never digital zeros
    return np.clip(clip, -1.0, 1.0).astype(np.float32)


INFO_KEYS = ("snr_db", "noise", "filter", "reverb", "warp", "onset_s", "offset_s")


def _render_chunk(job: tuple[list[dict], dict, bool]) -> tuple[np.ndarray, np.ndarray | None, list[dict]]:
    specs, config_dict, keep_audio = job
    config = DataConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config_dict.items()})
    infos = [{} for _ in specs]
    audio = np.stack([render(spec, config, info) for spec, info in zip(specs, infos)])
    feats = F.extract_batch(audio, SAMPLE_RATE)
    pcm = np.round(audio * 32767).astype(np.int16) if keep_audio else None
    return feats, pcm, infos


# --------------------------------------------------------------------------------------
# data set


def cache_key(config: DataConfig) -> str:
    payload = {"version": DATA_VERSION, "config": config.to_dict(), "espeak": espeak_version(),
               "voices": speaker_split(config), "features": F.FEATURES_PARAMS, "words": WORDS}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    env = os.environ.get("BMRU_CACHE")
    return Path(env) / "kws" if env else Path(__file__).resolve().parents[1] / ".cache" / "kws"


def generate(config: DataConfig, splits: tuple[str, ...] = SPLITS, processes: int = 2, keep_audio: bool = False,
             progress=None, chunk: int = 50) -> dict[str, np.ndarray]:
    """Synthesise the requested splits. Returns a flat dict of arrays:

    ``x_<split>`` (n, 101, 13) float32 features, ``y_<split>`` (n,) int64 labels,
    ``word_<split>`` (n,) int64 index into :data:`WORDS`, ``voice_<split>`` (n,) str,
    ``audio_<split>`` (n, 16000) int16 when ``keep_audio``; per-clip augmentation records
    ``snr_db_<split>``, ``noise_<split>``, ``filter_<split>``, ``reverb_<split>``, ``warp_<split>``,
    ``onset_s_<split>``, ``offset_s_<split>``, ``speed_<split>``, ``pitch_<split>``; plus ``words``
    and ``split_voices`` (JSON).
    """
    for split in splits:
        if split not in SPLITS:
            raise DataError(f"splits: unknown split {split!r} (expected some of {SPLITS})")
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise DataError(f"processes: expected a positive integer, got {processes!r}")
    voices = speaker_split(config)
    out: dict[str, np.ndarray] = {"words": np.array(WORDS), "split_voices": np.array(json.dumps(voices, sort_keys=True))}
    jobs, owners = [], []
    specs_by_split = {}
    for split in splits:
        specs = [clip_spec(config, split, i, voices[split]) for i in range(config.clips(split))]
        specs_by_split[split] = specs
        for start in range(0, len(specs), chunk):
            jobs.append((specs[start:start + chunk], config.to_dict(), keep_audio))
            owners.append(split)
    results: list[tuple[np.ndarray, np.ndarray | None, list[dict]]] = []
    total = sum(len(job[0]) for job in jobs)
    done = 0
    started = time.perf_counter()
    if processes == 1 or len(jobs) <= 1:
        iterator = map(_render_chunk, jobs)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(processes)
        iterator = pool.imap(_render_chunk, jobs)
    try:
        for job, result in zip(jobs, iterator):
            results.append(result)
            done += len(job[0])
            if progress is not None:
                progress(done, total, time.perf_counter() - started)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    for split in splits:
        parts = [result for result, owner in zip(results, owners) if owner == split]
        specs = specs_by_split[split]
        if parts:
            out[f"x_{split}"] = np.concatenate([p[0] for p in parts]).astype(np.float32)
        else:
            out[f"x_{split}"] = np.zeros((0, F.FRAMES, F.N_MFCC), dtype=np.float32)
        out[f"y_{split}"] = np.array([s["label"] for s in specs], dtype=np.int64)
        out[f"word_{split}"] = np.array([WORDS.index(s["word"]) for s in specs], dtype=np.int64)
        out[f"voice_{split}"] = np.array([voice_name(s["language"], s["variant"]) if s["word"] != SILENCE else ""
                                          for s in specs], dtype=str)
        infos = [info for p in parts for info in p[2]]
        for key in INFO_KEYS:
            values = [info[key] for info in infos]
            kind = str if key in ("noise", "filter") else bool if key == "reverb" else np.float32
            out[f"{key}_{split}"] = np.array(values, dtype=kind) if values else np.zeros(0, dtype=kind)
        for key in ("speed", "pitch"):
            out[f"{key}_{split}"] = np.array([s[key] for s in specs], dtype=np.int64)
        if keep_audio:
            out[f"audio_{split}"] = (np.concatenate([p[1] for p in parts]) if parts
                                     else np.zeros((0, CLIP), dtype=np.int16))
    return out


def load_dataset(config: DataConfig | None = None, cache_dir: str | os.PathLike | None = None, processes: int = 2,
                 progress=None, refresh: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """The full data set (all splits, features only), generated once and then read from the cache.

    Returns (arrays, info) where info has ``path``, ``cached`` (bool) and ``seconds``.
    """
    config = config or DataConfig()
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = directory / f"{cache_key(config)}.npz"
    if path.is_file() and not refresh:
        started = time.perf_counter()
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        return arrays, {"path": str(path), "cached": True, "seconds": time.perf_counter() - started}
    started = time.perf_counter()
    arrays = generate(config, SPLITS, processes=processes, progress=progress)
    seconds = time.perf_counter() - started
    arrays["generation_seconds"] = np.array(seconds)
    arrays["config"] = np.array(json.dumps(config.to_dict(), sort_keys=True))
    from bmru.cli import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)
    return arrays, {"path": str(path), "cached": False, "seconds": seconds}


def interleave_classes(labels: np.ndarray) -> np.ndarray:
    """Order (indices into ``labels``) that deals the classes out in turn, lowest label first,
    keeping each class's own order: every prefix is then as balanced as the set allows, so a
    circuit check on the first N utterances sees every class (the splits are generated class
    by class)."""
    labels = np.asarray(labels)
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank[members] = np.arange(len(members))
    return np.lexsort((labels, rank))


def describe(arrays: dict[str, np.ndarray]) -> dict:
    """Counts per split and word, and the number of distinct voices."""
    summary = {}
    words = [str(w) for w in arrays["words"]]
    for split in SPLITS:
        if f"y_{split}" not in arrays:
            continue
        counts = np.bincount(arrays[f"word_{split}"], minlength=len(words))
        voices = {str(v) for v in arrays[f"voice_{split}"] if str(v)}
        summary[split] = {"clips": int(len(arrays[f"y_{split}"])), "yes": int(arrays[f"y_{split}"].sum()),
                          "per_word": {w: int(c) for w, c in zip(words, counts)}, "distinct_voices": len(voices)}
    split_voices = json.loads(str(arrays["split_voices"]))
    for split in SPLITS:
        if split in summary:
            summary[split]["languages"] = len(split_voices[split]["languages"])
            summary[split]["variants"] = len(split_voices[split]["variants"])
    return summary


def _progress_printer(prefix: str = "[data]"):
    last = [0.0]

    def show(done: int, total: int, seconds: float) -> None:
        if done == total or seconds - last[0] >= 10.0:
            last[0] = seconds
            rate = done / seconds if seconds > 0 else 0.0
            eta = (total - done) / rate if rate > 0 else 0.0
            print(f"{prefix} {done}/{total} clips  {seconds:6.1f} s  ({rate:.0f} clips/s, eta {eta:.0f} s)",
                  file=sys.stderr, flush=True)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bmru.data",
                                     description="Synthesise (or read from the cache) the offline 'yes' keyword-spotting "
                                                 "data set with espeak-ng, and print its composition as JSON.")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    parser.add_argument("--train-clips", type=int, default=DataConfig.train_clips)
    parser.add_argument("--val-clips", type=int, default=DataConfig.val_clips)
    parser.add_argument("--test-clips", type=int, default=DataConfig.test_clips)
    parser.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--cache-dir", default=None, help="cache folder (default .cache/kws in the repository)")
    parser.add_argument("--refresh", action="store_true", help="regenerate even if cached")
    args = parser.parse_args(argv)
    try:
        config = DataConfig(seed=args.seed, train_clips=args.train_clips, val_clips=args.val_clips,
                            test_clips=args.test_clips)
        arrays, info = load_dataset(config, args.cache_dir, processes=args.processes,
                                    progress=_progress_printer(), refresh=args.refresh)
    except DataError as error:
        print(f"python -m bmru.data: {error}", file=sys.stderr)
        return 2
    report = {"cache": info["path"], "cached": info["cached"], "seconds": round(info["seconds"], 2),
              "generation_seconds": round(float(arrays.get("generation_seconds", np.nan)), 2),
              "splits": describe(arrays)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

import numpy as np
import pytest
from scipy.io import wavfile

from bmru import speech_commands as sc

WORDS = ("yes", "no", "up")


def write_wav(path, seconds=1.0, freq=440.0, rate=16000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, np.round(audio * 32767).astype(np.int16))


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "speech_commands"
    for w, word in enumerate(WORDS):
        for i in range(4):
            write_wav(root / word / f"spk{i}_nohash_0.wav", freq=300 + 150 * w + 10 * i, seed=i,
                      seconds=1.0 if i != 3 else 0.7)
    write_wav(root / "_background_noise_" / "noise.wav", seconds=12.0, freq=60.0)
    (root / "validation_list.txt").write_text("yes/spk1_nohash_0.wav\nno/spk1_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("yes/spk2_nohash_0.wav\nup/spk2_nohash_0.wav\n")
    (root / "README.md").write_text("fake")
    return root


def test_official_split(tree):
    train = sc.list_split(tree, "train")
    val = sc.list_split(tree, "val")
    test = sc.list_split(tree, "test")
    assert {c.path for c in val} == {"yes/spk1_nohash_0.wav", "no/spk1_nohash_0.wav"}
    assert {c.path for c in test} == {"yes/spk2_nohash_0.wav", "up/spk2_nohash_0.wav"}
    assert len(train) == 12 - 4
    paths = [{c.path for c in part} for part in (train, val, test)]
    assert not (paths[0] & paths[1]) and not (paths[0] & paths[2]) and not (paths[1] & paths[2])
    assert all(c.label == int(c.word == "yes") for c in train + val + test)


def test_load_split_features_and_labels(tree):
    part = sc.load_split(tree, "train", silence_fraction=0.25, seed=1)
    n_words = 8
    n_silence = 2
    assert part["x"].shape == (n_words + n_silence, 101, 13)
    assert part["x"].dtype == np.float32
    assert part["y"].tolist().count(1) == 2  # two training "yes" files
    assert list(part["word"][-n_silence:]) == ["_silence_"] * n_silence
    assert np.all(part["y"][-n_silence:] == 0)
    again = sc.load_split(tree, "train", silence_fraction=0.25, seed=1)
    np.testing.assert_array_equal(part["x"], again["x"])


def test_silence_comes_from_disjoint_spans(tree):
    spans = {}
    for split in sc.SPLITS:
        clips, _ = sc.silence_clips(tree, split, 5, seed=0)
        starts = [int(c.path.split("@")[1]) for c in clips]
        spans[split] = (min(starts), max(starts))
    rate = 16000
    length = 12 * rate
    assert spans["train"][0] >= 0 and spans["train"][1] + rate <= int(0.8 * length)
    assert spans["val"][0] >= int(0.8 * length) and spans["val"][1] + rate <= int(0.9 * length)
    assert spans["test"][0] >= int(0.9 * length) and spans["test"][1] + rate <= length


def test_load_all_splits(tree):
    data = sc.load(tree, silence_fraction=0.0)
    assert data["x_train"].shape == (8, 101, 13)
    assert data["x_val"].shape == (2, 101, 13)
    assert sorted(data["y_test"].tolist()) == [0, 1]


def test_bad_trees(tmp_path, tree):
    with pytest.raises(sc.SpeechCommandsError, match="not a folder"):
        sc.list_split(tmp_path / "missing", "train")
    with pytest.raises(sc.SpeechCommandsError, match="split"):
        sc.list_split(tree, "dev")
    with pytest.raises(sc.SpeechCommandsError, match="keyword"):
        sc.list_split(tree, "train", keyword="banana")
    (tree / "testing_list.txt").unlink()
    with pytest.raises(sc.SpeechCommandsError, match="testing_list.txt"):
        sc.list_split(tree, "train")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(sc.SpeechCommandsError, match="no word folders"):
        sc.word_folders(empty)


def test_missing_background_noise(tmp_path):
    root = tmp_path / "sc"
    write_wav(root / "yes" / "a_nohash_0.wav")
    (root / "validation_list.txt").write_text("")
    (root / "testing_list.txt").write_text("")
    with pytest.raises(sc.SpeechCommandsError, match="_background_noise_"):
        sc.load_split(root, "train", silence_fraction=1.0)
    part = sc.load_split(root, "train", silence_fraction=0.0)
    assert part["y"].tolist() == [1]

"""Loaders on small files written in the real formats, and on the real data when present."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neuroplastic.datasets import (
    TextDataset,
    Vocabulary,
    load_cifar10,
    load_digits,
    load_image_folder,
    load_mnist,
    load_mnist_subset,
    load_npz,
    load_text_table,
    load_vader,
    read_idx,
    split_text,
)
from neuroplastic.datasets import root as root_module
from neuroplastic.errors import DataNotFoundError, NeuroplasticError

REAL_DATA = os.environ.get("NEUROPLASTIC_DATA")


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """An empty data root; the user cache is moved into tmp too, and the network is stubbed."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("NEUROPLASTIC_DATA", str(root))
    monkeypatch.setattr(root_module, "USER_CACHE", tmp_path / "usercache")

    def no_network(url, timeout):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(root_module, "_open_url", no_network)
    return root


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def write_mnist(folder: Path, compress: bool, n_train: int = 20, n_test: int = 10):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) + 3) % 10,
    }
    for name, array in arrays.items():
        write_idx(folder / (name + (".gz" if compress else "")), array, compress)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_idx(data_root, compress):
    arrays = write_mnist(data_root / "mnist", compress)
    data = load_mnist()
    assert data.x_train.shape == (20, 1, 28, 28) and data.x_train.dtype == np.float32
    assert data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])
    np.testing.assert_allclose(
        data.x_train[:, 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-3
    )
    assert data.class_names == [str(i) for i in range(10)]


def test_mnist_in_root_itself(data_root):
    write_mnist(data_root, compress=True)
    assert load_mnist().x_test.shape == (10, 1, 28, 28)


def test_idx_header_checks(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(b"\x08\x08\x08\x01" + b"\x00" * 8)
    with pytest.raises(NeuroplasticError, match="magic"):
        read_idx(path)
    truncated = struct.pack(">BBBBI", 0, 0, 8, 1, 100) + b"\x01" * 10
    path.write_bytes(truncated)
    with pytest.raises(NeuroplasticError, match="truncated"):
        read_idx(path)
    # Other IDX types are big-endian.
    path.write_bytes(struct.pack(">BBBBI", 0, 0, 0x0C, 1, 2) + struct.pack(">2i", -5, 70000))
    np.testing.assert_array_equal(read_idx(path), [-5, 70000])


def test_mnist_missing_names_files_and_fix(data_root, monkeypatch):
    monkeypatch.delenv("NEUROPLASTIC_OFFLINE", raising=False)  # the test stubs the network
    with pytest.raises(DataNotFoundError) as info:
        load_mnist()
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(data_root / "mnist") in message and "NEUROPLASTIC_DATA" in message
    assert "network disabled" in message  # the download was tried, through the stub


def test_download_verifies_md5(tmp_path, monkeypatch):
    monkeypatch.delenv("NEUROPLASTIC_OFFLINE", raising=False)  # the test stubs the network
    payload = b"hello mnist"

    class Response(io.BytesIO):
        pass

    monkeypatch.setattr(root_module, "_open_url", lambda url, timeout: Response(payload))
    dest = tmp_path / "file.bin"
    with pytest.raises(DataNotFoundError, match="MD5"):
        root_module.download(["http://mirror/a"], dest, md5="0" * 32)
    assert not dest.exists() and not (tmp_path / "file.bin.part").exists()
    import hashlib

    good = hashlib.md5(payload).hexdigest()
    assert root_module.download(["http://mirror/a"], dest, md5=good).read_bytes() == payload


def test_cache_dir_never_in_read_only_root(tmp_path, monkeypatch):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o555)
    try:
        monkeypatch.setenv("NEUROPLASTIC_DATA", str(root))
        monkeypatch.setattr(root_module, "USER_CACHE", tmp_path / "usercache")
        cache = root_module.cache_dir()
        assert cache == tmp_path / "usercache" / ".cache" and not (root / ".cache").exists()
    finally:
        root.chmod(0o755)


def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"batch",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"x.png"] * n,
    }


def write_cifar_batches(folder: Path) -> dict:
    folder.mkdir(parents=True)
    batches = {f"data_batch_{i}": cifar_batch(4, i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(3, 9)
    for name, batch in batches.items():
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer"]
    names += [b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    return batches


def test_cifar_pickles_folder_and_tarball(data_root):
    batches = write_cifar_batches(data_root / "cifar10" / "cifar-10-batches-py")
    data = load_cifar10()
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (3, 3, 32, 32)
    first = batches["data_batch_1"][b"data"][0].reshape(3, 32, 32)
    np.testing.assert_allclose(data.x_train[0] * 255, first, atol=1e-3)
    assert data.y_train.tolist()[:4] == batches["data_batch_1"][b"labels"]
    assert data.class_names[0] == "airplane"

    # The same batches inside the canonical tarball, read without extracting.
    tar_path = data_root / "cifar-10-python.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(data_root / "cifar10" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    (data_root / "cifar10" / "cifar-10-batches-py" / "data_batch_1").unlink()
    from_tar = load_cifar10()
    np.testing.assert_array_equal(from_tar.x_train, data.x_train)
    np.testing.assert_array_equal(from_tar.y_test, data.y_test)


def test_cifar_pickle_refuses_code(data_root):
    folder = data_root / "cifar-10-batches-py"
    write_cifar_batches(folder)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": os.getcwd, b"labels": []}))
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        load_cifar10()


def test_cifar_missing(data_root):
    with pytest.raises(DataNotFoundError) as info:
        load_cifar10()
    assert "cifar-10-python.tar.gz" in str(info.value) and "cifar10" in str(info.value)


def write_image_tree(base: Path, mode: str = "RGB", size=(6, 5)) -> dict:
    rng = np.random.default_rng(1)
    written = {}
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("cat", "ant", "bee"):
            folder = base / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
                pixels = rng.integers(0, 256, shape, dtype=np.uint8)
                Image.fromarray(pixels, mode).save(folder / f"{i}.png")
                written[(split, cls, i)] = pixels
    (base / "train" / "README.txt").write_text("not an image")
    return written


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_image_folder_and_archive(tmp_path, data_root, mode):
    written = write_image_tree(tmp_path / "shapes" / "tree", mode)
    data = load_image_folder(tmp_path / "shapes" / "tree")
    channels = 3 if mode == "RGB" else 1
    assert data.x_train.shape == (9, channels, 5, 6) and data.x_test.shape == (6, channels, 5, 6)
    assert data.class_names == ["ant", "bee", "cat"]
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    expected = written[("train", "ant", 0)]
    expected = expected.transpose(2, 0, 1) if mode == "RGB" else expected[None]
    np.testing.assert_allclose(data.x_train[0] * 255, expected, atol=1e-3)

    archive = tmp_path / "shapes.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "shapes" / "tree", arcname="shapes")
    from_tar = load_image_folder(archive)
    np.testing.assert_array_equal(from_tar.x_train, data.x_train)
    np.testing.assert_array_equal(from_tar.y_test, data.y_test)
    # A second load comes from the decoded cache and gives the same arrays.
    np.testing.assert_array_equal(load_image_folder(archive).x_test, data.x_test)


def test_image_folder_sizes_must_match(tmp_path, data_root):
    write_image_tree(tmp_path / "tree")
    Image.new("RGB", (9, 9)).save(tmp_path / "tree" / "test" / "cat" / "big.png")
    with pytest.raises(NeuroplasticError, match="differ in size"):
        load_image_folder(tmp_path / "tree")


def test_cifar_from_image_folder_tar(data_root):
    # CIFAR class folders are sorted by name; the loader maps them to the canonical label order.
    classes = ["truck", "airplane", "automobile", "bird", "cat"]
    classes += ["deer", "dog", "frog", "horse", "ship"]
    archive = data_root / "cifar10" / "cifar10-jpeg.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "test"):
            for cls in classes:
                buffer = io.BytesIO()
                Image.new("RGB", (32, 32), (10, 20, 30)).save(buffer, "JPEG")
                info = tarfile.TarInfo(f"cifar10-jpeg/{split}/{cls}/0000.jpg")
                info.size = len(buffer.getvalue())
                tar.addfile(info, io.BytesIO(buffer.getvalue()))
    data = load_cifar10()
    assert data.x_train.shape == (10, 3, 32, 32)
    assert data.class_names[0] == "airplane" and data.class_names[9] == "truck"
    assert sorted(data.y_train.tolist()) == list(range(10))
    assert data.y_train[-1] == 9  # the folder "truck" sorts last and is label 9


def test_digits_split_fixed():
    a, b = load_digits(), load_digits()
    assert a.x_train.shape == (1258, 1, 8, 8) and a.x_test.shape == (539, 1, 8, 8)
    assert 0 <= a.x_train.min() and a.x_train.max() == 1.0
    np.testing.assert_array_equal(a.y_test, b.y_test)
    # Stratified: round(30 %) of every class in the test set.
    totals = np.bincount(a.y_train) + np.bincount(a.y_test)
    np.testing.assert_array_equal(np.bincount(a.y_test), np.round(0.3 * totals))


def test_mnist_subset():
    data = load_mnist_subset()
    assert data.x_train.shape == (4000, 1, 28, 28) and data.x_test.shape == (1000, 1, 28, 28)
    assert np.bincount(data.y_train).tolist() == [400] * 10
    assert np.bincount(data.y_test).tolist() == [100] * 10
    assert data.x_train.max() <= 1.0 and abs(data.x_train.mean() - 0.13) < 0.01


def test_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "images.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
        y_train=np.array([3, 7, 3, 7, 9, 9]),
        x_test=rng.integers(0, 256, (2, 4, 4), dtype=np.uint8),
        y_test=np.array([7, 9]),
    )
    data = load_npz(path)
    assert data.x_train.shape == (6, 1, 4, 4) and data.x_train.dtype == np.float32
    assert data.x_train.max() <= 1.0
    assert data.y_train.tolist() == [0, 1, 0, 1, 2, 2] and data.class_names == ["3", "7", "9"]

    flat = tmp_path / "flat.npz"
    np.savez(flat, x_train=np.ones((3, 5)), y_train=[0, 1, 0], x_test=np.ones((1, 5)), y_test=[1])
    assert load_npz(flat).x_train.shape == (3, 5)

    broken = tmp_path / "broken.npz"
    np.savez(broken, x_train=np.ones((3, 5)), y_train=[0, 1, 0])
    with pytest.raises(NeuroplasticError, match="x_test, y_test"):
        load_npz(broken)


VADER_ROWS = {
    "tweets_GroundTruth.txt": [
        ("1", "2.5", "I love it :)"),
        ("2", "-1.2", "bad &amp; sad"),
        ("3", "0.3", "meh"),
        ("4", "0", "neutral"),
    ],
    "movieReviewSnippets_GroundTruth.txt": [("1", "1.0", "good film"), ("2", "-3.1", "awful")],
    "amazonReviewSnippets_GroundTruth.txt": [("1", "-0.6", "broke fast"), ("2", "2", "great")],
    "nytEditorialSnippets_GroundTruth.txt": [("1", "-0.49", "hmm"), ("2", "0.9", "fine")],
}


def test_vader_format(data_root):
    folder = data_root / "sentiment" / "vader"
    folder.mkdir(parents=True)
    for name, rows in VADER_ROWS.items():
        (folder / name).write_bytes(("\r\n".join("\t".join(r) for r in rows) + "\r\n").encode())
    (folder / "tweets_GroundTruth.txt").write_bytes(
        (folder / "tweets_GroundTruth.txt").read_bytes() + b"5\t1.5\tcaf\xe9 ok\r\n"
    )
    data = load_vader()
    assert data.domain_names() == ["tweets", "movies", "amazon", "nyt"]
    tweets = data.domain("tweets")
    assert tweets.texts == ["I love it :)", "bad & sad", "caf\ufffd ok"]  # HTML unescaped
    assert tweets.labels.tolist() == [1, 0, 1]
    assert data.domain("nyt").labels.tolist() == [1]  # -0.49 is near-neutral
    assert data.class_names == ["negative", "positive"]
    loose = load_vader(neutral_threshold=0.0)
    assert loose.domain("tweets").texts[2] == "meh" and len(loose.domain("tweets")) == 4


def test_vader_missing(data_root):
    with pytest.raises(DataNotFoundError) as info:
        load_vader()
    assert "tweets_GroundTruth.txt" in str(info.value)
    assert str(data_root / "sentiment" / "vader") in str(info.value)


def test_text_tables(tmp_path):
    (tmp_path / "t.csv").write_text('text,label,src\n"hi, there",pos,a\nugh,neg,b\nyay,pos,a\n')
    csv_data = load_text_table(tmp_path / "t.csv", domain_column="src")
    assert csv_data.texts[0] == "hi, there" and csv_data.class_names == ["neg", "pos"]
    assert csv_data.labels.tolist() == [1, 0, 1] and csv_data.domains == ["a", "b", "a"]

    (tmp_path / "t.tsv").write_text("body\ty\nx y\t10\nz\t2\n")
    tsv = load_text_table(tmp_path / "t.tsv", text_column="body", label_column="y")
    assert tsv.class_names == ["2", "10"] and tsv.labels.tolist() == [1, 0]  # numeric order

    rows = [{"text": "a", "label": 1}, {"text": "b", "label": 0}]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert load_text_table(tmp_path / "t.jsonl").labels.tolist() == [1, 0]

    with pytest.raises(NeuroplasticError, match="lacks the column"):
        load_text_table(tmp_path / "t.csv", label_column="sentiment")


def test_vocabulary_and_encoding():
    vocab = Vocabulary.build(["the cat", "the dog!", "a cat"], min_freq=1, max_size=5)
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and len(vocab) == 5
    assert vocab.itos[2:] == ["cat", "the", "!"]  # by frequency, ties alphabetically
    ids = vocab.encode(["The CAT sat", "", "cat " * 10], max_len=4)
    assert ids.dtype == np.int64 and ids.shape == (3, 4)
    assert ids[0].tolist() == [3, 2, 1, 0]  # unknown word -> 1, padding -> 0
    assert ids[1].tolist() == [1, 0, 0, 0]  # never an all-padding row
    assert ids[2].tolist() == [2, 2, 2, 2]  # truncated
    rare = Vocabulary.build(["x x y"], min_freq=2)
    assert rare.itos == ["<pad>", "<unk>", "x"]


def test_split_text_stratified_per_domain():
    texts = [f"t{i}" for i in range(40)]
    labels = np.array([i % 2 for i in range(40)])
    domains = ["a"] * 20 + ["b"] * 20
    data = TextDataset(texts, labels, domains, ["neg", "pos"])
    train, test = split_text(data, 0.2, seed=0)
    assert len(test) == 8 and sorted(test.domains) == ["a"] * 4 + ["b"] * 4
    assert test.labels.sum() == 4 and not set(train.texts) & set(test.texts)
    assert split_text(data, 0.2, seed=0)[1].texts == test.texts


needs_real = pytest.mark.skipif(REAL_DATA is None, reason="NEUROPLASTIC_DATA is not set")


def _real(sub: str) -> Path:
    path = Path(REAL_DATA or "") / sub
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path


@needs_real
def test_real_mnist():
    _real("mnist/train-images-idx3-ubyte.gz")
    data = load_mnist()
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(data.y_train).tolist() == counts
    assert data.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert abs(float(data.x_train.mean(dtype=np.float64)) - 0.1307) < 1e-3


@needs_real
def test_real_cifar10_jpeg_and_cache(monkeypatch):
    _real("cifar10/cifar10-jpeg.tar.gz")
    data = load_cifar10()  # decodes 60,000 JPEGs, unless a previous run left the cache
    assert data.x_train.shape == (50000, 3, 32, 32) and data.x_test.shape == (10000, 3, 32, 32)
    assert np.bincount(data.y_train).tolist() == [5000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    mean = data.x_test.mean(axis=(0, 2, 3), dtype=np.float64)
    assert np.allclose(mean, [0.49, 0.48, 0.45], atol=0.02)
    del data
    # the second load reads the cache: decoding the images again would fail here
    from neuroplastic.datasets import imagefolder

    def no_decoding(path):
        raise AssertionError(f"{path} decoded again instead of read from the cache")

    monkeypatch.setattr(imagefolder, "_read_tree", no_decoding)
    assert load_cifar10().x_train.shape == (50000, 3, 32, 32)


@needs_real
def test_real_vader_counts():
    _real("sentiment/vader/tweets_GroundTruth.txt")
    data = load_vader()
    expected = {
        "tweets": (2345, 1087),
        "movies": (4996, 5076),
        "amazon": (1750, 1235),
        "nyt": (1187, 1783),
    }
    for domain, (pos, neg) in expected.items():
        labels = data.domain(domain).labels
        assert (int((labels == 1).sum()), int((labels == 0).sum())) == (pos, neg)
    tweets = load_vader(neutral_threshold=0.0).domain("tweets").labels
    assert (int((tweets == 1).sum()), int((tweets == 0).sum())) == (2897, 1299)

import gzip
import struct

import numpy as np
import pytest

from lstmkit.data.sequence_files import read_idx, read_npz
from lstmkit.data.sequence_sources import Source, read_sequences
from lstmkit.data.sequence_text import read_table, read_ts
from lstmkit.data.sequences import (
    Normaliser,
    SequencesConfig,
    encode,
    prepare_sequences,
    split_sequences,
    stratified_split,
)
from lstmkit.errors import LstmkitError


def write_idx(path, array: np.ndarray, zipped: bool = False) -> None:
    """An IDX file: magic 0 0 type ndim, big-endian sizes, big-endian data."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.float32): 0x0D}
    data = (struct.pack(">BBBB", 0, 0, codes[array.dtype], array.ndim)
            + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(array.dtype.newbyteorder(">")).tobytes())
    path.write_bytes(gzip.compress(data) if zipped else data)


def test_idx_folder_gzipped_and_plain(tmp_path):
    images = np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, zipped=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 0, 1, 1], np.uint8), True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:2])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([1, 0], np.uint8))
    train, test = read_sequences(Source(str(tmp_path)))
    assert train.values.shape == (5, 4, 3)  # rows are the time steps
    np.testing.assert_array_equal(train.values, images)
    assert train.labels == [0, 1, 0, 1, 1] and test.labels == [1, 0]
    assert list(train.lengths) == [4] * 5


def test_idx_file_with_its_labels_beside_it(tmp_path):
    series = np.random.default_rng(0).normal(size=(4, 7)).astype(np.float32)
    write_idx(tmp_path / "my-images-idx3-ubyte", series)
    write_idx(tmp_path / "my-labels-idx1-ubyte", np.array([3, 1, 3, 1], np.uint8))
    train, test = read_sequences(Source(str(tmp_path / "my-images-idx3-ubyte")))
    assert test is None and train.labels == [3, 1, 3, 1]
    np.testing.assert_allclose(train.values[:, :, 0], series)


@pytest.mark.parametrize("data, message", [
    (b"\x08\x03\x00\x00" + b"\0" * 20, "not an IDX file (bad magic number 08030000)"),
    (struct.pack(">BBBBIII", 0, 0, 8, 3, 2, 2, 2) + b"\0" * 7,
     "IDX header says 2 x 2 x 2 values (8 bytes) but the file holds 7"),
])
def test_bad_idx(tmp_path, data, message):
    path = tmp_path / "x-images-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(LstmkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_idx(path)


def test_npz_trailing_nan_and_string_labels(tmp_path):
    x = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, np.nan]])
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array(["cat", "dog"]),
             x_test=x[:1], y_test=np.array(["dog"]))
    train, test = read_npz(tmp_path / "d.npz")
    assert list(train.lengths) == [3, 1] and train.labels == ["cat", "dog"]
    assert test.labels == ["dog"] and train.values.shape == (2, 3, 1)


def test_npz_explicit_lengths_multivariate(tmp_path):
    x = np.ones((2, 4, 2))
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array([5, 7]),
             lengths_train=np.array([4, 2]))
    train, test = read_npz(tmp_path / "d.npz")
    assert test is None and list(train.lengths) == [4, 2] and train.labels == [5, 7]
    assert np.isnan(train.values[1, 2:]).all()


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.ones((2, 3))}, "lacks x_train, y_train"),
    ({"x_train": np.ones((2, 3)), "y_train": np.array([1, 2, 3])}, "3 labels for 2 sequences"),
    ({"x_train": np.ones((2, 3)), "y_train": np.array(["a", None], dtype=object)},
     "it stores Python objects"),
    ({"x_train": np.array([[1.0, np.nan, 2.0]]), "y_train": np.array([1])},
     "misses a value at step 2 of 3"),
])
def test_bad_npz(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(LstmkitError, match=message):
        read_npz(tmp_path / "d.npz")


def test_csv_with_a_header_and_rows_of_different_lengths(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("t1,t2,t3,kind\n1,2,3,up\n4,5,,down\n", "utf-8")
    raw = read_table(path, "kind")
    assert raw.labels == ["up", "down"] and list(raw.lengths) == [3, 2]
    np.testing.assert_array_equal(raw.values[1, :2, 0], [4, 5])


def test_ucr_tsv_and_txt_layouts(tmp_path):
    (tmp_path / "d.tsv").write_text("2\t0.5\t0.25\n1\t1.5\tNaN\n", "utf-8")
    raw = read_table(tmp_path / "d.tsv")
    assert raw.labels == [2, 1] and list(raw.lengths) == [2, 1]
    (tmp_path / "d.txt").write_text("   1.0000000e+00  -3.6e-01  2.0e-01\n"
                                    "   2.0000000e+00   1.0e-01  5.0e-01\n", "utf-8")
    raw = read_table(tmp_path / "d.txt")
    assert raw.labels == [1, 2]
    np.testing.assert_allclose(raw.values[0, :, 0], [-0.36, 0.2], rtol=1e-6)


def test_csv_label_column_by_index(tmp_path):
    (tmp_path / "d.csv").write_text("1,2,a\n3,4,b\n", "utf-8")
    raw = read_table(tmp_path / "d.csv", "-1")
    assert raw.labels == ["a", "b"] and raw.values.shape == (2, 2, 1)


def test_files_to_predict_keep_every_value_column(tmp_path):
    (tmp_path / "n.csv").write_text("1,2,3\n4,5,6\n", "utf-8")
    raw = read_table(tmp_path / "n.csv", "kind", required=False)
    assert raw.labels is None and raw.values.shape == (2, 3, 1)
    (tmp_path / "h.csv").write_text("a,b\n1,2\n", "utf-8")
    assert read_table(tmp_path / "h.csv", "kind", required=False).values.shape == (1, 2, 1)
    (tmp_path / "s.csv").write_text("up,1,2\ndown,3,4\n", "utf-8")  # labels first
    raw = read_table(tmp_path / "s.csv", "kind", required=False)
    assert raw.labels == ["up", "down"] and raw.values.shape == (2, 2, 1)


def test_the_label_column_found_is_remembered(tmp_path):
    (tmp_path / "d.tsv").write_text("2\t0.5\n1\t1.5\n", "utf-8")
    assert read_table(tmp_path / "d.tsv").label_column == "0"
    (tmp_path / "d.csv").write_text("x,kind\n1,a\n", "utf-8")
    assert read_table(tmp_path / "d.csv", "kind").label_column == "kind"


@pytest.mark.parametrize("text, column, message", [
    ("a,b,label\n1,x,up\n", "label", "row 2: 'x' in column 2 is not a number"),
    ("a,b,c\n1,2,3\n", "label", "has no column 'label' (its header: a, b, c)"),
    ("", "label", "is empty"),
    ("label,a\n", "label", "holds no sequences"),
])
def test_bad_csv(tmp_path, text, column, message):
    path = tmp_path / "d.csv"
    path.write_text(text, "utf-8")
    with pytest.raises(LstmkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_table(path, column)


TS = """# a comment
@problemName Tiny
@timeStamps false
@univariate false
@dimensions 2
@classLabel true walk run
@data
1,2,3:4,5,6:walk
7,8:9,10:run
"""


def test_ts_multivariate_variable_length(tmp_path):
    (tmp_path / "t.ts").write_text(TS, "utf-8")
    raw = read_ts(tmp_path / "t.ts")
    assert raw.values.shape == (2, 3, 2) and list(raw.lengths) == [3, 2]
    assert raw.labels == ["walk", "run"]
    np.testing.assert_array_equal(raw.values[0], [[1, 4], [2, 5], [3, 6]])
    assert np.isnan(raw.values[1, 2]).all()


@pytest.mark.parametrize("replace, message", [
    (("7,8:9,10:run", "7,8:9,10,11:run"), "dimensions have different lengths"),
    (("7,8:9,10:run", "7,x:9,10:run"), "line 9: 'x' in dimension 1 is not a number"),
    (("7,8:9,10:run", "7,8:run"), "line 9: 1 dimensions, earlier lines have 2"),
    (("7,8:9,10:run", "7,8:9,10:jump"), "label 'jump' is not among @classLabel walk run"),
    (("@timeStamps false", "@timeStamps true"), "time-stamped .ts files are not supported"),
])
def test_bad_ts(tmp_path, replace, message):
    (tmp_path / "t.ts").write_text(TS.replace(*replace), "utf-8")
    with pytest.raises(LstmkitError, match=message):
        read_ts(tmp_path / "t.ts")


def labelled_series(per_class: int = 10, seed: int = 0):
    """(N, 5) values whose mean depends on the class, labels 'a' and 'b'."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 1, (per_class, 5)), rng.normal(3, 1, (per_class, 5))])
    return x, ["a"] * per_class + ["b"] * per_class


def test_stratified_split_keeps_every_class_on_both_sides():
    labels = ["a"] * 8 + ["b"] * 4 + ["c"] * 2
    kept, held = stratified_split(labels, 0.25, seed=0, what="a test part", hint="")
    assert sorted([*kept, *held]) == list(range(14))
    assert sorted(labels[i] for i in held) == ["a", "a", "b", "c"]
    again = stratified_split(labels, 0.25, seed=0, what="a test part", hint="")
    assert list(again[1]) == list(held)
    with pytest.raises(LstmkitError, match="class 'z' has only 1 example: too few to split"):
        stratified_split([*labels, "z"], 0.25, seed=0, what="a test part", hint="")


def test_normalisation_is_fitted_on_the_training_part_only(tmp_path):
    x, y = labelled_series(per_class=20)
    x += (np.arange(40.0) ** 2)[:, None]  # every row its own level: subsets differ in mean
    test_x = x[:4] + 1000.0
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array(y), x_test=test_x,
             y_test=np.array(y[:2] + y[-2:]))
    train, test = read_npz(tmp_path / "d.npz")
    data = prepare_sequences(train, test, SequencesConfig(val_fraction=0.25, chunk=1))
    fit_part = data.parts["train"]
    assert len(fit_part) == 30 and len(data.parts["val"]) == 10
    assert data.normaliser.mean[0] == pytest.approx(float(fit_part.values.mean()), rel=1e-6)
    assert data.normaliser.std[0] == pytest.approx(float(fit_part.values.std()), rel=1e-5)
    # Neither the validation part nor the test data moved the statistics.
    assert abs(data.normaliser.mean[0] - float(train.values.mean())) > 1.0
    encoded = data.train.batches.inputs[:, :, 0]
    assert float(encoded.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(data.test.inputs.mean()) > 1.0


def test_series_normalisation_and_padding_stay_zero():
    x = np.array([[1.0, 2.0, 3.0, np.nan], [10.0, 10.0, 10.0, 10.0]])
    from lstmkit.data.sequence_files import from_padded

    raw = from_padded(x, [0, 1], "x")
    values = Normaliser("series").apply(raw)[:, :, 0]
    np.testing.assert_allclose(values[0], [-1.2247449, 0, 1.2247449, 0], atol=1e-6)
    np.testing.assert_allclose(values[1], 0, atol=1e-6)  # constant: centred, not blown up


def test_chunks_keep_every_value():
    from lstmkit.data.sequence_files import from_padded

    x = np.arange(1.0, 8.0)[None, :].repeat(2, axis=0)  # 7 values per row
    x[1, 5:] = np.nan  # the second row has 5
    raw = from_padded(x, [0, 1], "x")
    encoded = encode(raw, Normaliser("none"), chunk=3, classes=[0, 1])
    assert encoded.inputs.shape == (2, 3, 3)
    assert encoded.lengths.tolist() == [3, 2]
    np.testing.assert_array_equal(encoded.inputs[0].flatten()[:7], np.arange(1.0, 8.0))
    np.testing.assert_array_equal(encoded.inputs[1, :2].flatten(), [1, 2, 3, 4, 5, 0])
    assert encoded.targets.tolist() == [0, 1]


def test_auto_chunk_is_resolved_and_saved_in_the_config(tmp_path):
    x, y = labelled_series(per_class=6)
    x = np.repeat(x, 20, axis=1)  # 100 steps
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array(y))
    train, _ = read_npz(tmp_path / "d.npz")
    data = prepare_sequences(train, None, SequencesConfig(batch_size=2))
    assert data.config.chunk > 1
    assert data.train.batches.inputs.shape[1] * data.config.chunk >= 100


def test_digits_split_is_fixed_and_stratified():
    train, test = read_sequences(Source("digits"))
    assert test is None and train.values.shape == (1797, 8, 8)
    config = SequencesConfig()
    fit_part, val, held = split_sequences(train, None, config)
    assert len(held) == 450 and len(fit_part) + len(val) + len(held) == 1797
    assert sorted(set(held.labels)) == list(range(10))
    _, _, again = split_sequences(train, None, config)
    np.testing.assert_array_equal(again.values, held.values)

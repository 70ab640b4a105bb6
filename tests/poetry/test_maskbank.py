import numpy as np

from lstmkit.poetry.maskbank import MaskBank


def test_each_key_is_built_once_and_gathered_by_number():
    bank = MaskBank(5)
    built = []

    def evens():
        built.append("evens")
        return np.array([True, False, True, False, True])

    a = bank.number("evens", evens)
    assert bank.number("evens", evens) == a and built == ["evens"]
    b = bank.single(3)
    none = bank.single(None)
    assert bank.members(a) == {0, 2, 4} and bank.members(b) == {3} and bank.members(none) == set()
    rows = bank.gather([b, a, b, none]) == 0  # additive: 0 allowed, -inf not
    assert rows.tolist() == [[False, False, False, True, False], [True, False, True, False, True],
                             [False, False, False, True, False], [False] * 5]
    gathered = bank.gather([b])
    assert gathered[0, 0] == float("-inf")
    gathered[0, 0] = 0.0  # the gathered rows are a copy: the bank is untouched
    assert bank.members(b) == {3} and bank.gather([b])[0, 0] == float("-inf")


def test_the_table_grows_past_its_first_size():
    bank = MaskBank(40)
    numbers = [bank.single(i) for i in range(40)]
    assert numbers == list(range(40))
    gathered = bank.gather(numbers[::-1]) == 0
    assert np.array_equal(gathered, np.eye(40, dtype=bool)[::-1])

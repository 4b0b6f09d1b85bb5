"""The canonical text and equality of returned values, in process (the harness runs the same source)."""

import math

import numpy as np
import pytest

from memreward_verl.execution import harness, values
from memreward_verl.execution.values import canonical, materialise, same_value, shorten


def canon(x):
    return canonical(x, [0])


def test_numbers_that_agree_write_the_same_text():
    assert canon(2.0) == canon(2) == "2"
    assert canon(True) == "True" != canon(1)  # a bool is not the int it equals
    assert canon(0.1 + 0.2) == canon(0.3)  # %.9g: rounding noise of one computation order
    assert canon(float("nan")) == "nan" and canon(-math.inf) == "-inf"
    assert canon(10**400).startswith("int:")  # huge ints hashed, not printed


def test_containers_are_ordered_where_python_leaves_order_open():
    assert canon({3, 1, 2}) == canon({2, 3, 1}) == "{1,2,3}"
    assert canon({"b": 1, "a": [1.0, (2,)]}) == "{'a':[1,(2)],'b':1}"
    assert canon([1, 2]) != canon((1, 2))  # a list is not a tuple to a caller
    assert canon(np.array([1.0, 2.5])) == "array[1,2.5]"
    assert canon(iter([1, 2])) == "iter[1,2]" and canon(range(3)) == "iter[0,1,2]"
    assert canon(object()) == "<object>"  # never an address


def test_outputs_too_large_to_compare_raise_instead_of_hanging():
    with pytest.raises(OverflowError):
        canon(list(range(values.MAX_NODES + 1)))
    with pytest.raises(OverflowError):
        materialise(iter(range(values.MAX_ITEMS + 5)))
    assert materialise(iter("ab")) == ["a", "b"]


def test_same_value_is_tolerant_on_numbers_and_strict_on_shapes():
    assert same_value(1 / 3, 0.333333333) and not same_value(0.33, 1 / 3)
    assert same_value(float("nan"), float("nan"))
    assert same_value([1, (2.0, 3)], [1, (2, 3)]) and not same_value([1, 2], (1, 2))
    assert same_value(True, True) and not same_value(True, 1)  # a bool answers only a bool
    assert same_value(np.array([1, 2]), [1, 2])

    class Hostile:
        def __eq__(self, other):
            raise RuntimeError("no")

    assert same_value(Hostile(), 1) is False


def test_long_texts_are_hashed_stably():
    assert shorten("x" * 300) == "x" * 300
    assert shorten("x" * 301) == shorten("x" * 301) != shorten("y" * 301)
    assert shorten("x" * 301).startswith("h:")


def test_the_sandboxed_program_carries_these_definitions():
    src = harness._HARNESS_SOURCE
    assert src.index("def canonical(") < src.index("def _harness_main(") < src.index("\n_harness_main()")
    compile(src, "harness", "exec")  # one valid program

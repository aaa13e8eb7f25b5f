import pytest

from synthfoundry.similarity.numbers import number_codes, numbers_in, word_set


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("It costs $1,000.50 for 3 of them", ("1000.5", "3")),
        ("1,000 apples at 3.50, 007 and -0", ("0", "1000", "3.5", "7")),
        ("Janet has forty-eight ducks", ("48",)),
        ("three hundred and twenty-five, a hundred and five, one hundred five", ("105", "105", "325")),
        ("two thousand three hundred and one", ("2301",)),
        ("3 million people and two dozen eggs", ("24", "3000000")),
        ("3/4 = 0.75 = three quarters; a half = 0.5 = 1/2; one third = 1/3", tuple(sorted(
            ["0.75", "0.75", "0.75", "0.5", "0.5", "0.5", "1/3", "1/3"]))),
        ("nineteen eighty-four", ("19", "84")),  # two numbers: a teen then a tens
        ("16 - 3 = 13, but -3 is negative", ("-3", "13", "16", "3")),  # a subtraction's minus is not a sign
        ("the third day, one of them, 1 more", ()),  # an ordinal is not a number; one is left out (often a pronoun)
        ("1.0/4.0 of 50.0/100.0", ("0.25", "0.5")),
        ("no numbers here", ()),
    ],
)
def test_numbers_are_read_by_value_whatever_their_spelling(text, numbers):
    assert numbers_in(text) == numbers


def test_number_codes_match_exactly_when_the_values_do():
    codes = number_codes([
        "1,000 apples at 3.50", "one thousand apples at 3.5", "1000 apples at 3.6", "no numbers", "",
        "Tom has 48 apples and 3/4 of a pie", "One day Tom has forty-eight apples and three quarters of a pie",
        "Tom has forty-nine apples and three quarters of a pie",
    ])
    assert codes[0] == codes[1] != codes[2]
    assert codes[3] == codes[4]
    assert codes[5] == codes[6] != codes[7]


def test_word_sets_hold_numbers_by_value_and_operators():
    assert word_set("He has forty-eight apples") == word_set("HE HAS 48 APPLES") == {"he", "has", "48", "apples"}
    assert word_set("6 * 2") != word_set("6 / 2")

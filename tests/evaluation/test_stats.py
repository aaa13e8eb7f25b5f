from synthfoundry.evaluation.stats import bootstrap, paired, verdict


def test_interval_holds_the_mean_and_narrows_with_items():
    small = bootstrap([1, 0] * 5, resamples=500)
    large = bootstrap([1, 0] * 200, resamples=500)
    assert small.low <= 0.5 <= small.high and large.low <= 0.5 <= large.high
    assert large.high - large.low < small.high - small.low


def test_a_difference_inside_its_interval_is_never_a_win():
    same = paired([1, 0, 1, 0, 1, 0], [0, 1, 1, 0, 0, 1], resamples=500)
    assert verdict(same, higher_is_better=True) == "no clear difference"
    better = paired([0] * 30, [1] * 25 + [0] * 5, resamples=500)
    assert verdict(better, higher_is_better=True) == "better"
    assert verdict(better, higher_is_better=False) == "worse"

import numpy as np


def test_regions_partition_a_matte_by_distance_from_its_edge(load_bench_script):
    split = load_bench_script("alpha_error_split")
    yy, xx = np.mgrid[:64, :64]
    truth = ((yy - 20) ** 2 + (xx - 20) ** 2 <= 8**2).astype(np.float32)  # a solid disc
    truth[50:56, 50:56] = 0.4  # and a translucent square
    masks = split.regions(truth)
    assert list(masks) == list(split.REGIONS)
    assert (sum(m.astype(int) for m in masks.values()) == 1).all()  # every pixel in exactly one region
    assert masks["edge band"][20, 28] and masks["edge band"][20, 12]  # on the disc's rim
    assert masks["solid"][20, 20] and masks["clear, 3-10 px out"][20, 33] and masks["clear, further"][0, 63]
    assert masks["semi-transparent"][52, 52]

import pytest

from civiclake.geography import OutsideJurisdictionError, load_geography


@pytest.fixture(scope="module")
def geo():
    return load_geography()


def test_counts_of_1_plus_6_plus_n(geo):
    assert geo.district.code == "440309"
    assert len(geo.streets) == 6
    assert len(geo.communities) == 50
    assert len(geo.grids) == 200
    assert {a.name for a in geo.streets.values()} == {
        "观澜街道",
        "大浪街道",
        "龙华街道",
        "民治街道",
        "福城街道",
        "观湖街道",
    }


def test_codes_nest(geo):
    for code, community in geo.communities.items():
        assert code.startswith(community.parent_code) and len(code) == 12
        assert community.parent_code in geo.streets
    for code, grid in geo.grids.items():
        assert code.startswith(grid.parent_code) and len(code) == 14


def test_every_community_centroid_lands_in_that_community(geo):
    for code, community in geo.communities.items():
        location = geo.locate(*community.box.centroid)
        assert location is not None and location.community_code == code
        assert location.street_code == community.parent_code


def test_grids_tile_the_district_without_overlap(geo):
    box = geo.district.box
    steps = 40
    for i in range(steps + 1):
        for j in range(steps + 1):
            lon = box.min_lon + (box.max_lon - box.min_lon) * i / steps
            lat = box.min_lat + (box.max_lat - box.min_lat) * j / steps
            containing = [g for g in geo.grids.values() if g.box.contains(lon, lat, box)]
            assert len(containing) == 1, (lon, lat, [g.code for g in containing])
            assert geo.locate(lon, lat).grid_code == containing[0].code


def test_point_outside_is_rejected(geo):
    assert geo.locate(114.2, 22.7) is None
    assert geo.locate(114.0, 22.5) is None
    with pytest.raises(OutsideJurisdictionError, match="outside 龙华区"):
        geo.require_location(-73.98, 40.75)


def test_known_point(geo):
    # South-west corner of the district lies in 民治街道's first community.
    location = geo.locate(113.961, 22.601)
    assert location.street_code == "440309002"
    assert location.community_code == "440309002001"
    assert geo.communities[location.community_code].name == "民治社区"

import pytest

from civiclake.geography import load_geography
from civiclake.jurisdiction import UnknownJurisdictionError, load_jurisdiction


def test_longhua_box_is_the_geography_district_box():
    assert load_jurisdiction("longhua").box == load_geography().district.box


def test_boxes_do_not_mix_up_places():
    longhua, nyc = load_jurisdiction("longhua"), load_jurisdiction("nyc")
    times_square = (-73.9855, 40.7580)
    longhua_centre = load_geography().district.box.centroid
    assert nyc.contains(*times_square) and not longhua.contains(*times_square)
    assert longhua.contains(*longhua_centre) and not nyc.contains(*longhua_centre)
    assert not nyc.contains(None, 40.7)


def test_default_follows_settings(monkeypatch):
    monkeypatch.setenv("CIVICLAKE_JURISDICTION", "nyc")
    assert load_jurisdiction().code == "nyc"


def test_unknown_jurisdiction_names_the_file():
    with pytest.raises(UnknownJurisdictionError, match="jurisdictions.csv"):
        load_jurisdiction("atlantis")

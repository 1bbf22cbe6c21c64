"""Great-circle distance and the bounding box that pre-filters the nearby search."""

import math

import pytest

from rideshare.kernel.geo import bounding_box, haversine_km

R = 6371.0088


def law_of_cosines_km(lat1, lon1, lat2, lon2):
    """An independent great-circle formula to check the app's haversine against."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return R * math.acos(max(-1.0, min(1.0, c)))


def destination(lat, lon, bearing_deg, km):
    """The point `km` away from (lat, lon) on the initial bearing (standard spherical formula)."""
    d = km / R
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), math.degrees(l2)


@pytest.mark.parametrize(
    "a, b, published_km",
    [
        ((3.848, 11.502), (4.0511, 9.7679), 193.7),  # Yaoundé ↔ Douala
        ((51.5074, -0.1278), (48.8566, 2.3522), 343.6),  # London ↔ Paris
        ((-33.8688, 151.2093), (-37.8136, 144.9631), 713.8),  # Sydney ↔ Melbourne
        ((40.7128, -74.0060), (34.0522, -118.2437), 3935.7),  # New York ↔ Los Angeles
    ],
)
def test_haversine_matches_known_city_distances(a, b, published_km):
    km = haversine_km(*a, *b)
    assert km == pytest.approx(published_km, rel=0.01)
    assert km == pytest.approx(law_of_cosines_km(*a, *b), rel=1e-6)
    assert haversine_km(*b, *a) == pytest.approx(km)


def test_haversine_takes_latitude_first():
    # 0.04° of longitude at 3.8°N is ~4.4 km; 0.05° of latitude is ~5.6 km everywhere.
    assert haversine_km(3.848, 11.502, 3.848, 11.542) == pytest.approx(4.438, abs=0.01)
    assert haversine_km(3.848, 11.502, 3.898, 11.502) == pytest.approx(5.560, abs=0.01)
    # At 60°N a degree of longitude is half as long as at the equator.
    assert haversine_km(60.0, 10.0, 60.0, 11.0) == pytest.approx(haversine_km(0.0, 10.0, 0.0, 11.0) / 2, rel=0.002)


def test_haversine_of_a_point_to_itself_is_zero_and_antipodes_are_half_the_circumference():
    assert haversine_km(3.848, 11.502, 3.848, 11.502) == 0
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * R)
    assert haversine_km(90, 0, -90, 0) == pytest.approx(math.pi * R)


@pytest.mark.parametrize("lat, lon", [(0.0, 0.0), (3.848, 11.502), (-22.9, -43.2), (45.0, 7.0), (60.17, 24.94), (-70.0, 10.0)])
@pytest.mark.parametrize("radius_km", [0.5, 5.0, 50.0])
def test_bounding_box_encloses_the_whole_circle(lat, lon, radius_km):
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_km)
    for bearing in range(0, 360, 5):
        # Just inside the circle: a box that cuts it would lose drivers the radius includes.
        p_lat, p_lon = destination(lat, lon, bearing, radius_km * 0.9999)
        assert haversine_km(lat, lon, p_lat, p_lon) <= radius_km
        assert min_lat <= p_lat <= max_lat, (bearing, p_lat)
        assert min_lon <= p_lon <= max_lon, (bearing, p_lon)


def test_bounding_box_is_not_much_larger_than_the_circle():
    min_lat, max_lat, min_lon, max_lon = bounding_box(3.848, 11.502, 5.0)
    assert (max_lat - min_lat) / 2 == pytest.approx(5.0 / 111.195, rel=0.01)
    assert (max_lon - min_lon) / 2 == pytest.approx(5.0 / (111.195 * math.cos(math.radians(3.848))), rel=0.01)
    min_lat, max_lat, min_lon, max_lon = bounding_box(60.0, 10.0, 5.0)
    assert (max_lon - min_lon) / 2 == pytest.approx(2 * 5.0 / 111.195, rel=0.01)


def test_bounding_box_near_the_pole_covers_every_longitude():
    assert bounding_box(90.0, 0.0, 5.0) == pytest.approx((90.0 - 5.0 / 111.195, 90.0, -180.0, 180.0), rel=0.01)


def test_circle_reaching_over_the_pole_covers_every_longitude():
    # 5 km around a point 3.3 km from the North Pole includes points on the far side of it.
    lat, lon = 89.97, 10.0
    far_side = (89.99, -170.0)
    assert haversine_km(lat, lon, *far_side) < 5.0
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, 5.0)
    assert max_lat == 90.0
    assert (min_lon, max_lon) == (-180.0, 180.0)

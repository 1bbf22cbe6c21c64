from rides.models import RideStatus


def test_driver_takes_a_ride_from_request_to_completion(passenger, driver, client_for):
    pax, drv = client_for(passenger), client_for(driver.user)
    created = pax.post(
        "/api/v1/rides/",
        {"ride_type": "moto", "pickup_latitude": 3.848, "pickup_longitude": 11.502,
         "dropoff_latitude": 3.866, "dropoff_longitude": 11.516},
        format="json",
    )
    assert created.status_code == 201, created.data
    ride_id = created.data["ride_id"]
    for action, status in [("accept", "accepted"), ("arrived", "driver_arrived"),
                           ("start", "started"), ("complete", RideStatus.COMPLETED)]:
        response = drv.post(f"/api/v1/rides/{ride_id}/{action}/")
        assert response.status_code == 200, response.data
        assert response.data["status"] == status
    assert response.data["final_fare"] == created.data["estimated_fare"]

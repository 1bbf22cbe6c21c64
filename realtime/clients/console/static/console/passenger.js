// Passenger: pick pickup and drop-off (map clicks or the inputs), see nearby drivers and the
// fare, request, then follow the ride through its events until it is completed or cancelled.

import { LineSet, MarkerSet, OneMarker, createMap, fitTo } from "./map.js";
import { byTestId, fixed, formatFare, guarded, setupPane } from "./ui.js";

const NEARBY_MS = 10_000;
const ACTIVE = new Set(["requested", "accepted", "driver_arrived", "started"]);
// A REST answer read just before an event was applied must not move the status backwards.
const RANK = { requested: 0, accepted: 1, driver_arrived: 2, started: 3, completed: 4, cancelled: 4 };
const STATUS_OF_EVENT = {
  ride_accepted: "accepted",
  driver_arrived: "driver_arrived",
  ride_started: "started",
  ride_completed: "completed",
  ride_cancelled: "cancelled",
};

export function init() {
  const map = createMap(document.querySelector('[data-pane="passenger"] [data-testid="map"]'));
  const pickupMarker = new OneMarker(map, "pickup-marker", "pickup");
  const dropoffMarker = new OneMarker(map, "dropoff-marker", "dropoff");
  const driverMarker = new OneMarker(map, "driver-marker", "driver");
  const nearby = new MarkerSet(map, "nearby-driver");
  const tripLine = new LineSet(map, { color: "#059669", weight: 3 });
  let me = null;
  let ride = null; // the ride being followed (REST shape, status kept up to date by events)
  let nearbyTimer = null;

  const pane = setupPane("passenger", {
    start: async (user) => {
      me = user;
      await restoreRide();
      nearbyTimer = setInterval(refreshNearby, NEARBY_MS);
      refreshNearby();
    },
    stop: () => {
      clearInterval(nearbyTimer);
      me = null;
      showRide(null);
      nearby.clear();
    },
    event: (message) => {
      if (message.type === "connected" || message.type === "resync_required") restoreRide();
      else onRideEvent(message);
    },
  });
  const { root, session } = pane;
  const form = byTestId(root, "trip");
  const field = (name) => form.elements[name];

  // --- choosing the trip --------------------------------------------------------------------

  function point(prefix) {
    const lat = parseFloat(field(`${prefix}_latitude`).value);
    const lng = parseFloat(field(`${prefix}_longitude`).value);
    return Number.isFinite(lat) && Number.isFinite(lng) ? [lat, lng] : null;
  }

  function trip() {
    const pickup = point("pickup");
    const dropoff = point("dropoff");
    if (!pickup || !dropoff) throw Object.assign(new Error("Set a pickup and a drop-off first."), { code: "missing_points" });
    return {
      ride_type: field("ride_type").value,
      pickup_latitude: pickup[0], pickup_longitude: pickup[1],
      dropoff_latitude: dropoff[0], dropoff_longitude: dropoff[1],
    };
  }

  function drawTrip(pickup, dropoff) {
    if (pickup) pickupMarker.set(...pickup, { title: "pickup" }); else pickupMarker.clear();
    if (dropoff) dropoffMarker.set(...dropoff, { title: "drop-off" }); else dropoffMarker.clear();
    if (pickup && dropoff) tripLine.set("trip", [pickup, dropoff]); else tripLine.clear();
  }

  function onPointsChanged() {
    drawTrip(point("pickup"), point("dropoff"));
    byTestId(root, "estimate-result").textContent = "";
  }

  map.on("click", (event) => {
    if (ride) return; // the trip is fixed once requested
    const which = form.elements.click.value;
    field(`${which}_latitude`).value = fixed(event.latlng.lat);
    field(`${which}_longitude`).value = fixed(event.latlng.lng);
    if (which === "pickup") form.elements.click.value = "dropoff"; // then the drop-off
    onPointsChanged();
    if (which === "pickup") refreshNearby();
  });
  form.querySelectorAll(".coords input").forEach((input) => input.addEventListener("change", onPointsChanged));
  field("ride_type").addEventListener("change", () => refreshNearby());

  const refreshNearby = guarded(root, async () => {
    if (!session.loggedIn || (ride && ride.status !== "requested")) return;
    const [lat, lng] = point("pickup") || [map.getCenter().lat, map.getCenter().lng];
    const query = new URLSearchParams({ latitude: fixed(lat), longitude: fixed(lng), ride_type: field("ride_type").value });
    const found = await session.api("GET", `drivers/nearby/?${query}`);
    nearby.clear();
    found.forEach((d, i) => nearby.set(i, d.latitude, d.longitude, { kind: "nearby", title: `${d.vehicle_color} ${d.vehicle_type}, ${d.distance_km} km` }));
    byTestId(root, "nearby-count").textContent = found.length;
  });

  byTestId(root, "estimate").addEventListener("click", guarded(root, async () => {
    const estimate = await session.api("POST", "rides/estimate/", trip());
    byTestId(root, "estimate-result").textContent = `${formatFare(estimate.estimated_fare)} · ${estimate.distance_km} km`;
  }));

  form.addEventListener("submit", guarded(root, async (event) => {
    event.preventDefault();
    try {
      showRide(await session.api("POST", "rides/", trip()));
    } catch (error) {
      if (error.code === "active_ride_exists") await loadRide(error.body.ride_id);
      throw error;
    }
  }));

  // --- following the ride -------------------------------------------------------------------

  async function loadRide(rideId) {
    showRide(await session.api("GET", `rides/${rideId}/`));
  }

  // On login and on every (re)connect: the server's word on my active ride wins.
  const restoreRide = guarded(root, async () => {
    if (!me) return;
    const rides = await session.api("GET", "rides/?active=true");
    const mine = rides.find((r) => r.passenger_id === me.user_id);
    if (mine) showRide(mine);
    else if (ride && ACTIVE.has(ride.status)) await loadRide(ride.ride_id); // it ended meanwhile
  });

  function showRide(next) {
    if (next && ride && next.ride_id === ride.ride_id && RANK[next.status] < RANK[ride.status]) next.status = ride.status;
    const previous = ride;
    ride = next;
    byTestId(root, "ride").hidden = !ride;
    form.querySelectorAll("input, select, button").forEach((el) => { el.disabled = Boolean(ride); });
    if (!ride) {
      driverMarker.clear();
      return;
    }
    const pickup = [ride.pickup_latitude, ride.pickup_longitude];
    const dropoff = [ride.dropoff_latitude, ride.dropoff_longitude];
    drawTrip(pickup, dropoff);
    if (!previous || previous.ride_id !== ride.ride_id) fitTo(map, [pickup, dropoff]);
    if (ride.driver) {
      const d = ride.driver;
      setDriver(`${d.full_name} · ${d.vehicle_color} ${d.vehicle_type} ${d.vehicle_plate} · ★ ${d.rating}`);
    } else if (ride.status === "requested") {
      setDriver("Looking for a driver…");
      nearby.clear();
    }
    setStatus(ride.status);
    const fare = ride.final_fare ?? ride.estimated_fare;
    byTestId(root, "ride-fare").textContent = `${ride.final_fare != null ? "Fare" : "Estimated fare"}: ${formatFare(fare)}`;
  }

  function setStatus(status) {
    ride.status = status;
    const badge = byTestId(root, "ride-status");
    badge.dataset.status = status;
    badge.textContent = status.replace("_", " ");
    const finished = !ACTIVE.has(status);
    byTestId(root, "cancel").hidden = finished || status === "started";
    byTestId(root, "new-ride").hidden = !finished;
    if (finished) driverMarker.clear();
  }

  const setDriver = (text) => { byTestId(root, "ride-driver").textContent = text; };
  const notice = (text) => { byTestId(root, "ride-notice").textContent = text; };

  function onRideEvent({ type, data }) {
    if (!ride || !data || data.ride_id !== ride.ride_id) return;
    if (type === "ride_accepted") {
      setDriver(`${data.driver_name} · ${data.vehicle_color} ${data.vehicle_type} ${data.vehicle_plate} · ★ ${data.driver_rating}`);
      byTestId(root, "ride-eta").textContent = `Arrives in about ${data.estimated_arrival} min`;
      nearby.clear();
    } else if (type === "driver_location_update") {
      driverMarker.set(data.latitude, data.longitude, { title: "your driver" });
      const to = ride.status === "started" ? "to the drop-off" : "to the pickup";
      byTestId(root, "ride-eta").textContent = `${data.eta_minutes} min · ${data.distance_km} km ${to}`;
    } else if (type === "driver_approaching") {
      notice(`Your driver is approaching: ${data.distance_m} m, about ${data.eta_minutes} min`);
    } else if (type === "driver_arrived") {
      notice("Your driver has arrived at the pickup.");
    } else if (type === "ride_started") {
      notice("On the way to the drop-off.");
    } else if (type === "ride_completed") {
      notice("Arrived. Thank you for riding!");
      byTestId(root, "ride-fare").textContent = `Fare: ${formatFare(data.final_fare)}`;
    } else if (type === "ride_cancelled") {
      notice(`Cancelled by ${data.cancelled_by}${data.reason ? `: ${data.reason}` : ""}`);
    }
    if (STATUS_OF_EVENT[type]) setStatus(STATUS_OF_EVENT[type]);
  }

  byTestId(root, "cancel").addEventListener("click", guarded(root, async () => {
    showRide(await session.api("POST", `rides/${ride.ride_id}/cancel/`, { reason: "cancelled from the console" }));
  }));

  byTestId(root, "new-ride").addEventListener("click", () => {
    showRide(null);
    notice("");
    byTestId(root, "ride-eta").textContent = "";
    refreshNearby();
  });

  return { shown: () => map.invalidateSize() };
}

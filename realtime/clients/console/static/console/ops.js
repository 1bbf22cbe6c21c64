// Ops map (staff): every online driver moving live and every open ride, from the socket's
// watch_fleet (a full snapshot, then changes about once a second), plus the server's counts
// from GET ws/stats every few seconds.

import { LineSet, MarkerSet, createMap, fitTo } from "./map.js";
import { byTestId, fixed, guarded, setupPane } from "./ui.js";

const STATS_MS = 5_000;
const FINISHED = new Set(["completed", "cancelled"]);

export function init() {
  const map = createMap(document.querySelector('[data-pane="ops"] [data-testid="map"]'));
  const drivers = new MarkerSet(map, "ops-driver");
  const pickups = new MarkerSet(map, "ops-pickup");
  const dropoffs = new MarkerSet(map, "ops-dropoff");
  const lines = new LineSet(map, { color: "#475569", weight: 2, dashArray: "4 4" });
  const rides = new Map();
  let statsTimer = null;
  let fitted = false;

  const pane = setupPane("ops", {
    start: async () => {
      pollStats();
      statsTimer = setInterval(pollStats, STATS_MS);
    },
    stop: () => {
      clearInterval(statsTimer);
      clearFleet();
      fitted = false;
    },
    event: (message) => {
      // Each (re)connect asks again: the server answers with the whole fleet, then changes.
      if (message.type === "connected") pane.socket.send({ type: "watch_fleet" });
      if (message.type === "fleet_update") applyFleet(message.data);
    },
  });
  const { root } = pane;

  const pollStats = guarded(root, async () => {
    const stats = await pane.session.api("GET", "ws/stats");
    for (const [key, value] of Object.entries(stats)) {
      const cell = byTestId(root, `stat-${key}`);
      if (cell) cell.textContent = value;
    }
  });

  function clearFleet() {
    [drivers, pickups, dropoffs, lines].forEach((layer) => layer.clear());
    rides.clear();
    renderCounts();
  }

  function applyFleet({ full, drivers: changedDrivers, removed_driver_ids: removed, rides: changedRides }) {
    if (full) clearFleet();
    for (const d of changedDrivers) {
      const kind = d.busy ? "busy" : d.vehicle_type;
      drivers.set(d.driver_id, d.latitude, d.longitude, { kind, title: `${d.name} (${d.vehicle_type}${d.busy ? ", on a ride" : ""})` });
    }
    removed.forEach((id) => drivers.remove(id));
    for (const ride of changedRides) {
      if (FINISHED.has(ride.status)) removeRide(ride.ride_id);
      else showRide(ride);
    }
    renderCounts();
    if (full && !fitted) fitFleet();
  }

  function showRide(ride) {
    rides.set(ride.ride_id, ride);
    const title = `${ride.ride_type} ride, ${ride.status}`;
    pickups.set(ride.ride_id, ride.pickup_latitude, ride.pickup_longitude, { kind: "pickup", title: `${title}: pickup` });
    dropoffs.set(ride.ride_id, ride.dropoff_latitude, ride.dropoff_longitude, { kind: "dropoff", title: `${title}: drop-off` });
    lines.set(ride.ride_id, [[ride.pickup_latitude, ride.pickup_longitude], [ride.dropoff_latitude, ride.dropoff_longitude]]);
  }

  function removeRide(rideId) {
    rides.delete(rideId);
    [pickups, dropoffs, lines].forEach((layer) => layer.remove(rideId));
  }

  function renderCounts() {
    byTestId(root, "fleet-driver-count").textContent = drivers.ids().length;
    byTestId(root, "fleet-ride-count").textContent = rides.size;
    const list = byTestId(root, "ops-rides");
    list.replaceChildren(...[...rides.values()].map((ride) => {
      const row = document.createElement("li");
      row.dataset.testid = "ops-ride";
      row.dataset.rideId = ride.ride_id;
      row.dataset.status = ride.status;
      row.textContent = `${ride.status} · ${ride.ride_type} · ${fixed(ride.pickup_latitude)}, ${fixed(ride.pickup_longitude)}`;
      return row;
    }));
  }

  function fitFleet() {
    const points = [...drivers.latLngs(), ...pickups.latLngs(), ...dropoffs.latLngs()];
    fitTo(map, points, 15);
    fitted = points.length > 0;
  }

  byTestId(root, "fit-fleet").addEventListener("click", fitFleet);

  return { shown: () => map.invalidateSize() };
}

// Driver: go online, see offers come and go, accept or decline, report positions (one by hand,
// or driving a path drawn on the map, a step every DRIVE_STEP_MS), and move the ride along.

import { LineSet, MarkerSet, OneMarker, createMap, fitTo } from "./map.js";
import { byTestId, fixed, formatFare, guarded, setupPane } from "./ui.js";

const DRIVE_STEP_MS = 1_500;
const STEP_M = 150; // longer path segments are driven in steps of at most this
const DRIVE_SPEED_KMH = 25;
const ONLINE_KEY = "rideshare-console.driver.wants-online";
const STATUS_OF_EVENT = {
  driver_arrived: "driver_arrived",
  ride_started: "started",
  ride_completed: "completed",
  ride_cancelled: "cancelled",
};
const ACTIVE = new Set(["accepted", "driver_arrived", "started"]);

// --- geometry for driving a path ---------------------------------------------------------------

const rad = (deg) => (deg * Math.PI) / 180;

function metres([lat1, lng1], [lat2, lng2]) {
  const a = Math.sin(rad(lat2 - lat1) / 2) ** 2
    + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lng2 - lng1) / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.sqrt(a));
}

function bearing([lat1, lng1], [lat2, lng2]) {
  const y = Math.sin(rad(lng2 - lng1)) * Math.cos(rad(lat2));
  const x = Math.cos(rad(lat1)) * Math.sin(rad(lat2)) - Math.sin(rad(lat1)) * Math.cos(rad(lat2)) * Math.cos(rad(lng2 - lng1));
  return (((Math.atan2(y, x) * 180) / Math.PI) + 360) % 360;
}

/** The path's points with long segments cut into equal steps; every drawn point is a step. */
function steps(path) {
  const out = path.slice(0, 1);
  for (let i = 1; i < path.length; i += 1) {
    const [from, to] = [path[i - 1], path[i]];
    const n = Math.max(1, Math.ceil(metres(from, to) / STEP_M));
    for (let k = 1; k <= n; k += 1) out.push(k === n ? to : [from[0] + ((to[0] - from[0]) * k) / n, from[1] + ((to[1] - from[1]) * k) / n]);
  }
  return out;
}

export function init() {
  const map = createMap(document.querySelector('[data-pane="driver"] [data-testid="map"]'));
  const self = new OneMarker(map, "self-marker", "self");
  const offerPickups = new MarkerSet(map, "offer-pickup");
  const ridePickup = new OneMarker(map, "ride-pickup", "pickup");
  const rideDropoff = new OneMarker(map, "ride-dropoff", "dropoff");
  const lines = new LineSet(map, { color: "#64748b", weight: 2, dashArray: "6 4" });
  let me = null;
  let ride = null;
  let position = null;
  let driving = null;

  const pane = setupPane("driver", {
    start: async (user) => {
      me = user;
      if (!user.is_driver) throw Object.assign(new Error("This account is not a driver."), { code: "not_a_driver" });
      const profile = await session.api("GET", "drivers/me/");
      if (sessionStorage.getItem(ONLINE_KEY) === null) sessionStorage.setItem(ONLINE_KEY, profile.is_online ? "1" : "0");
      setOnline(profile.is_online);
      if (profile.latitude != null) showPosition([profile.latitude, profile.longitude]);
      await restoreRide();
    },
    stop: () => {
      stopDriving();
      me = null;
      showRide(null);
      clearOffers();
      sessionStorage.removeItem(ONLINE_KEY);
    },
    event: onEvent,
  });
  const { root, session, socket } = pane;
  const offers = byTestId(root, "offers");
  const pathInput = byTestId(root, "path-input");

  // --- availability --------------------------------------------------------------------------

  function setOnline(online) {
    const badge = byTestId(root, "online-state");
    badge.dataset.online = online ? "true" : "false";
    badge.textContent = online ? "online" : "offline";
  }

  async function goOnline(online) {
    sessionStorage.setItem(ONLINE_KEY, online ? "1" : "0");
    setOnline((await session.api("POST", online ? "drivers/me/online/" : "drivers/me/offline/")).is_online);
  }

  byTestId(root, "go-online").addEventListener("click", guarded(root, () => goOnline(true)));
  byTestId(root, "go-offline").addEventListener("click", guarded(root, () => goOnline(false)));

  // --- positions -----------------------------------------------------------------------------

  function showPosition(point) {
    position = point;
    self.set(point[0], point[1], { title: "me" });
    byTestId(root, "pos-lat").value = fixed(point[0]);
    byTestId(root, "pos-lon").value = fixed(point[1]);
  }

  function report(point, heading, speed) {
    showPosition(point);
    const message = { type: "location_update", latitude: point[0], longitude: point[1], speed };
    if (heading !== null) message.heading = Math.min(359.999, heading);
    if (!socket.send(message)) byTestId(root, "drive-state").textContent = "offline: position queued";
  }

  byTestId(root, "send-position").addEventListener("click", guarded(root, () => {
    const point = [parseFloat(byTestId(root, "pos-lat").value), parseFloat(byTestId(root, "pos-lon").value)];
    if (!point.every(Number.isFinite)) throw Object.assign(new Error("Latitude and longitude are numbers."), { code: "invalid_position" });
    report(point, position ? bearing(position, point) : null, 0);
  }));

  function parsePath() {
    return pathInput.value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
      const point = line.split(",").map((part) => parseFloat(part));
      if (point.length !== 2 || !point.every(Number.isFinite)) {
        throw Object.assign(new Error(`Not a "lat,lon" line: ${line}`), { code: "invalid_path" });
      }
      return point;
    });
  }

  const drawPath = () => {
    try {
      const path = parsePath();
      lines.set("path", path);
      byTestId(root, "drive-state").textContent = `${path.length} points`;
    } catch {
      lines.remove("path");
    }
  };

  map.on("click", (event) => {
    pathInput.value += `${pathInput.value && !pathInput.value.endsWith("\n") ? "\n" : ""}${fixed(event.latlng.lat)},${fixed(event.latlng.lng)}\n`;
    drawPath();
  });
  pathInput.addEventListener("input", drawPath);

  byTestId(root, "drive").addEventListener("click", guarded(root, () => {
    stopDriving();
    const route = steps(parsePath());
    if (!route.length) throw Object.assign(new Error("Draw a path first: click points on the map."), { code: "no_path" });
    let i = 0;
    const step = () => {
      const previous = i === 0 ? position : route[i - 1];
      report(route[i], previous ? bearing(previous, route[i]) : null, i === route.length - 1 ? 0 : DRIVE_SPEED_KMH);
      i += 1;
      byTestId(root, "drive-state").textContent = i < route.length ? `driving: step ${i} of ${route.length}` : "end of the path";
      if (i >= route.length) stopDriving(false);
    };
    step();
    driving = setInterval(step, DRIVE_STEP_MS);
  }));

  function stopDriving(say = true) {
    clearInterval(driving);
    driving = null;
    if (say) byTestId(root, "drive-state").textContent = "stopped";
  }

  byTestId(root, "stop-drive").addEventListener("click", () => stopDriving());
  byTestId(root, "clear-path").addEventListener("click", () => {
    stopDriving();
    pathInput.value = "";
    lines.remove("path");
  });

  // --- offers --------------------------------------------------------------------------------

  function addOffer(offer) {
    removeOffer(offer.ride_id);
    const card = document.createElement("li");
    card.dataset.testid = "offer";
    card.dataset.rideId = offer.ride_id;
    card.dataset.expires = offer.offer_expires_at;
    card.innerHTML = `
      <b data-testid="offer-fare"></b> · ${offer.ride_type}<br>
      pickup <span data-testid="offer-distance"></span> away (about ${offer.pickup_eta_minutes} min)<br>
      <span data-testid="offer-countdown"></span>
      <div class="buttons"><button type="button" data-testid="offer-accept">Accept</button>
      <button type="button" data-testid="offer-decline">Decline</button></div>`;
    byTestId(card, "offer-fare").textContent = formatFare(offer.estimated_fare);
    byTestId(card, "offer-distance").textContent = `${offer.pickup_distance_km} km`;
    byTestId(card, "offer-accept").addEventListener("click", guarded(root, () => accept(offer.ride_id)));
    byTestId(card, "offer-decline").addEventListener("click", guarded(root, () => decline(offer.ride_id)));
    offers.append(card);
    offerPickups.set(offer.ride_id, offer.pickup_latitude, offer.pickup_longitude, { kind: "offer", title: `offer: ${formatFare(offer.estimated_fare)}` });
    tickCountdowns();
  }

  function removeOffer(rideId) {
    offers.querySelectorAll('[data-testid="offer"]').forEach((card) => { if (card.dataset.rideId === rideId) card.remove(); });
    offerPickups.remove(rideId);
  }

  function clearOffers() {
    offers.replaceChildren();
    offerPickups.clear();
  }

  function tickCountdowns() {
    offers.querySelectorAll('[data-testid="offer"]').forEach((card) => {
      const left = Math.round((Date.parse(card.dataset.expires) - Date.now()) / 1000);
      // Past its expiry an offer can still be accepted while the ride is requested (README).
      byTestId(card, "offer-countdown").textContent = left > 0 ? `offer stands ${left} s` : "offer expired";
    });
  }
  setInterval(tickCountdowns, 1_000);

  async function accept(rideId) {
    showRide(await session.api("POST", `rides/${rideId}/accept/`));
    removeOffer(rideId);
  }

  async function decline(rideId) {
    await session.api("POST", `rides/${rideId}/decline/`);
    removeOffer(rideId);
  }

  // --- the current ride ----------------------------------------------------------------------

  const restoreRide = guarded(root, async () => {
    if (!me) return;
    const rides = await session.api("GET", "rides/?active=true");
    const mine = rides.find((r) => r.driver_id === me.user_id);
    if (mine) showRide(mine);
    else if (ride && ACTIVE.has(ride.status)) showRide(await session.api("GET", `rides/${ride.ride_id}/`));
  });

  function showRide(next) {
    const previous = ride;
    ride = next;
    byTestId(root, "current-ride").hidden = !ride;
    if (!ride) {
      ridePickup.clear();
      rideDropoff.clear();
      lines.remove("ride");
      return;
    }
    const pickup = [ride.pickup_latitude, ride.pickup_longitude];
    const dropoff = [ride.dropoff_latitude, ride.dropoff_longitude];
    ridePickup.set(...pickup, { title: "pickup" });
    if (!previous || previous.ride_id !== ride.ride_id) fitTo(map, [pickup, dropoff]);
    rideDropoff.set(...dropoff, { title: "drop-off" });
    lines.set("ride", [pickup, dropoff]);
    byTestId(root, "ride-summary").textContent = `${ride.ride_type} · ${formatFare(ride.final_fare ?? ride.estimated_fare)} · `
      + `pickup ${fixed(pickup[0])},${fixed(pickup[1])} → drop-off ${fixed(dropoff[0])},${fixed(dropoff[1])}`;
    setStatus(ride.status);
  }

  function setStatus(status) {
    ride.status = status;
    const badge = byTestId(root, "ride-status");
    badge.dataset.status = status;
    badge.textContent = status.replace("_", " ");
    const is = (...states) => states.includes(status);
    byTestId(root, "arrived").disabled = !is("accepted");
    byTestId(root, "start").disabled = !is("driver_arrived");
    byTestId(root, "complete").disabled = !is("started");
    byTestId(root, "cancel").disabled = !is("accepted", "driver_arrived");
  }

  const step = (action, body) => guarded(root, async () => {
    showRide(await session.api("POST", `rides/${ride.ride_id}/${action}/`, body));
    if (action === "complete" || action === "cancel") byTestId(root, "ride-notice").textContent = `Ride ${ride.status}.`;
  });
  byTestId(root, "arrived").addEventListener("click", step("arrived"));
  byTestId(root, "start").addEventListener("click", step("start"));
  byTestId(root, "complete").addEventListener("click", step("complete"));
  byTestId(root, "cancel").addEventListener("click", step("cancel", { reason: "cancelled by the driver" }));

  // --- socket events -------------------------------------------------------------------------

  function onEvent({ type, data }) {
    if (type === "connected") {
      // A driver whose last socket closed went offline: say again that we drive (README).
      if (sessionStorage.getItem(ONLINE_KEY) === "1") socket.send({ type: "driver_online" });
      restoreRide();
    } else if (type === "resync_required") {
      clearOffers(); // offers missed cannot be replayed; new ones will come
      restoreRide();
    } else if (type === "driver_status" || type === "driver_availability_changed") {
      setOnline(data.is_online);
    } else if (type === "ride_requested") {
      addOffer(data);
    } else if (type === "ride_unavailable") {
      removeOffer(data.ride_id);
      byTestId(root, "offers-note").textContent = `An offer is gone (${data.reason.replaceAll("_", " ")}).`;
    } else if (type === "ride_declined") {
      removeOffer(data.ride_id);
    } else if (ride && data && data.ride_id === ride.ride_id) {
      if (type === "driver_approaching") byTestId(root, "ride-notice").textContent = `Approaching the pickup: ${data.distance_m} m.`;
      if (type === "ride_cancelled") byTestId(root, "ride-notice").textContent = `Cancelled by ${data.cancelled_by}.`;
      if (STATUS_OF_EVENT[type]) setStatus(STATUS_OF_EVENT[type]);
    }
  }

  return { shown: () => map.invalidateSize() };
}


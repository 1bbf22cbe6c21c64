// Leaflet (the global `L`, from django-leaflet's static files) set up the same way in each pane:
// tiles from the CONSOLE_TILE_URL setting over a plain background, markers as small divs whose
// data-testid and data-lat/data-lng tell tests (and curious people) what they show.

import { config, fixed } from "./ui.js";

export function createMap(element) {
  const map = L.map(element).setView(config.center, 14);
  if (config.tile_url) {
    const tiles = L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 });
    // A tile that cannot load (offline, blocked) leaves the plain background: markers still work.
    tiles.on("tileerror", () => element.classList.add("tiles-failed"));
    tiles.addTo(map);
  } else {
    map.attributionControl.addAttribution("no map tiles configured");
  }
  return map;
}

/** Shows these points (a hidden pane's map has no size to fit: it keeps its view). */
export function fitTo(map, points, maxZoom = 16) {
  if (points.length && map.getSize().x > 0) map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom, animate: false });
}

function textElement(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

function icon(kind) {
  return L.divIcon({
    className: "marker",
    html: `<div class="dot dot-${kind}"></div>`,
    iconSize: [18, 18],
    iconAnchor: [9, 9],
    tooltipAnchor: [9, 0],
  });
}

function tag(marker, testid, id, lat, lng) {
  const element = marker.getElement();
  if (!element) return;
  element.dataset.testid = testid;
  if (id !== undefined) element.dataset.id = id;
  element.dataset.lat = fixed(lat);
  element.dataset.lng = fixed(lng);
}

/** Markers of one kind by id (a driver, a ride's pickup...): set() adds or moves, remove() drops. */
export class MarkerSet {
  constructor(map, testid) {
    this.map = map;
    this.testid = testid;
    this.markers = new Map();
  }

  set(id, lat, lng, { kind, title } = {}) {
    let marker = this.markers.get(id);
    if (!marker) {
      marker = L.marker([lat, lng], { icon: icon(kind), keyboard: false }).addTo(this.map);
      marker.kind = kind;
      this.markers.set(id, marker);
    } else {
      marker.setLatLng([lat, lng]);
      if (kind !== marker.kind) {
        marker.setIcon(icon(kind)); // a new element: tagged again below
        marker.kind = kind;
      }
    }
    if (title) marker.bindTooltip(textElement(title)); // Leaflet renders a string as HTML: names are user input
    tag(marker, this.testid, id, lat, lng);
    return marker;
  }

  remove(id) {
    const marker = this.markers.get(id);
    if (marker) marker.remove();
    this.markers.delete(id);
  }

  clear() {
    this.markers.forEach((marker) => marker.remove());
    this.markers.clear();
  }

  has(id) { return this.markers.has(id); }
  ids() { return [...this.markers.keys()]; }
  latLngs() { return [...this.markers.values()].map((m) => m.getLatLng()); }
}

/** A single marker (the pickup, my car): MarkerSet with one anonymous member. */
export class OneMarker {
  constructor(map, testid, kind) {
    this.set_ = new MarkerSet(map, testid);
    this.kind = kind;
  }

  set(lat, lng, options = {}) { return this.set_.set("", lat, lng, { kind: this.kind, ...options }); }
  clear() { this.set_.clear(); }
  get latLng() { const m = this.set_.markers.get(""); return m ? m.getLatLng() : null; }
}

/** Lines by id (a ride's pickup → drop-off). */
export class LineSet {
  constructor(map, style) {
    this.map = map;
    this.style = style;
    this.lines = new Map();
  }

  set(id, points) {
    const line = this.lines.get(id);
    if (line) line.setLatLngs(points);
    else this.lines.set(id, L.polyline(points, this.style).addTo(this.map));
  }

  remove(id) {
    const line = this.lines.get(id);
    if (line) line.remove();
    this.lines.delete(id);
  }

  clear() { [...this.lines.keys()].forEach((id) => this.remove(id)); }
}

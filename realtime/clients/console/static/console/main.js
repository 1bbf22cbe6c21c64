// Tabs: #ops, #passenger, #driver. A pane starts (map, login restore) the first time it is shown,
// and its map is resized when shown again (Leaflet cannot measure a hidden element).

import * as ops from "./ops.js";
import * as passenger from "./passenger.js";
import * as driver from "./driver.js";

const panes = { ops, passenger, driver };
const started = {};

function show() {
  const name = window.location.hash.slice(1) in panes ? window.location.hash.slice(1) : "ops";
  document.querySelectorAll("[data-pane]").forEach((el) => { el.hidden = el.dataset.pane !== name; });
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.hash === `#${name}`));
  if (!started[name]) started[name] = panes[name].init();
  started[name].shown();
}

window.addEventListener("hashchange", show);
show();

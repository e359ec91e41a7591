/* mlmon live dashboard: plain JS, no build step. Data shapes: mlmon_reporting/api_shapes.py. */
"use strict";

const API = "/v1";
const COLORS = ["#2563eb", "#7c3aed", "#0891b2", "#ea580c"];
const SEVERITY = { 1: "critical", 2: "warning", 3: "info" };
// Used when the service does not serve /v1/models/{id}/dashboard (same panels as dashboard.py).
const DEFAULT_PANELS = [
  { id: "accuracy", title: "Accuracy", type: "timeseries", unit: "ratio", series: ["accuracy"] },
  { id: "latency", title: "Latency", type: "timeseries", unit: "s", series: ["latency_p50_s", "latency_p95_s", "latency_p99_s"] },
  { id: "error_rate", title: "Error rate", type: "timeseries", unit: "ratio", series: ["error_rate"] },
  { id: "throughput", title: "Throughput", type: "timeseries", unit: "req/s", series: ["throughput_per_s"] },
  { id: "cpu", title: "CPU", type: "timeseries", unit: "%", series: ["resource.cpu_percent", "cpu_percent"] },
  { id: "memory", title: "Memory", type: "timeseries", unit: "%", series: ["resource.memory_percent", "memory_percent"] },
  { id: "disk", title: "Disk", type: "timeseries", unit: "%", series: ["resource.disk_percent", "disk_percent"] },
  { id: "data_drift", title: "Data drift (share of features)", type: "timeseries", unit: "ratio", series: ["data_drift"] },
  { id: "model_drift", title: "Model drift", type: "timeseries", unit: "ratio", series: ["model_drift"] },
];

const state = { route: null, modelId: null, timeframe: "24h", metrics: null, charts: {}, alerts: new Map(), models: new Map() };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (typeof x !== "number") return String(x);
  return Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(3)).toString();
}

function fmtTime(iso) {
  const d = typeof iso === "number" ? new Date(iso * 1000) : new Date(iso);
  return d.toISOString().replace("T", " ").slice(5, 16) + " UTC";
}

async function getJSON(path) {
  const res = await fetch(API + path, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function showError(err) {
  const box = $("error");
  box.hidden = !err;
  box.textContent = err ? String(err.message || err) : "";
}

/* ---------- fleet overview ---------- */

async function loadFleet() {
  const [models, alerts] = await Promise.all([getJSON("/models"), getJSON("/alerts")]);
  state.models = new Map(models.models.map((m) => [m.model_id, m]));
  state.alerts = new Map(alerts.alerts.map((a) => [a.fingerprint, a]));
  renderFleet();
  renderAlerts($("fleet-alerts"), null);
}

function renderFleet() {
  const box = $("fleet");
  box.replaceChildren();
  for (const m of [...state.models.values()].sort((a, b) => a.model_id.localeCompare(b.model_id))) {
    const dl = el("dl");
    for (const [k, v] of Object.entries(m.key_metrics || {})) dl.append(el("dt", {}, k), el("dd", {}, fmt(v)));
    dl.append(el("dt", {}, "firing alerts"), el("dd", {}, m.firing_alerts));
    const card = el(
      "div",
      { class: `card ${m.status}`, "data-model": m.model_id, onclick: () => (location.hash = `#/model/${encodeURIComponent(m.model_id)}`) },
      el("h4", {}, m.model_id, el("span", { class: `status ${m.status}` }, m.status)),
      dl,
    );
    if (m.breaches && m.breaches.length) card.append(el("div", { class: "muted" }, m.breaches.join(", ")));
    box.append(card);
  }
  if (!state.models.size) box.append(el("p", { class: "muted" }, "No model has reported yet."));
}

/* ---------- alerts (fleet and per model) ---------- */

function renderAlerts(list, modelId, highlight) {
  list.replaceChildren();
  const items = [...state.alerts.values()]
    .filter((a) => !modelId || a.model_id === modelId)
    .sort((a, b) => String(b.starts_at).localeCompare(String(a.starts_at)));
  for (const a of items.slice(0, 200)) {
    const sev = SEVERITY[a.severity] || a.severity;
    const tags = el("span", {}, el("span", { class: `tag ${a.status}` }, a.status));
    if (a.silenced) tags.append(el("span", { class: "tag silenced", title: a.silenced_until || "" }, "silenced"));
    if (a.acknowledged_by) tags.append(el("span", { class: "tag acked" }, `ack: ${a.acknowledged_by}`));
    const span = a.ends_at ? `${fmtTime(a.starts_at)} → ${fmtTime(a.ends_at)}` : `${fmtTime(a.starts_at)} → now`;
    const li = el(
      "li",
      { "data-fingerprint": a.fingerprint, class: a.fingerprint === highlight ? "new" : "" },
      el("span", { class: "muted" }, span),
      el("span", { class: `sev ${sev}` }, sev),
      el("span", {}, `${a.model_id}: ${a.alertname}`, a.summary ? el("span", { class: "muted" }, ` – ${a.summary}`) : ""),
      tags,
    );
    list.append(li);
  }
  if (!items.length) list.append(el("li", { class: "muted empty" }, "No alerts."));
}

function alertViewFromEvent(ev) {
  const old = state.alerts.get(ev.fingerprint) || {};
  return {
    ...old,
    fingerprint: ev.fingerprint,
    model_id: ev.model_id,
    alertname: ev.alertname,
    status: ev.status,
    severity: ev.severity,
    summary: (ev.annotations && ev.annotations.summary) || old.summary || "",
    labels: ev.labels,
    starts_at: ev.starts_at,
    ends_at: ev.ends_at,
    value: ev.value,
    acknowledged_by: ev.acknowledged_by || old.acknowledged_by || null,
  };
}

/* ---------- model page ---------- */

async function loadModel(modelId) {
  const tf = state.timeframe;
  const id = encodeURIComponent(modelId);
  const [metrics, dashboard, drift, history, alerts] = await Promise.all([
    getJSON(`/models/${id}/metrics?timeframe=${tf}`),
    getJSON(`/models/${id}/dashboard?timeframe=${tf}`).catch(() => null),
    getJSON(`/models/${id}/drift?timeframe=${tf}`).catch(() => null),
    getJSON(`/models/${id}/history`).catch(() => ({ items: [] })),
    getJSON(`/alerts?model_id=${id}`),
  ]);
  state.metrics = metrics;
  for (const a of alerts.alerts) state.alerts.set(a.fingerprint, a);
  $("model-title").textContent = `${modelId} · last ${tf}`;
  renderHealth(metrics);
  renderPanels(metrics, dashboard ? dashboard.panels.filter((p) => p.type === "timeseries") : DEFAULT_PANELS);
  renderHeatmap(drift);
  renderAlerts($("model-alerts"), modelId);
  renderHistory(history.items || []);
}

function renderHealth(metrics) {
  const box = $("health");
  box.replaceChildren();
  for (const [name, s] of Object.entries(metrics.summary)) {
    if (!s) continue;
    box.append(el("div", { class: `stat${s.breached ? " breached" : ""}`, "data-metric": name }, name, el("b", {}, fmt(s.last)), el("span", { class: "muted" }, s.threshold !== null && s.threshold !== undefined ? `${s.direction} ${fmt(s.threshold)}` : "")));
  }
}

function thresholdFor(metrics, panel) {
  if (panel.thresholds && panel.thresholds.length) return panel.thresholds[0];
  return metrics.thresholds.find((t) => panel.series.includes(t.series)) || null;
}

function renderPanels(metrics, panels) {
  for (const c of Object.values(state.charts)) c.plot.destroy();
  state.charts = {};
  const box = $("panels");
  box.replaceChildren();
  for (const panel of panels) {
    const names = panel.series.filter((s) => metrics.series[s]);
    if (!names.length) continue;
    const div = el("div", { class: "panel", "data-panel": panel.id }, el("h4", {}, `${panel.title} (${panel.unit})`));
    box.append(div);
    const threshold = thresholdFor(metrics, panel);
    state.charts[panel.id] = { names, threshold, plot: makePlot(div, names, threshold, metrics) };
  }
}

function chartData(names, threshold, metrics) {
  const t = metrics.series[names[0]].t;
  const cols = names.map((n) => align(t, metrics.series[n]));
  if (threshold) cols.push(t.map(() => threshold.value));
  return [t, ...cols];
}

function align(t, series) {
  const byT = new Map(series.t.map((x, i) => [x, series.mean[i]]));
  return t.map((x) => (byT.has(x) ? byT.get(x) : null));
}

function makePlot(div, names, threshold, metrics) {
  const series = [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))];
  if (threshold) series.push({ label: threshold.label, stroke: "#dc2626", dash: [6, 4], width: 1, points: { show: false } });
  const width = Math.max(300, div.clientWidth - 10);
  return new uPlot({ width, height: 200, series, scales: { x: { time: true } }, legend: { live: false } }, chartData(names, threshold, metrics), div);
}

function renderHeatmap(drift) {
  const box = $("heatmap");
  box.replaceChildren();
  if (!drift || !drift.features.length) {
    box.append(el("p", { class: "muted" }, "No per-feature drift scores in this timeframe."));
    return;
  }
  const table = el("table");
  drift.features.forEach((feature, i) => {
    const row = el("tr", {}, el("th", {}, feature));
    drift.scores[i].forEach((score, j) => {
      const td = el("td", { title: `${feature} ${fmtTime(drift.t[j])}: ${fmt(score)}` });
      td.style.background = score === null ? "#f1f5f9" : heat(score);
      row.append(td);
    });
    table.append(row);
  });
  box.append(table);
}

function heat(score) {
  const x = Math.max(0, Math.min(1, score));
  return `hsl(${Math.round(120 - 120 * x)}, 75%, ${Math.round(85 - 35 * x)}%)`;
}

function renderHistory(items) {
  const list = $("history");
  list.replaceChildren();
  for (const h of items) {
    list.append(el("li", {}, el("span", { class: "muted" }, fmtTime(h.at)), el("span", {}, h.state), el("span", {}, `${h.plan_id}: ${h.actions.join(", ")}${h.reason ? " – " + h.reason : ""}`), el("span", { class: "muted" }, h.actor || "")));
  }
  if (!items.length) list.append(el("li", { class: "muted empty" }, "No maintenance recorded."));
}

/* ---------- live updates (SSE) ---------- */

function appendPoint(seriesName, ts, value) {
  const m = state.metrics;
  if (!m) return;
  const s = m.series[seriesName] || (m.series[seriesName] = { t: [], mean: [], min: [], max: [], last: [] });
  const bucket = Math.floor(ts / m.resolution_s) * m.resolution_s;
  const i = s.t.length - 1;
  if (i >= 0 && s.t[i] === bucket) {
    s.mean[i] = value;
    s.last[i] = value;
  } else if (i < 0 || s.t[i] < bucket) {
    s.t.push(bucket);
    for (const k of ["mean", "min", "max", "last"]) s[k].push(value);
  }
  for (const chart of Object.values(state.charts)) {
    if (chart.names.includes(seriesName)) chart.plot.setData(chartData(chart.names, chart.threshold, m));
  }
}

const LIVE = {
  metrics(ev) {
    const ts = Date.parse(ev.window_start) / 1000;
    for (const [k, v] of Object.entries(ev.values)) appendPoint(k, ts, v);
  },
  resource(ev) {
    const ts = Date.parse(ev.occurred_at) / 1000;
    for (const k of ["cpu_percent", "memory_percent", "disk_percent"]) if (ev[k] !== null && ev[k] !== undefined) appendPoint(`resource.${k}`, ts, ev[k]);
  },
  drift(ev) {
    const name = ev.kind === "feature" ? `feature_drift.${ev.feature}` : `${ev.kind}_drift`;
    appendPoint(name, Date.parse(ev.occurred_at) / 1000, ev.score);
  },
  alert(ev) {
    state.alerts.set(ev.fingerprint, alertViewFromEvent(ev));
    const model = state.models.get(ev.model_id);
    if (model) {
      const firing = [...state.alerts.values()].filter((a) => a.model_id === ev.model_id && a.status === "firing");
      model.firing_alerts = firing.length;
      if (firing.some((a) => a.severity === 1)) model.status = "critical";
      else if (firing.length && model.status === "healthy") model.status = "degraded";
      renderFleet();
    } else if (!state.modelId) {
      loadFleet().catch(showError);
    }
    renderAlerts($("fleet-alerts"), null, ev.fingerprint);
    if (state.modelId) renderAlerts($("model-alerts"), state.modelId, ev.fingerprint);
  },
  maintenance(ev) {
    if (state.modelId === ev.model_id) loadModel(state.modelId).catch(showError);
  },
};

function connectStream() {
  if (!window.EventSource) return;
  const source = new EventSource(`${API}/stream`);
  const live = $("live");
  source.onopen = () => { live.className = "live on"; live.textContent = "live"; };
  source.onerror = () => { live.className = "live off"; live.textContent = "reconnecting"; };
  for (const [type, handle] of Object.entries(LIVE)) {
    source.addEventListener(type, (msg) => {
      let ev;
      try { ev = JSON.parse(msg.data); } catch (err) { console.warn("bad SSE payload", err); return; }
      if (type !== "alert" && state.modelId && ev.model_id !== state.modelId) return;
      handle(ev);
    });
  }
}

/* ---------- routing ---------- */

async function route() {
  const match = location.hash.match(/^#\/model\/(.+)$/);
  state.modelId = match ? decodeURIComponent(match[1]) : null;
  $("fleet-view").hidden = !!state.modelId;
  $("model-view").hidden = !state.modelId;
  const crumbs = $("crumbs");
  crumbs.replaceChildren(el("a", { href: "#/" }, "fleet"));
  if (state.modelId) crumbs.append(" / ", state.modelId);
  showError(null);
  try {
    if (state.modelId) await loadModel(state.modelId);
    else await loadFleet();
  } catch (err) {
    showError(err);
  }
}

window.addEventListener("hashchange", route);
$("timeframe").addEventListener("change", (e) => { state.timeframe = e.target.value; route(); });
window.addEventListener("resize", () => {
  for (const c of Object.values(state.charts)) c.plot.setSize({ width: Math.max(300, c.plot.root.parentNode.clientWidth - 10), height: 200 });
});
connectStream();
route();

// The machine page: waveform (min/max per pixel from /machines/{name}/waveform, re-queried on
// zoom), the spectrum of a window with shaft-order markers, and the engine's feature trends.
// The view (sensor, channel, range, window) lives in the URL, so back and forward work.
"use strict";

(() => {
  const page = document.getElementById("machine-page");
  if (!page || !window.Chart) return;
  const words = page.dataset;
  const name = page.dataset.machine;
  const path = "/machines/" + encodeURIComponent(name);
  const windowSeconds = parseFloat(page.dataset.window) || 1;
  // The spectrum up to the 12th order of a known shaft speed, else to 1 kHz.
  const rpm = parseFloat(page.dataset.rpm);
  const spectrumMaxHz = rpm > 0 ? String(Math.round((rpm / 60) * 12)) : "1000";
  const first = page.dataset.first ? Date.parse(page.dataset.first) : null;
  // The newest sample's time, from the facts that live updates refresh.
  const latest = () => {
    const el = document.querySelector("time[data-last-data]");
    return el ? Date.parse(el.getAttribute("datetime")) : null;
  };

  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, sans-serif";
  const timeTick = (value) => {
    const d = new Date(value);
    return d.toLocaleTimeString(document.documentElement.lang || undefined, { hour12: false }) +
      (d.getMilliseconds() ? "." + String(d.getMilliseconds()).padStart(3, "0") : "");
  };

  // The view state, read from the URL.
  const view = () => {
    const q = new URLSearchParams(location.search);
    return {
      sensor: q.get("sensor_no") || page.dataset.sensor,
      channel: q.get("channel") || page.dataset.channel,
      from: q.get("from"),
      to: q.get("to"),
      at: q.get("at"),
      span: parseFloat(q.get("span")) || 10,
    };
  };

  // The first and last instants of one sensor's data ({from, to} in ms, null when it has none or
  // they cannot be read): the default range follows the selected sensor, whose data may end before
  // the machine's, and samples stamped with an upload's wall clock lie where their recording puts them.
  const sensorSpan = async (sensor) => {
    try {
      const at = iso(latest() ?? Date.now());
      const q = new URLSearchParams({ sensor_no: sensor, from: at, to: at, points: "10" });
      const response = await fetch(`${path}/waveform?${q}`, { headers: { Accept: "application/json" } });
      if (!response.ok) return null;
      const body = await response.json();
      return body.data_to ? { from: Date.parse(body.data_from), to: Date.parse(body.data_to) } : null;
    } catch {
      return null;
    }
  };

  // The range drawn: explicit from/to; around `at`; or the latest `span` seconds of the sensor's data.
  const range = (v, sensorEnd) => {
    if (v.from && v.to) return [Date.parse(v.from), Date.parse(v.to)];
    if (v.at) {
      const at = Date.parse(v.at);
      return [at - 30_000, at + 30_000];
    }
    const end = sensorEnd ?? latest() ?? Date.now();
    return [end - v.span * 1000, end];
  };

  const navigate = (changes) => {
    const q = new URLSearchParams(location.search);
    for (const [k, val] of Object.entries(changes)) {
      if (val === null || val === undefined) q.delete(k);
      else q.set(k, val);
    }
    history.pushState(null, "", "?" + q.toString());
    draw();
  };

  const iso = (ms) => new Date(ms).toISOString();

  // Waveform: the max and min of each bucket as two lines with the band between them filled.
  const waveform = new Chart(document.getElementById("waveform"), {
    type: "line",
    data: { datasets: [
      { label: "max", data: [], borderColor: "#2e5cb8", backgroundColor: "rgba(46,92,184,.25)", borderWidth: 1, pointRadius: 0, fill: "+1" },
      { label: "min", data: [], borderColor: "#2e5cb8", borderWidth: 1, pointRadius: 0, fill: false },
    ] },
    options: {
      parsing: false, normalized: true, maintainAspectRatio: false, interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: { x: { type: "linear", ticks: { callback: timeTick, maxTicksLimit: 8 } }, y: { title: { display: true, text: "g" } } },
      plugins: { legend: { display: false }, tooltip: { callbacks: {
        title: (items) => items.length ? himmes.formatTime(new Date(items[0].parsed.x)) : "",
        label: (item) => `${item.dataset.label} ${item.parsed.y.toFixed(4)} g`,
      } } },
    },
  });

  const spectrumMarkers = {
    id: "orders",
    afterDatasetsDraw(chart) {
      const markers = chart.options.plugins.orders.markers || [];
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      ctx.font = "11px system-ui, sans-serif";
      for (const m of markers) {
        const x = scales.x.getPixelForValue(m.hz);
        if (x < chartArea.left || x > chartArea.right) continue;
        ctx.strokeStyle = m.label === "1X" ? "#b3261e" : "#b36200";
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.fillStyle = ctx.strokeStyle;
        ctx.fillText(m.label, x + 3, chartArea.top + 12);
      }
      ctx.restore();
    },
  };
  const spectrum = new Chart(document.getElementById("spectrum"), {
    type: "line",
    data: { datasets: [{ label: "g", data: [], borderColor: "#1d2430", borderWidth: 1, pointRadius: 0 }] },
    options: {
      parsing: false, maintainAspectRatio: false, interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: { x: { type: "linear", title: { display: true, text: "Hz" } }, y: { title: { display: true, text: "g" }, beginAtZero: true } },
      plugins: { legend: { display: false }, orders: { markers: [] }, tooltip: { callbacks: {
        title: (items) => items.length ? items[0].parsed.x.toFixed(1) + " Hz" : "",
        label: (item) => item.parsed.y.toFixed(4) + " g",
      } } },
    },
    plugins: [spectrumMarkers],
  });

  const trends = new Chart(document.getElementById("trends"), {
    type: "line",
    data: { datasets: [
      { label: "RMS (g)", data: [], borderColor: "#2e5cb8", pointRadius: 0, borderWidth: 1.5, yAxisID: "y" },
      { label: "velocity RMS (mm/s)", data: [], borderColor: "#1b7f3b", pointRadius: 0, borderWidth: 1.5, yAxisID: "y" },
      { label: "crest factor", data: [], borderColor: "#b36200", pointRadius: 0, borderWidth: 1.5, yAxisID: "y1" },
    ] },
    options: {
      parsing: false, maintainAspectRatio: false, interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: { type: "linear", ticks: { callback: timeTick, maxTicksLimit: 6 } },
        y: { beginAtZero: true, position: "left" },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } },
      },
      plugins: { tooltip: { callbacks: { title: (items) => items.length ? himmes.formatTime(new Date(items[0].parsed.x)) : "" } } },
    },
  });

  const count = (chart) => chart.data.datasets.reduce((n, d) => n + d.data.length, 0);
  const mark = (chart) => {
    chart.canvas.dataset.points = String(count(chart));
  };

  const note = (id, text) => {
    document.getElementById(id).textContent = text;
  };

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((body && body.detail) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  let drawing = 0;
  async function draw() {
    const ticket = ++drawing;
    const v = view();
    const span = (v.from && v.to) || v.at ? null : await sensorSpan(v.sensor);
    const sensorEnd = span ? span.to : null;
    if (ticket !== drawing) return;
    const [from, to] = range(v, sensorEnd);
    const points = Math.max(100, Math.min(4000, Math.round(waveform.canvas.clientWidth)));
    const q = new URLSearchParams({ sensor_no: v.sensor, channel: v.channel, from: iso(from), to: iso(to), points: String(points) });
    const at = v.at ? Date.parse(v.at) : Math.max(from, to - windowSeconds * 1000);
    const sq = new URLSearchParams({ sensor_no: v.sensor, channel: v.channel, at: iso(at), max_hz: spectrumMaxHz, points: "2000" });
    const tq = new URLSearchParams({ limit: "1000" });
    if (v.from || v.at) {
      tq.set("from", iso(from - 3_600_000));
      tq.set("to", iso(to + 3_600_000));
    }
    const [wave, spec, feat] = await Promise.allSettled([
      getJSON(`${path}/waveform?${q}`), getJSON(`${path}/spectrum?${sq}`), getJSON(`${path}/features?${tq}`),
    ]);
    if (ticket !== drawing) return;

    if (wave.status === "fulfilled") {
      const buckets = wave.value.buckets;
      waveform.data.datasets[0].data = buckets.map((b) => ({ x: Date.parse(b.t), y: b.max }));
      waveform.data.datasets[1].data = buckets.map((b) => ({ x: Date.parse(b.t), y: b.min }));
      waveform.options.scales.x.min = from;
      waveform.options.scales.x.max = to;
      // Drawn from the stored summary: say how wide its buckets are (zooming in brings every sample).
      const per = wave.value.summary_seconds;
      const drawnFrom = per == null ? "" : ` · ${words.wordSummary} ${per >= 1 ? `${per} s` : `${Math.round(per * 1000)} ms`}`;
      note("waveform-note", buckets.length
        ? `${wave.value.samples.toLocaleString()} ${words.wordSamples}${drawnFrom} · ${himmes.formatTime(new Date(from))} – ${himmes.formatTime(new Date(to))} · ${words.wordDrag}`
        : words.wordNodata);
    } else {
      waveform.data.datasets.forEach((d) => (d.data = []));
      note("waveform-note", wave.reason.message);
    }
    waveform.update();
    mark(waveform);

    if (spec.status === "fulfilled") {
      const s = spec.value;
      spectrum.data.datasets[0].data = s.bins.map((b) => ({ x: b.hz, y: b.amplitude }));
      spectrum.options.plugins.orders.markers = s.markers;
      const d = s.diagnosis;
      note("spectrum-note",
        `${himmes.formatTime(new Date(s.window_start))} · ${s.samples} ${words.wordSamples} · ${s.sample_rate_hz.toFixed(0)} Hz · ` +
        `1X ${s.markers[1].hz.toFixed(2)} Hz (${d.shaft_source}) · ${d.fault_name} (${Math.round(d.confidence * 100)}%) · ` +
        `ISO ${d.severity_zone}, ${d.velocity_rms_mm_s.toFixed(2)} mm/s`);
    } else {
      spectrum.data.datasets[0].data = [];
      spectrum.options.plugins.orders.markers = [];
      // A window without enough samples is the page's to explain, in its language.
      note("spectrum-note", spec.reason.status === 422 ? words.wordNospectrum : spec.reason.message);
    }
    spectrum.update();
    mark(spectrum);

    if (feat.status === "fulfilled") {
      const items = feat.value.items;
      trends.data.datasets[0].data = items.map((p) => ({ x: Date.parse(p.t), y: p.rms }));
      trends.data.datasets[1].data = items.map((p) => ({ x: Date.parse(p.t), y: p.velocity_rms_mm_s }));
      trends.data.datasets[2].data = items.map((p) => ({ x: Date.parse(p.t), y: p.crest_factor }));
      note("trends-note", items.length ? "" : words.wordNodata);
    } else {
      trends.data.datasets.forEach((d) => (d.data = []));
      note("trends-note", feat.reason.message);
    }
    trends.update();
    mark(trends);
    page.dataset.drawn = String(Number(page.dataset.drawn || 0) + 1);
  }

  // Drag across the waveform to zoom in; a click picks the window of the spectrum.
  const canvas = waveform.canvas;
  const selection = canvas.parentElement.querySelector(".selection");
  let dragStart = null;
  canvas.addEventListener("mousedown", (e) => {
    dragStart = e.offsetX;
  });
  canvas.addEventListener("mousemove", (e) => {
    if (dragStart === null) return;
    selection.hidden = false;
    selection.style.left = Math.min(dragStart, e.offsetX) + "px";
    selection.style.width = Math.abs(e.offsetX - dragStart) + "px";
  });
  window.addEventListener("mouseup", (e) => {
    if (dragStart === null) return;
    const x = e.target === canvas ? e.offsetX : dragStart;
    const a = waveform.scales.x.getValueForPixel(Math.min(dragStart, x));
    const b = waveform.scales.x.getValueForPixel(Math.max(dragStart, x));
    selection.hidden = true;
    const moved = Math.abs(x - dragStart);
    dragStart = null;
    if (moved > 5) navigate({ from: iso(a), to: iso(b), at: null, span: null });
    else {
      const v = view();
      const [from, to] = range(v);
      // Keep the range as it is shown while the spectrum moves.
      navigate({ from: iso(from), to: iso(to), at: iso(a) });
    }
  });

  for (const link of document.querySelectorAll("[data-span]")) {
    link.addEventListener("click", (e) => {
      e.preventDefault();
      if (link.dataset.span === "all") {
        sensorSpan(view().sensor).then((span) => {
          if (span) navigate({ from: iso(span.from), to: iso(span.to), at: null, span: null });
          else if (first !== null && latest() !== null) navigate({ from: iso(first), to: iso(latest()), at: null, span: null });
        });
      } else {
        navigate({ from: null, to: null, at: null, span: link.dataset.span });
      }
    });
  }

  window.addEventListener("popstate", draw);
  // New data: follow it when the view is the latest data, and refresh the trends.
  document.addEventListener("himmes:refresh", () => {
    const v = view();
    if (!v.from && !v.to && !v.at) draw();
  });
  draw();
})();

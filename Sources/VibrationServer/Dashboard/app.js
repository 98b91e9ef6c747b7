// Shared by every page: local times, tooltips, and live updates from /events.
"use strict";

const himmes = (window.himmes = window.himmes || {});

// Times arrive in UTC; show them in the viewer's own time zone, keeping UTC in the tooltip.
himmes.formatTime = (d) =>
  d.toLocaleString(document.documentElement.lang || undefined, { hour12: false }) +
  (d.getMilliseconds() ? "." + String(d.getMilliseconds()).padStart(3, "0") : "");

himmes.formatDuration = (ms) => {
  const s = Math.round(ms / 1000);
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + (s % 60) + " s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + " h " + (m % 60) + " min";
  return Math.floor(h / 24) + " d " + (h % 24) + " h";
};

himmes.localizeTimes = (root) => {
  const lang = document.documentElement.lang || undefined;
  for (const el of root.querySelectorAll("time[datetime]")) {
    const d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d)) {
      el.dataset.tip = el.getAttribute("datetime") + " (UTC)";
      // Axis labels stay short: the time of day, with the date only where the day changes.
      const axis = el.closest(".ticks");
      if (axis) {
        const previous = el.previousElementSibling && new Date(el.previousElementSibling.getAttribute("datetime"));
        const sameDay = previous && previous.toDateString() === d.toDateString();
        el.textContent = d.toLocaleString(lang, sameDay
          ? { hour: "2-digit", minute: "2-digit", hour12: false }
          : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
      } else {
        el.textContent = himmes.formatTime(d);
      }
    }
  }
};

// One tooltip element for the whole page. Any element with data-tip (or a title, which is moved
// into data-tip so that the browser's own tooltip does not double it) shows it on hover or focus.
const tip = document.createElement("div");
tip.id = "tooltip";
tip.setAttribute("role", "tooltip");
tip.hidden = true;
document.body.appendChild(tip);

himmes.adoptTitles = (root) => {
  for (const el of root.querySelectorAll("[title]")) {
    el.dataset.tip = el.getAttribute("title");
    el.removeAttribute("title");
  }
};

himmes.showTip = (target, html, x, y) => {
  tip.innerHTML = html;
  tip.hidden = false;
  const box = tip.getBoundingClientRect();
  const left = Math.min(window.innerWidth - box.width - 8, Math.max(8, x + 12));
  const top = y + 18 + box.height > window.innerHeight ? y - box.height - 12 : y + 18;
  tip.style.left = left + window.scrollX + "px";
  tip.style.top = top + window.scrollY + "px";
  tip.owner = target;
};

himmes.hideTip = () => {
  tip.hidden = true;
  tip.owner = null;
};

himmes.escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// Pages may describe some elements richer than a fixed text (the timeline's bands do).
himmes.tipContent = [];

document.addEventListener("mouseover", (event) => {
  for (const describe of himmes.tipContent) {
    const html = describe(event.target);
    if (html) return himmes.showTip(event.target, html, event.clientX, event.clientY);
  }
  const owner = event.target.closest && event.target.closest("[data-tip]");
  if (owner) {
    himmes.showTip(owner, himmes.escape(owner.dataset.tip), event.clientX, event.clientY);
  } else if (tip.owner) {
    himmes.hideTip();
  }
});
document.addEventListener("focusin", (event) => {
  const owner = event.target.closest && event.target.closest("[data-tip]");
  if (owner) {
    const box = owner.getBoundingClientRect();
    himmes.showTip(owner, himmes.escape(owner.dataset.tip), box.left, box.bottom - 10);
  }
});
document.addEventListener("focusout", himmes.hideTip);

himmes.prepare = (root) => {
  himmes.adoptTitles(root);
  himmes.localizeTimes(root);
};
himmes.prepare(document);

// Live updates: the server says what changed; the page fetches itself again and swaps the parts
// marked data-live, at most once a second, so that filters and scroll position stay as they are.
// The browser's EventSource reconnects by itself when the stream ends or the server restarts.
himmes.refreshing = false;
himmes.refreshAgain = false;
himmes.refresh = async () => {
  if (himmes.refreshing) {
    himmes.refreshAgain = true;
    return;
  }
  himmes.refreshing = true;
  try {
    const live = document.querySelectorAll("[data-live][id]");
    if (live.length) {
      const response = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const el of live) {
          const replacement = fresh.getElementById(el.id);
          if (replacement && replacement.innerHTML !== el.innerHTML) {
            el.innerHTML = replacement.innerHTML;
            himmes.prepare(el);
          }
        }
      }
    }
    document.dispatchEvent(new CustomEvent("himmes:refresh"));
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (e) {
    // The next event tries again.
  } finally {
    setTimeout(() => {
      himmes.refreshing = false;
      if (himmes.refreshAgain) {
        himmes.refreshAgain = false;
        himmes.refresh();
      }
    }, 1000);
  }
};

// What the server has announced so far, in order.
himmes.received = [];
if (window.EventSource) {
  const badge = document.getElementById("live");
  const events = new EventSource("/events");
  events.onopen = () => {
    if (badge) {
      badge.textContent = badge.dataset.on;
      badge.classList.add("on");
    }
  };
  events.onerror = () => {
    if (badge) {
      badge.textContent = badge.dataset.off;
      badge.classList.remove("on");
    }
  };
  for (const kind of ["data", "diagnosis", "alarm"]) {
    events.addEventListener(kind, () => {
      himmes.received.push(kind);
      himmes.refresh();
    });
  }
}

// The timeline's bands: state, start, end, duration and count at once, the evidence once fetched.
const timeline = document.getElementById("timeline");
if (timeline) {
  const words = timeline.dataset;
  const evidence = new Map();
  const describe = (band) => {
    const start = new Date(band.dataset.start);
    const end = new Date(band.dataset.end);
    let html =
      `<strong>${himmes.escape(band.dataset.state)}</strong><br>` +
      `${himmes.escape(words.wordStart)}: ${himmes.formatTime(start)}<br>` +
      `${himmes.escape(words.wordEnd)}: ${himmes.formatTime(end)}<br>` +
      `${himmes.escape(words.wordDuration)}: ${himmes.formatDuration(end - start)} · ${band.dataset.count} ${himmes.escape(words.wordDiagnoses)}`;
    const found = evidence.get(band.dataset.diagnosis);
    if (found && found.length) {
      html += `<br><em>${himmes.escape(words.wordEvidence)}</em><ul>` + found.map((e) => `<li>${himmes.escape(e)}</li>`).join("") + "</ul>";
    }
    return html + `<br><small>${himmes.escape(words.wordOpen)}</small>`;
  };
  himmes.tipContent.push((target) => {
    const band = target.closest && target.closest(".band");
    if (!band || !timeline.contains(band)) return null;
    const id = band.dataset.diagnosis;
    if (!evidence.has(id)) {
      evidence.set(id, null);
      fetch(`/vibration-diagnosis/${id}`)
        .then((r) => (r.ok ? r.json() : null))
        .then((d) => {
          const items = (d && d.engine && d.engine.evidence) || [];
          evidence.set(
            id,
            items
              .filter((e) => e.exceeded)
              .map((e) => `${e.feature} ${e.value.toFixed(3)} (${e.unit === "ratio" ? "typical" : "against"} ${+e.threshold.toFixed(3)} ${e.unit}): ${e.meaning}`),
          );
          if (tip.owner === band) himmes.showTip(band, describe(band), parseFloat(tip.style.left) - window.scrollX - 12, parseFloat(tip.style.top) - window.scrollY - 18);
        })
        .catch(() => {});
    }
    return describe(band);
  });
}

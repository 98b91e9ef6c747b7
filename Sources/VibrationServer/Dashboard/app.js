// Times arrive in UTC; show them in the viewer's own time zone, keeping UTC in the tooltip.
for (const el of document.querySelectorAll("time[datetime]")) {
  const d = new Date(el.getAttribute("datetime"));
  if (!isNaN(d)) {
    el.title = el.getAttribute("datetime") + " (UTC)";
    el.textContent = d.toLocaleString(document.documentElement.lang || undefined, { hour12: false }) +
      (d.getMilliseconds() ? "." + String(d.getMilliseconds()).padStart(3, "0") : "");
  }
}

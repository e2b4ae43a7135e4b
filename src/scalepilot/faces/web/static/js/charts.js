// uPlot charts (the vendored global `uPlot`) with the scaling decisions drawn as
// vertical markers on the time axis; a cursor near a marker shows its reason.

import { h } from "./dom.js";
import * as fmt from "./format.js";
import { locale, t, tOr } from "./i18n.js";

const HEIGHT = 190;
const NEAR_PX = 8;
const MAX_TIPS = 3;

function css(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function palette() {
  return {
    text: css("--muted", "#667"),
    grid: css("--grid", "rgba(128,128,128,.15)"),
    marker: css("--marker", "#d97706"),
    series: [1, 2, 3, 4].map((i) => css(`--chart-${i}`, "#1f6feb")),
  };
}

function timeFormatter(rangeSeconds) {
  const long = rangeSeconds > 36 * 3600;
  return (u, splits) => splits.map((s) => (s === null ? "" : fmt.dateTime(s * 1000, { seconds: false, date: long })));
}

function yRange(min, max, integer, emptyMax) {
  const lo = Math.min(0, min ?? 0);
  let hi = max ?? 0;
  if (!(hi > lo)) hi = lo + emptyMax;
  else hi = integer ? Math.ceil(hi) + 1 : hi * 1.1;
  return [lo, hi];
}

/** Tick steps that are round numbers once multiplied by ``scale`` (ms, %, MiB). */
function niceIncrs(scale, integer) {
  const out = [];
  for (let k = integer ? 0 : -6; k <= 12; k += 1) for (const m of [1, 2, 2.5, 5]) if (!(integer && m === 2.5)) out.push((m * 10 ** k) / scale);
  return out;
}

/** Axis tick text with as many decimals as the tick increment needs. */
export function tickFormat(scale = 1) {
  const format = (v, incr) => {
    const step = (incr || 1) * scale;
    let digits = 0;
    while (digits < 6 && Math.abs(Math.round(step * 10 ** digits) - step * 10 ** digits) > 1e-6 * 10 ** digits) digits += 1;
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(v * scale);
  };
  format.scale = scale;
  return format;
}

function decisionsPlugin(decisions, tip) {
  let marks = [];
  return {
    hooks: {
      draw: (u) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        const color = palette().marker;
        marks = [];
        ctx.save();
        ctx.lineWidth = Math.max(1, devicePixelRatio);
        ctx.strokeStyle = color;
        ctx.fillStyle = color;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        for (const d of decisions) {
          const x = u.valToPos(d.timestamp_ms / 1000, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          marks.push({ x: x / devicePixelRatio - u.bbox.left / devicePixelRatio, d });
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          ctx.beginPath();
          const s = 4 * devicePixelRatio;
          ctx.moveTo(x - s, top);
          ctx.lineTo(x + s, top);
          ctx.lineTo(x, top + s * 1.5);
          ctx.closePath();
          ctx.fill();
        }
        ctx.restore();
        // Where the markers are (CSS px in the plot area): for tests and for the curious.
        u.root.dataset.markers = marks.map((m) => m.x.toFixed(1)).join(" ");
      },
      setCursor: (u) => {
        const left = u.cursor.left;
        if (left === null || left === undefined || left < 0 || !marks.length) {
          tip.hidden = true;
          return;
        }
        // Every marker near the cursor (decisions seconds apart overlap), nearest and newest first.
        const dist = (m) => Math.round(Math.abs(m.x - left));
        const near = marks.filter((m) => dist(m) <= NEAR_PX).sort((a, b) => dist(a) - dist(b) || b.d.timestamp_ms - a.d.timestamp_ms);
        if (!near.length) {
          tip.hidden = true;
          return;
        }
        const best = near[0];
        tip.replaceChildren(
          ...near.slice(0, MAX_TIPS).map(({ d }) =>
            h(
              "div",
              { class: "tip-item" },
              h("strong", { text: tOr(`kind.${d.kind}`, d.kind) }),
              h("span", { text: fmt.dateTime(d.timestamp_ms) }),
              d.from !== null && d.from !== undefined ? h("span", { text: t("chart.fromTo", { from: d.from, to: d.to ?? "?" }) }) : null,
              d.reason ? h("span", { class: "tip-reason", text: d.reason }) : null,
              d.actor ? h("span", { class: "muted", text: t("chart.actor", { actor: d.actor }) }) : null,
            ),
          ),
          ...(near.length > MAX_TIPS ? [h("span", { class: "muted", text: t("chart.more", { count: near.length - MAX_TIPS }) })] : []),
        );
        tip.hidden = false;
        // The tip lives in the chart's figure (not clipped by the plot), beside the marker.
        const fig = tip.parentElement.getBoundingClientRect();
        const over = u.over.getBoundingClientRect();
        const x = over.left - fig.left + best.x + 10;
        tip.style.left = `${Math.max(0, Math.min(x, fig.width - tip.offsetWidth))}px`;
        tip.style.top = `${over.top - fig.top + 4}px`;
      },
    },
  };
}

/**
 * A chart of several series on one time axis. `lines`: [{label, values, color?, dash?}].
 * Answers {el, destroy, resize}.
 */
export function chart({ title, testid, timestamps, lines, yFormat, axis, decisions = [], rangeSeconds, integer = false, emptyMax = 1, xRange = null }) {
  const colors = palette();
  const plot = h("div", { class: "chart-plot" });
  const tip = h("div", { class: "chart-tip", role: "tooltip", "data-testid": "decision-tip" });
  tip.hidden = true;
  const el = h("figure", { class: "chart card", "data-testid": testid }, h("figcaption", { class: "chart-title", text: title }), plot);
  const opts = {
    width: 300,
    height: HEIGHT,
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true, range: xRange ? () => xRange : undefined }, y: { range: (u, min, max) => yRange(min, max, integer, emptyMax) } },
    axes: [
      { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid }, values: timeFormatter(rangeSeconds), space: 70 },
      {
        stroke: colors.text,
        grid: { stroke: colors.grid, width: 1 },
        ticks: { stroke: colors.grid },
        incrs: niceIncrs(axis.scale || 1, integer),
        values: (u, splits, axisIdx, space, incr) => splits.map((v) => axis(v, incr)),
        size: (u, values) => (values ? Math.max(3, ...values.map((v) => v.length)) * 7.5 + 16 : 40),
      },
    ],
    series: [
      { label: t("chart.time"), value: (u, ts) => (ts === null ? fmt.DASH : fmt.dateTime(ts * 1000)) },
      ...lines.map((l, i) => ({
        label: l.label,
        stroke: l.color || colors.series[i % colors.series.length],
        width: 1.5,
        dash: l.dash,
        spanGaps: false,
        points: { show: false },
        value: (u, v) => (v === null || v === undefined ? fmt.DASH : yFormat(v)),
      })),
    ],
    plugins: [decisionsPlugin(decisions, tip)],
  };
  const data = [timestamps, ...lines.map((l) => l.values)];
  const u = new uPlot(opts, data, plot);
  el.append(tip);
  const observer = new ResizeObserver(() => {
    const w = Math.max(200, Math.floor(plot.clientWidth));
    if (w !== u.width) u.setSize({ width: w, height: HEIGHT });
  });
  observer.observe(plot);
  return {
    el,
    uplot: u,
    destroy() {
      observer.disconnect();
      u.destroy();
    },
  };
}

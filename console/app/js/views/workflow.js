// The workflow viewer (#/workflows): each ticket type of the tenant file drawn in SVG (no library).
// Nodes are boxes laid out by layers (breadth-first from the start node, file order within a layer),
// edges carry the action label, a decision rule's condition or "default", dispatch's "no candidate";
// each node shows how many open tickets wait there (every page of GET /tickets?type=X&status=open).
// Nothing here depends on node names: generated tenants use any names.
import { html } from "../lib.js";
import { all } from "../api.js";
import { extend, t } from "../i18n.js";
import { Loading, useLoad } from "../ui.js";
import { edgesOf } from "../desk-ui.js";

extend({
  "zh-CN": { wf_open_here: "在途", wf_unreached: "（起点不可达）", wf_legend: "节点类型", wf_start: "起点" },
  en: { wf_open_here: "open", wf_unreached: "(not reachable from the start)", wf_legend: "Node kinds", wf_start: "start" },
});

const BOX_W = 150, BOX_H = 56, GAP_X = 100, GAP_Y = 40, PAD = 24, TOP = 70, BELOW = 64;

/** Layers by breadth-first search from the start; nodes not reached go to one last layer. */
export function layout(spec) {
  const names = Object.keys(spec.nodes);
  const depth = { [spec.start]: 0 };
  const queue = [spec.start];
  while (queue.length) {
    const name = queue.shift();
    for (const [, target] of edgesOf(spec.nodes[name] || {})) {
      if (target in spec.nodes && !(target in depth)) { depth[target] = depth[name] + 1; queue.push(target); }
    }
  }
  const deepest = Math.max(0, ...Object.values(depth));
  const layers = [];
  for (const name of names) {
    const d = name in depth ? depth[name] : deepest + 1;
    (layers[d] = layers[d] || []).push(name);
  }
  const filled = layers.filter(Boolean);
  const rows = Math.max(...filled.map((l) => l.length));
  const inner = rows * BOX_H + (rows - 1) * GAP_Y;
  const pos = {};
  filled.forEach((layer, col) => {
    const span = layer.length * BOX_H + (layer.length - 1) * GAP_Y;
    const y0 = TOP + (inner - span) / 2;
    layer.forEach((name, row) => {
      pos[name] = {
        x: PAD + col * (BOX_W + GAP_X), y: y0 + row * (BOX_H + GAP_Y), col, row, last: row === layer.length - 1,
        reached: name in depth,
      };
    });
  });
  return { pos, width: PAD * 2 + filled.length * BOX_W + (filled.length - 1) * GAP_X, height: TOP + inner + BELOW, bottom: TOP + inner };
}

function cut(text, n = 18) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

const mid = (a, b, c, d) => (a + 3 * b + 3 * c + d) / 8; // a cubic Bézier at t = 1/2

/** The path of one edge and where its label goes: forward to the next layers (right side to left
 * side), back to the previous layer (left to right, below the forward ones), back further (an arc
 * above or below the graph), within a layer (straight down or up). */
function route(from, to, index, bottom) {
  const shift = (index % 3) * 6;
  if (to.col > from.col) {
    const sx = from.x + BOX_W, sy = from.y + BOX_H / 2 - 8 + shift, tx = to.x, ty = to.y + BOX_H / 2 - 8 + shift;
    const c = (tx - sx) / 2;
    const d = `M${sx},${sy} C${sx + c},${sy} ${tx - c},${ty} ${tx},${ty}`;
    if (Math.abs(ty - sy) < 1) return { d, lx: (sx + tx) / 2, ly: sy - 5 };
    // a diagonal: the label near its start, so that crossing edges keep their labels apart
    return { d, lx: sx + 6, ly: sy + (ty - sy) * 0.22 + (ty < sy ? -4 : 12), anchor: "start" };
  }
  if (to.col === from.col) {
    const down = to.y > from.y;
    const sx = from.x + BOX_W / 2 + (down ? -20 : 20) - shift, tx = sx;
    const sy = down ? from.y + BOX_H : from.y, ty = down ? to.y : to.y + BOX_H;
    return { d: `M${sx},${sy} L${tx},${ty}`, lx: sx + 6, ly: (sy + ty) / 2 + 4, anchor: "start" };
  }
  if (from.col - to.col === 1) {
    const sx = from.x, sy = from.y + BOX_H / 2 + 12 + shift, tx = to.x + BOX_W, ty = to.y + BOX_H / 2 + 12 + shift;
    const c = (sx - tx) / 2;
    const d = `M${sx},${sy} C${sx - c},${sy} ${tx + c},${ty} ${tx},${ty}`;
    if (Math.abs(ty - sy) < 1) return { d, lx: (sx + tx) / 2, ly: sy + 14 };
    return { d, lx: sx - 4, ly: sy + (ty - sy) * 0.1 + (ty < sy ? 14 : -5), anchor: "end" };
  }
  const below = from.last;
  const sx = from.x + BOX_W / 2 + 14, tx = to.x + BOX_W / 2 - 14;
  const sy = below ? from.y + BOX_H : from.y, ty = below ? to.y + BOX_H : to.y;
  const level = below ? bottom + 16 + 14 * (index % 3) : TOP - 16 - 14 * (index % 3);
  const c = level + (level - (sy + ty) / 2) / 3; // the curve's middle reaches `level`
  return {
    d: `M${sx},${sy} C${sx},${c} ${tx},${c} ${tx},${ty}`,
    lx: mid(sx, sx, tx, tx), ly: mid(sy, c, c, ty) + (below ? 12 : -4),
  };
}

function Edge({ from, to, label, kind, index, marker, bottom }) {
  const { d, lx, ly, anchor } = route(from, to, index, bottom);
  return html`<g class=${`edge edge-${kind}`} data-edge=${label || kind}>
    <path d=${d} marker-end=${`url(#${marker})`} />
    ${label && html`<text x=${lx} y=${ly} text-anchor=${anchor || "middle"} class="edge-label"><title>${label}</title>${cut(label, kind === "rule" ? 16 : 22)}</text>`}
  </g>`;
}

function Graph({ typeId, spec, counts }) {
  const { pos, width, height, bottom } = layout(spec);
  const marker = `arrow-${typeId.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  const edges = [];
  const seen = {};
  for (const [name, node] of Object.entries(spec.nodes)) {
    for (const [label, target, kind] of edgesOf(node)) {
      if (!(target in pos)) continue;
      // several ways from one node to the same node: one edge with their labels joined
      const twin = edges.find((e) => e.from === name && e.to === target && e.kind === kind);
      if (twin) { twin.label = twin.label && label ? `${twin.label} / ${label}` : twin.label || label; continue; }
      const pair = [name, target].sort().join("→") + (pos[target].col < pos[name].col - 1 ? "far" : "");
      const far = pos[target].col < pos[name].col - 1 ? `far${pos[name].last ? "b" : "a"}` : pair;
      seen[far] = (seen[far] || 0) + 1;
      edges.push({ from: name, to: target, label, kind, index: seen[far] - 1 });
    }
  }
  return html`<div class="graph-wrap"><svg class="workflow" data-workflow=${typeId} viewBox=${`0 0 ${width} ${height}`}
      width="100%" style=${`max-width:${width}px`} role="img" aria-label=${spec.name || typeId}>
    <defs><marker id=${marker} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M0,0 L10,5 L0,10 z" class="arrow" /></marker></defs>
    ${edges.map((e) => html`<${Edge} from=${pos[e.from]} to=${pos[e.to]} label=${e.label} kind=${e.kind} index=${e.index} marker=${marker} bottom=${bottom} />`)}
    ${Object.entries(spec.nodes).map(([name, node]) => {
      const p = pos[name];
      const open = counts[name] || 0;
      return html`<g class=${`node kind-${node.kind}${name === spec.start ? " start" : ""}${open ? " busy" : ""}${p.reached ? "" : " unreached"}`}
          data-node=${name} data-kind=${node.kind} data-open=${open} transform=${`translate(${p.x},${p.y})`}>
        <title>${name}${node.label ? ` (${node.label})` : ""} · ${node.kind}${p.reached ? "" : ` ${t("wf_unreached")}`}</title>
        <rect width=${BOX_W} height=${BOX_H} rx=${node.kind === "decision" ? 18 : node.kind === "end" ? 28 : 6} />
        <text x="10" y="24" class="node-name">${cut(node.label || name, 17)}</text>
        <text x="10" y="44" class="node-kind">${node.kind}${name === spec.start ? ` · ${t("wf_start")}` : ""}</text>
        <g class="count" transform=${`translate(${BOX_W - 17},${BOX_H - 17})`}>
          <circle r="12" cy="0" /><text y="4" text-anchor="middle" data-count=${name}>${open}</text></g>
      </g>`;
    })}
  </svg></div>`;
}

async function openCounts(definition) {
  const out = {};
  await Promise.all(Object.keys(definition.ticket_types).map(async (type) => {
    const items = await all(`/tickets?type=${encodeURIComponent(type)}&status=open&limit=100`, 100000);
    const counts = {};
    for (const tk of items) counts[tk.node] = (counts[tk.node] || 0) + 1;
    out[type] = counts;
  }));
  return out;
}

export function Workflows({ definition }) {
  const [counts, error] = useLoad(() => openCounts(definition), [definition.tenant.id]);
  const kinds = [...new Set(Object.values(definition.ticket_types).flatMap((s) => Object.values(s.nodes).map((n) => n.kind)))];
  return html`<section class="workflows" data-view="workflows">
    <h1>${t("workflows")}</h1>
    <p class="legend">${t("wf_legend")}: ${kinds.map((k) => html`<span class=${`chip kind-${k}`}>${k}</span>`)}
      <span class="chip count-chip">n</span> ${t("open_tickets")}</p>
    ${error && html`<${Loading} error=${error} />`}
    ${Object.entries(definition.ticket_types).map(([id, spec]) => html`<article class="card workflow-card" data-type=${id}>
      <h2>${spec.name || id} <small>${id}</small>
        ${counts && html` · <span class="muted">${t("open_tickets")}: <span data-open-total=${id}>${Object.values(counts[id] || {}).reduce((a, b) => a + b, 0)}</span></span>`}</h2>
      ${counts || error ? html`<${Graph} typeId=${id} spec=${spec} counts=${(counts || {})[id] || {}} />`
        : html`<p class="muted">${t("loading")}</p>`}
    </article>`)}
  </section>`;
}

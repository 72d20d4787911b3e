/**
 * Draws a machine from its `toJSON()` definition (`GET /api/machines`) as an SVG: a box per state,
 * an arrow per transition with a target (labelled with its event and guard), and highlights the
 * selected agent's current state and the transition it took last.
 */
import { s } from './dom.js';
import { stateLabel } from './format.js';

const BOX_W = 116;
const BOX_H = 40;
const VIEW_W = 500;
const VIEW_H = 340;

/** Where the breaker's states go; any other machine is laid out on a circle. */
const KNOWN_LAYOUT = {
  closed: { x: 90, y: 150 },
  open: { x: 300, y: 40 },
  half_open: { x: 300, y: 240 },
  isolated: { x: 4, y: 280 },
};
const ANY = '(any state)';

/** `xstate.after.backoff.circuitBreaker.open` → `after backoff`. */
function eventLabel(transition) {
  const type = transition.eventType ?? '';
  if (type.startsWith('xstate.after.')) return `after ${transition.delay ?? type.split('.')[2]}`;
  if (type === '') return 'always';
  return type;
}

/** The guard's most specific part: `and(isCurrentGeneration, failureThresholdReached)` → `failureThresholdReached`. */
function guardLabel(guard) {
  if (typeof guard !== 'string' || guard === '') return '';
  const inner = /^\w+\((.*)\)$/.exec(guard);
  const parts = (inner ? inner[1] : guard).split(',').map((p) => p.trim());
  const meaningful = parts.filter((p) => p !== 'isCurrentGeneration');
  return (meaningful.length > 0 ? meaningful : parts).at(-1);
}

/** Collects `{ from, to, labels, guards }` edges, merged per (from, to). */
function edgesOf(machine) {
  const keyById = new Map();
  for (const [key, node] of Object.entries(machine.states ?? {})) keyById.set(`#${node.id}`, key);
  const edges = new Map();
  const add = (from, transition) => {
    for (const target of transition.target ?? []) {
      const to = keyById.get(target);
      if (to === undefined) continue;
      const id = `${from}→${to}`;
      let edge = edges.get(id);
      if (edge === undefined) {
        edge = { from, to, labels: [], titles: [] };
        edges.set(id, edge);
      }
      const guard = guardLabel(transition.guard);
      const label = { event: eventLabel(transition), guard };
      if (!edge.labels.some((l) => l.event === label.event && l.guard === label.guard)) edge.labels.push(label);
      edge.titles.push(transition.guard ? `${eventLabel(transition)} if ${transition.guard}` : eventLabel(transition));
    }
  };
  for (const transition of machine.transitions ?? []) add(ANY, transition);
  for (const [key, node] of Object.entries(machine.states ?? {})) {
    for (const transition of node.transitions ?? []) add(key, transition);
  }
  return [...edges.values()];
}

function layout(keys) {
  const positions = new Map();
  const unknown = keys.filter((k) => !(k in KNOWN_LAYOUT));
  if (unknown.length === 0) {
    for (const key of keys) positions.set(key, KNOWN_LAYOUT[key]);
  } else {
    keys.forEach((key, i) => {
      const angle = (2 * Math.PI * i) / keys.length - Math.PI / 2;
      positions.set(key, {
        x: VIEW_W / 2 - BOX_W / 2 + Math.cos(angle) * (VIEW_W / 2 - BOX_W / 2 - 10),
        y: VIEW_H / 2 - BOX_H / 2 + Math.sin(angle) * (VIEW_H / 2 - BOX_H / 2 - 10),
      });
    });
  }
  positions.set(ANY, { x: 4, y: 8 });
  return positions;
}

/** The point where the line from the centre of `box` towards (tx, ty) leaves the box. */
function border(box, tx, ty) {
  const cx = box.x + BOX_W / 2;
  const cy = box.y + BOX_H / 2;
  const dx = tx - cx;
  const dy = ty - cy;
  const scale = 1 / Math.max(Math.abs(dx) / (BOX_W / 2), Math.abs(dy) / (BOX_H / 2), 1e-9);
  return { x: cx + dx * scale, y: cy + dy * scale };
}

/**
 * @param {HTMLElement} container
 * @param {object} machine a `toJSON()` definition
 */
export function createStatechart(container, machine) {
  const keys = Object.keys(machine.states ?? {});
  const positions = layout(keys);
  const edges = edgesOf(machine);
  const boxes = new Map();
  const arrows = new Map();
  const defs = s(
    'defs',
    {},
    s(
      'marker',
      { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }),
    ),
  );
  const svg = s('svg', { viewBox: `0 0 ${VIEW_W} ${VIEW_H}`, class: 'statechart', role: 'img' }, defs);
  svg.append(s('title', {}, `Statechart of ${machine.id ?? 'the machine'}`));

  const hasAny = edges.some((e) => e.from === ANY);
  const nodes = hasAny ? [...keys, ANY] : keys;
  for (const edge of edges) {
    const a = positions.get(edge.from);
    const b = positions.get(edge.to);
    const reverse = edges.some((e) => e.from === edge.to && e.to === edge.from && e !== edge);
    let path;
    let labelAt;
    let anchor = 'middle';
    if (edge.from === edge.to) {
      const x = a.x + BOX_W - 20;
      const y = a.y + BOX_H;
      path = `M${x},${y} C${x + 40},${y + 40} ${x - 40},${y + 40} ${x - 10},${y + 2}`;
      labelAt = { x: x - 10, y: y + 42 };
    } else {
      const ca = { x: a.x + BOX_W / 2, y: a.y + BOX_H / 2 };
      const cb = { x: b.x + BOX_W / 2, y: b.y + BOX_H / 2 };
      // Two arrows between the same pair bend apart.
      const bend = reverse ? 28 : 0;
      const len = Math.hypot(cb.x - ca.x, cb.y - ca.y) || 1;
      const nx = -(cb.y - ca.y) / len;
      const ny = (cb.x - ca.x) / len;
      const control = { x: (ca.x + cb.x) / 2 + nx * bend, y: (ca.y + cb.y) / 2 + ny * bend };
      const start = border(a, control.x, control.y);
      const end = border(b, control.x, control.y);
      path = `M${start.x.toFixed(1)},${start.y.toFixed(1)} Q${control.x.toFixed(1)},${control.y.toFixed(1)} ${end.x.toFixed(1)},${end.y.toFixed(1)}`;
      labelAt = { x: (start.x + 2 * control.x + end.x) / 4, y: (start.y + 2 * control.y + end.y) / 4 };
      // A bent arrow's labels sit on its outer side.
      if (bend !== 0 && Math.abs(nx) > 0.3) {
        anchor = nx > 0 ? 'start' : 'end';
        labelAt.x += nx * 6;
      }
    }
    const lines = edge.labels.flatMap((label) => [
      { text: label.event, kind: 'edge-label' },
      ...(label.guard ? [{ text: `[${label.guard}]`, kind: 'edge-label edge-guard' }] : []),
    ]);
    const top = labelAt.y - ((lines.length - 1) * 11) / 2;
    const group = s(
      'g',
      { class: edge.from === ANY ? 'edge edge-any' : 'edge', 'data-from': edge.from, 'data-to': edge.to },
      s('title', {}, edge.titles.join('\n')),
      s('path', { d: path, 'marker-end': 'url(#arrow)' }),
      ...lines.map((line, i) =>
        s(
          'text',
          { x: labelAt.x.toFixed(1), y: (top + 3 + i * 11).toFixed(1), 'text-anchor': anchor, class: line.kind },
          line.text,
        ),
      ),
    );
    svg.append(group);
    arrows.set(`${edge.from}→${edge.to}`, group);
  }
  for (const key of nodes) {
    const p = positions.get(key);
    const box = s(
      'g',
      { class: key === ANY ? 'state state-any' : 'state', 'data-state': key },
      s('rect', { x: p.x, y: p.y, width: BOX_W, height: BOX_H, rx: '8' }),
      s('text', { x: p.x + BOX_W / 2, y: p.y + BOX_H / 2 + 4, 'text-anchor': 'middle' }, stateLabel(key)),
    );
    svg.append(box);
    boxes.set(key, box);
  }
  container.replaceChildren(svg);

  return {
    /** Highlights `state` (or nothing). */
    setState(state) {
      for (const [key, box] of boxes) box.classList.toggle('current', key === state);
    },
    /** Marks the arrow of the last transition taken. */
    setLast(from, to) {
      for (const [id, arrow] of arrows) arrow.classList.toggle('last', id === `${from}→${to}`);
    },
  };
}

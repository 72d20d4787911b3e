/**
 * The live dashboard: loads the breaker machine from `api/machines`, then follows
 * `api/circuit-breaker/events` (SSE). URLs are relative, so the page works wherever the handler is
 * mounted (`/`, `/dashboard/`, …).
 */
import { h, replaceChildren, setText } from './dom.js';
import { count } from './format.js';
import { addFailure, addTransition } from './logs.js';
import { createStatechart } from './statechart.js';
import { Tiles } from './tiles.js';

const $ = (id) => document.getElementById(id);

const state = {
  selected: undefined,
  /** Last transition per agent: drawn on the statechart when that agent is selected. */
  lastTransition: new Map(),
  chart: undefined,
};

const tiles = new Tiles($('tiles'), select);

function select(id) {
  state.selected = id;
  tiles.select(id);
  setText($('chart-agent'), id === undefined ? '' : `· ${id}`);
  drawSelection();
}

function drawSelection() {
  if (state.chart === undefined) return;
  const id = state.selected;
  state.chart.setState(id === undefined ? undefined : tiles.stateOf(id));
  const last = id === undefined ? undefined : state.lastTransition.get(id);
  state.chart.setLast(last?.from, last?.to);
}

function renderSummary(frame) {
  const { health, tasks, failovers } = frame;
  const item = (label, value, kind) =>
    h('span', { class: `summary-item${kind ? ` summary-${kind}` : ''}` }, h('b', {}, count(value)), ` ${label}`);
  replaceChildren(
    $('summary'),
    item('agents', health.total_agents),
    item('healthy', health.healthy_agents, 'closed'),
    item('open', health.open_circuits, 'open'),
    item('half-open', health.half_open_circuits, 'half_open'),
    item('isolated', health.isolated_circuits, 'isolated'),
    item('routed', health.routing_events),
    item('tasks ok', tasks.succeeded),
    item('tasks failed', tasks.failed + tasks.rejected),
    item('failovers', failovers),
  );
  const bar = $('health-bar');
  const total = Math.max(1, health.total_agents);
  const segment = (n, kind) => h('span', { class: `segment segment-${kind}`, 'data-share': n / total });
  replaceChildren(
    bar,
    segment(health.healthy_agents, 'closed'),
    segment(health.half_open_circuits, 'half_open'),
    segment(health.open_circuits, 'open'),
    segment(health.isolated_circuits, 'isolated'),
  );
  // Widths through the CSSOM (inline style attributes would need 'unsafe-inline' in the CSP).
  for (const el of bar.children) el.style.flexGrow = el.getAttribute('data-share');
}

function onFrame(frame) {
  const now = performance.now();
  renderSummary(frame);
  const total = frame.agents_total;
  setText(
    $('hint'),
    `${total > frame.agents.length ? `The ${frame.agents.length} worst of ${total} agents. ` : ''}Sorted by error rate, then volume. Select a tile to follow it in the statechart.`,
  );
  tiles.update(frame.agents, now);
  if (state.selected === undefined || tiles.stateOf(state.selected) === undefined) {
    const first = frame.agents.find((a) => a.state !== 'closed') ?? frame.agents[0];
    if (first !== undefined) select(first.agent_id);
  }
  drawSelection();
  document.body.setAttribute('data-updated', String(Date.now()));
}

function onTransition(transition) {
  tiles.transition(transition, performance.now());
  state.lastTransition.set(transition.agent_id, transition);
  addTransition($('transitions'), transition);
  drawSelection();
}

function setConnection(status, text) {
  const el = $('connection');
  el.setAttribute('data-status', status);
  setText(el, text);
}

function connect() {
  const source = new EventSource('api/circuit-breaker/events');
  const parse = (handler) => (event) => {
    try {
      handler(JSON.parse(event.data));
    } catch (error) {
      console.error('breakerbox: bad event', error);
    }
  };
  source.addEventListener('open', () => setConnection('live', 'live'));
  source.addEventListener('error', () => setConnection('reconnecting', 'reconnecting…'));
  source.addEventListener('frame', parse(onFrame));
  source.addEventListener('transition', parse(onTransition));
  source.addEventListener(
    'failure',
    parse((failure) => addFailure($('failures'), failure)),
  );
  source.addEventListener('end', () => {
    source.close();
    setConnection('ended', 'supervisor stopped');
  });
}

async function loadMachine() {
  try {
    const response = await fetch('api/machines', { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const machines = await response.json();
    if (machines.circuitBreaker) state.chart = createStatechart($('chart'), machines.circuitBreaker);
    drawSelection();
  } catch (error) {
    setText($('chart'), `Could not load the statechart: ${error.message}`);
  }
}

function tick() {
  tiles.tick(performance.now());
}

loadMachine();
connect();
setInterval(tick, 100);

/**
 * One tile per agent, coloured by state (green closed, red open, yellow half-open, grey isolated),
 * in Hystrix's order: error rate, then volume. Tiles are kept and updated in place.
 */
import { h, setText } from './dom.js';
import { count, duration, percent, stateLabel } from './format.js';
import { createSparkline, RateHistory } from './sparkline.js';

/** With no frame for this long, the sparkline records a zero rate. */
const IDLE_POINT_MS = 1500;

export class Tiles {
  /**
   * @param {HTMLElement} container
   * @param {(id: string) => void} onSelect
   */
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    /** @type {Map<string, ReturnType<typeof createTile>>} */
    this.tiles = new Map();
    this.selected = undefined;
  }

  /** Applies a frame's rows, received at `now` (performance.now()). */
  update(agents, now) {
    const seen = new Set();
    for (const agent of agents) {
      seen.add(agent.agent_id);
      let tile = this.tiles.get(agent.agent_id);
      if (tile === undefined) {
        tile = createTile(agent.agent_id, () => this.onSelect(agent.agent_id));
        this.tiles.set(agent.agent_id, tile);
      }
      tile.update(agent, now);
    }
    for (const [id, tile] of this.tiles) {
      if (!seen.has(id)) {
        tile.element.remove();
        this.tiles.delete(id);
      }
    }
    this.sort();
    this.markSelected();
  }

  /** A transition, applied at once (the next frame confirms it). */
  transition(event, now) {
    this.tiles.get(event.agent_id)?.setState(event.to, event.retry_after_ms, now);
  }

  /** Redraws the countdowns of open circuits. */
  tick(now) {
    for (const tile of this.tiles.values()) tile.tick(now);
  }

  select(id) {
    this.selected = id;
    this.markSelected();
  }

  /** The state of an agent's tile, or undefined. */
  stateOf(id) {
    return this.tiles.get(id)?.state;
  }

  sort() {
    const ordered = [...this.tiles.values()].sort(
      (a, b) => b.errorRate - a.errorRate || b.calls - a.calls || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    const current = [...this.container.children];
    if (ordered.length === current.length && ordered.every((tile, i) => tile.element === current[i])) return;
    this.container.replaceChildren(...ordered.map((tile) => tile.element));
  }

  markSelected() {
    for (const [id, tile] of this.tiles) tile.element.setAttribute('aria-pressed', String(id === this.selected));
  }
}

function createTile(id, onSelect) {
  const name = h('span', { class: 'name', title: id }, id);
  const badge = h('span', { class: 'badge' });
  const countdown = h('div', { class: 'countdown' });
  const cells = {
    successful: h('dd'),
    failed: h('dd'),
    timeout: h('dd'),
    not_permitted: h('dd'),
    error_rate: h('dd'),
    rate: h('dd'),
  };
  const labels = {
    successful: 'success',
    failed: 'failure',
    timeout: 'timeout',
    not_permitted: 'rejected',
    error_rate: 'error rate',
    rate: 'req/s',
  };
  const spark = createSparkline();
  const history = new RateHistory();
  const element = h(
    'article',
    { class: 'tile', role: 'button', tabindex: '0', 'data-agent': id, 'aria-pressed': 'false' },
    h('header', {}, name, badge),
    countdown,
    h(
      'dl',
      { class: 'counts' },
      ...Object.keys(cells).map((key) => h('div', {}, h('dt', {}, labels[key]), cells[key])),
    ),
    spark.element,
  );
  element.addEventListener('click', onSelect);
  element.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onSelect();
    }
  });

  const tile = {
    id,
    element,
    state: undefined,
    errorRate: 0,
    calls: 0,
    probeAt: undefined,
    update(agent, now) {
      tile.errorRate = agent.error_rate;
      tile.calls = agent.calls;
      setText(cells.successful, count(agent.successful));
      setText(cells.failed, count(agent.failed));
      setText(cells.timeout, count(agent.timeout));
      setText(cells.not_permitted, count(agent.not_permitted));
      setText(cells.error_rate, percent(agent.error_rate));
      history.record(agent.calls, now);
      setText(cells.rate, history.rate.toFixed(1));
      spark.draw(history);
      tile.setState(agent.state, agent.retry_after_ms, now);
    },
    setState(state, retryAfterMs, now) {
      tile.state = state;
      element.setAttribute('data-state', state);
      setText(badge, stateLabel(state));
      tile.probeAt = state === 'open' && typeof retryAfterMs === 'number' ? now + retryAfterMs : undefined;
      tile.tick(now);
    },
    tick(now) {
      // No frame for a while (nothing changed): the rate was zero; keep the sparkline moving.
      if (history.sinceLast(now) >= IDLE_POINT_MS && history.last !== undefined) {
        history.record(history.last.calls, now);
        setText(cells.rate, history.rate.toFixed(1));
        spark.draw(history);
      }
      if (tile.state === 'open') {
        const left = tile.probeAt === undefined ? 0 : tile.probeAt - now;
        setText(countdown, left > 0 ? `next probe in ${duration(left)}` : 'probe due');
      } else if (tile.state === 'half_open') setText(countdown, 'probing');
      else if (tile.state === 'isolated') setText(countdown, 'isolated by hand');
      else setText(countdown, '');
    },
  };
  return tile;
}

/** The failure timeline and the transition log: newest first, bounded. */
import { h } from './dom.js';
import { clockTime, stateLabel } from './format.js';

const MAX_ITEMS = 60;

function prepend(list, item) {
  list.prepend(item);
  while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
}

export function addFailure(list, failure) {
  prepend(
    list,
    h(
      'li',
      { class: `failure kind-${failure.kind === 'timeout' ? 'timeout' : 'failed'}` },
      h('time', { datetime: failure.timestamp }, clockTime(failure.timestamp)),
      ' ',
      h('span', { class: 'agent' }, failure.agent_id),
      ' ',
      h('span', { class: 'task' }, failure.task_id),
      ' ',
      h('span', { class: 'reason' }, failure.reason),
    ),
  );
}

export function addTransition(list, transition) {
  prepend(
    list,
    h(
      'li',
      { class: 'transition', 'data-to': transition.to },
      h('time', { datetime: transition.timestamp }, clockTime(transition.timestamp)),
      ' ',
      h('span', { class: 'agent' }, transition.agent_id),
      ' ',
      h('span', { class: `state-chip state-${transition.from}` }, stateLabel(transition.from)),
      ' → ',
      h('span', { class: `state-chip state-${transition.to}` }, stateLabel(transition.to)),
      ' ',
      h('span', { class: 'reason' }, transition.reason),
    ),
  );
}

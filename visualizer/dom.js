/**
 * Building DOM without HTML strings: every text goes through `textContent` and every attribute
 * through `setAttribute`, so an agent id like `<img src=x onerror=alert(1)>` stays text.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * `h('div', { class: 'tile' }, 'text', child)`: an element with attributes and children.
 * Strings become text nodes; null and undefined children are skipped.
 */
export function h(tag, attributes = {}, ...children) {
  return fill(document.createElement(tag), attributes, children);
}

/** The same for SVG elements. */
export function s(tag, attributes = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children);
}

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    element.append(
      typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child,
    );
  }
  return element;
}

/** Sets an element's text if it changed (no layout work when it did not). */
export function setText(element, text) {
  const value = String(text);
  if (element.textContent !== value) element.textContent = value;
}

/** Replaces an element's children. */
export function replaceChildren(element, ...children) {
  element.replaceChildren(...children.filter((c) => c !== undefined && c !== null));
}

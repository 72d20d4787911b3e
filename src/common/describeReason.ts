/**
 * A readable, bounded reason for anything a call can fail with: an Error, a string, `undefined`,
 * a frozen object, a 1 MB message. Reasons end up in logs, metrics and the dashboard, so they are
 * capped in length and never throw.
 */
export const MAX_REASON_LENGTH = 500;

export function describeReason(error: unknown): string {
  let text: string;
  try {
    if (error instanceof Error) text = error.message || error.name || 'Error';
    else if (typeof error === 'string') text = error || 'rejected with an empty string';
    else if (error === undefined) text = 'rejected with undefined';
    else if (error === null) text = 'rejected with null';
    else if (typeof error === 'object') {
      const message = (error as { message?: unknown }).message;
      text = typeof message === 'string' ? message : `rejected with ${safeJson(error)}`;
    } else text = `rejected with ${String(error)}`;
  } catch {
    text = 'rejected with an unreadable value';
  }
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH)}… (${text.length} chars)` : text;
}

function safeJson(value: object): string {
  try {
    return JSON.stringify(value) ?? Object.prototype.toString.call(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

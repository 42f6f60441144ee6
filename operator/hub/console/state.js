// What the pages share: who is logged in, and how a page stops its polling
// when the user leaves it.

// The user behind the token (GET /api/v1/me): what to show, not what is
// allowed — the API checks every call itself.
export const session = { me: null };

export function isOperator() {
  return !!session.me && session.me.role === 'operator';
}

let leave = () => {};
// A page registers what stops it (timers) when it is left.
export function onLeave(fn) { leave = fn; }
export function leaveCurrent() {
  const fn = leave;
  leave = () => {};
  fn();
}

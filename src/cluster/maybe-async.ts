/**
 * A seam's answer: at once when the backend is in this process (memory), later when it is not
 * (Redis). Callers chain with `after` so that an in-process answer costs no promise and no
 * microtask turn on the per-message path.
 */
export type MaybeAsync<T> = T | Promise<T>;

/** `f(value)` now if the value is here, else when it arrives. */
export function after<T, U>(value: MaybeAsync<T>, f: (v: T) => MaybeAsync<U>): MaybeAsync<U> {
  return value instanceof Promise ? value.then<U>(f) : f(value);
}

/** Runs `f`, passing what it throws now or rejects with later through `mapError`. */
export function mapFailure<T>(f: () => MaybeAsync<T>, mapError: (err: unknown) => unknown): MaybeAsync<T> {
  let result: MaybeAsync<T>;
  try {
    result = f();
  } catch (err) {
    throw mapError(err);
  }
  return result instanceof Promise
    ? result.catch((err: unknown) => {
        throw mapError(err);
      })
    : result;
}
